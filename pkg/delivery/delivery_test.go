package delivery

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/dtbridge/dtbridge/pkg/doubletick"
	"github.com/dtbridge/dtbridge/pkg/subject"
)

var update = flag.Bool("update", false, "rewrite the golden envelopes under testdata/golden")

const testdata = "../../testdata"

var receivedAt = time.Date(2026, 11, 23, 10, 15, 2, 123456000, time.UTC)

func newTestConverter(t testing.TB) *Converter {
	t.Helper()
	tmpl, err := subject.NewTemplate("", "doubletick")
	if err != nil {
		t.Fatal(err)
	}
	return NewConverter(doubletick.Default(), tmpl, "https://bridge.example.com",
		WithIDSource(func() string { return "0192f7c2-8a1e-7b3c-9d4e-5f6a7b8c9d0e" }))
}

type fixture struct {
	event, name, path string
	body              []byte
}

func fixtures(t testing.TB) []fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(testdata, "fixtures", "*", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures found: %v", err)
	}
	var out []fixture
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fixture{
			event: filepath.Base(filepath.Dir(p)),
			name:  strings.TrimSuffix(filepath.Base(p), ".json"),
			path:  p, body: b,
		})
	}
	return out
}

// schemas compiles every embedded schema with a maintained JSON Schema
// (draft 2020-12) validator.
func schemas(t testing.TB, c *Converter) map[string]*jsonschema.Schema {
	t.Helper()
	names := append(doubletick.SchemaNames(), QuarantineSchema)
	comp := jsonschema.NewCompiler()
	for _, n := range names {
		b, ok := c.Schema(n)
		if !ok {
			t.Fatalf("schema %s not served", n)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("schema %s: %v", n, err)
		}
		if err := comp.AddResource("urn:dtbridge:schema:"+n, doc); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, n := range names {
		s, err := comp.Compile("urn:dtbridge:schema:" + n)
		if err != nil {
			t.Fatalf("compile %s: %v", n, err)
		}
		out[n] = s
	}
	return out
}

// TestConformance runs every fixture of every event in the table through the
// same checks: explicit and inferred routes agree, the envelope validates,
// data validates against its schema, data.raw is the delivery byte for byte,
// and the envelope matches its golden file.
func TestConformance(t *testing.T) {
	c := newTestConverter(t)
	table := doubletick.Default()
	compiled := schemas(t, c)
	for _, fx := range fixtures(t) {
		spec, err := table.Lookup(fx.event)
		if err != nil {
			continue // not in the table yet: see TestUnknownEventsNeverMisfiled
		}
		t.Run(fx.event+"/"+fx.name, func(t *testing.T) {
			d := Delivery{Event: fx.event, Body: fx.body, ReceivedAt: receivedAt}
			m, err := c.Convert(d)
			if err != nil {
				t.Fatalf("explicit route: %v", err)
			}
			if m.Event.Type != spec.CEType() || m.MsgID != m.Event.DedupKey {
				t.Errorf("type %q msgid %q, want %q and the dedupkey", m.Event.Type, m.MsgID, spec.CEType())
			}
			if err := m.Event.Validate(); err != nil {
				t.Errorf("envelope invalid: %v", err)
			}
			var data struct{ Raw json.RawMessage }
			if err := json.Unmarshal(m.Event.Data, &data); err != nil {
				t.Fatal(err)
			}
			// The stored bytes hold the delivery verbatim (whitespace included);
			// decoded, data.raw is the delivery's JSON value.
			if !bytes.Contains(m.Encoded, []byte(`"raw":`+string(fx.body))) || !bytes.Equal(data.Raw, bytes.TrimSpace(fx.body)) {
				t.Errorf("data.raw is not the delivery byte for byte")
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Event.Data))
			if err != nil {
				t.Fatal(err)
			}
			if err := compiled[spec.SchemaName()].Validate(inst); err != nil {
				t.Errorf("data does not match %s: %v", spec.SchemaName(), err)
			}

			inferred, err := c.Convert(Delivery{Body: fx.body, ReceivedAt: receivedAt})
			if err != nil {
				t.Fatalf("inferred route: %v", err)
			}
			if inferred.Subject != m.Subject || inferred.Event.Type != m.Event.Type || inferred.MsgID != m.MsgID {
				t.Errorf("inferred route gives %s %s %s, explicit %s %s %s",
					inferred.Subject, inferred.Event.Type, inferred.MsgID, m.Subject, m.Event.Type, m.MsgID)
			}
			checkGolden(t, filepath.Join(testdata, "golden", fx.event, fx.name+".envelope.json"), m.Encoded)
		})
	}
}

func checkGolden(t *testing.T, path string, encoded []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, encoded, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run: go test ./pkg/delivery -update)", err)
	}
	if !bytes.Equal(want, pretty.Bytes()) {
		t.Errorf("envelope differs from %s (if intended, regenerate with -update):\n got: %s\nwant: %s", path, pretty.Bytes(), want)
	}
}

// TestSeedEnvelope pins the contract §4 example: the Instagram close event.
func TestSeedEnvelope(t *testing.T) {
	c := newTestConverter(t)
	body, err := os.ReadFile(filepath.Join(testdata, "fixtures", "CLOSE_CONVERSATION", "instagram.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Convert(Delivery{Event: "CLOSE_CONVERSATION", Body: body, ReceivedAt: receivedAt})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "doubletick.instagram.conversation.closed" {
		t.Errorf("subject %q", m.Subject)
	}
	e := m.Event
	for _, tc := range []struct{ name, got, want string }{
		{"source", e.Source, "doubletick/instagram/your_business_handle"},
		{"type", e.Type, "io.doubletick.conversation.closed.v1"},
		{"subject", e.Subject, "customer_Ehrc3Ls7kS"},
		{"dataschema", e.DataSchema, "https://bridge.example.com/v1/schemas/doubletick.conversation.closed.v1"},
		{"channel", e.Channel, "instagram"},
		{"time", e.Time.String(), receivedAt.String()}, // no time in the payload: receive time
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	var data map[string]any
	if err := json.Unmarshal(e.Data, &data); err != nil {
		t.Fatal(err)
	}
	wantCustomer := map[string]any{"id": "customer_Ehrc3Ls7kS", "name": "Abhishek", "handle": "abhishxo", "phone": nil}
	if fmt.Sprint(data["customer"]) != fmt.Sprint(wantCustomer) {
		t.Errorf("customer = %v, want %v", data["customer"], wantCustomer)
	}
	if fmt.Sprint(data["business"]) != fmt.Sprint(map[string]any{"handle": "your_business_handle"}) {
		t.Errorf("business = %v", data["business"])
	}
}

// TestUnknownEventsNeverMisfiled: a fixture of an event the table does not
// know is quarantined on the inferred route and 404 on its own URL; it is
// never stored as some other event.
func TestUnknownEventsNeverMisfiled(t *testing.T) {
	c := newTestConverter(t)
	table := doubletick.Default()
	for _, fx := range fixtures(t) {
		if _, err := table.Lookup(fx.event); err == nil {
			continue
		}
		t.Run(fx.event+"/"+fx.name, func(t *testing.T) {
			if _, err := c.Convert(Delivery{Event: fx.event, Body: fx.body, ReceivedAt: receivedAt}); !errors.Is(err, doubletick.ErrUnknownEvent) {
				t.Errorf("explicit route: err = %v, want ErrUnknownEvent", err)
			}
			if m, err := c.Convert(Delivery{Body: fx.body, ReceivedAt: receivedAt}); !errors.Is(err, doubletick.ErrUnclassified) {
				t.Errorf("inferred route: err = %v (type %q), want ErrUnclassified", err, m.Event.Type)
			}
		})
	}
}

func TestDedupKey(t *testing.T) {
	c := newTestConverter(t)
	a := []byte(`{"dtCustomerId":"customer_1","to":"+91900","closeConversation":true}`)
	reordered := []byte("{\n  \"closeConversation\": true,\n  \"to\": \"+91900\",\n  \"dtCustomerId\": \"customer_1\"\n}\n")
	other := []byte(`{"dtCustomerId":"customer_2","to":"+91900","closeConversation":true}`)
	key := func(event string, body []byte) string {
		t.Helper()
		m, err := c.Convert(Delivery{Event: event, Body: body, ReceivedAt: receivedAt})
		if err != nil {
			t.Fatal(err)
		}
		return m.MsgID
	}
	k := key("CLOSE_CONVERSATION", a)
	if k2 := key("CLOSE_CONVERSATION", reordered); k2 != k {
		t.Errorf("key order / whitespace changed the key: %s vs %s", k, k2)
	}
	if k2 := key("conversation.closed", a); k2 != k {
		t.Errorf("naming the event by type changed the key")
	}
	if k2 := key("CLOSE_CONVERSATION", other); k2 == k {
		t.Errorf("different bodies share a key")
	}
	if k2 := key("CONVERSATION_OPENED", a); k2 == k {
		t.Errorf("different types with the same body share a key")
	}
	if !strings.HasPrefix(k, "conversation.closed:b:") {
		t.Errorf("key %q is not namespaced by type", k)
	}
	q, err := c.Quarantine(Rejected{Reason: ReasonMalformed, Raw: a, ReceivedAt: receivedAt})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(q.MsgID, "quarantine.malformed:") || q.MsgID == k {
		t.Errorf("quarantine key %q is not namespaced", q.MsgID)
	}
}

func TestQuarantine(t *testing.T) {
	c := newTestConverter(t)
	compiled := schemas(t, c)
	for _, raw := range [][]byte{[]byte(`not json at all`), []byte(`{"a":1}`), {0xff, 0xfe}} {
		m, err := c.Quarantine(Rejected{Reason: ReasonMalformed, Detail: "x", Route: "/v1/webhooks/doubletick", Raw: raw, ReceivedAt: receivedAt})
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "doubletick.quarantine.malformed" || m.Event.Type != QuarantineType || m.Quarantine != ReasonMalformed {
			t.Errorf("quarantine message %s %s %q", m.Subject, m.Event.Type, m.Quarantine)
		}
		var data struct{ BodyBase64 []byte }
		if err := json.Unmarshal(m.Event.Data, &data); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data.BodyBase64, raw) {
			t.Errorf("bodyBase64 does not hold the raw bytes")
		}
		inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(m.Event.Data))
		if err := compiled[QuarantineSchema].Validate(inst); err != nil {
			t.Errorf("quarantine data invalid: %v", err)
		}
	}
}

func TestSchemaURNWithoutPublicURL(t *testing.T) {
	tmpl, _ := subject.NewTemplate("", "doubletick")
	c := NewConverter(doubletick.Default(), tmpl, "")
	m, err := c.Convert(Delivery{Event: "CLOSE_CONVERSATION", Body: []byte(`{"closeConversation":true}`), ReceivedAt: receivedAt})
	if err != nil {
		t.Fatal(err)
	}
	if m.Event.DataSchema != "urn:dtbridge:schema:doubletick.conversation.closed.v1" {
		t.Errorf("dataschema %q", m.Event.DataSchema)
	}
}
