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

// neverInferred are the events the inferred route must quarantine: their
// bodies cannot be told apart from another event's (the ad-referral copy of
// MESSAGE_RECEIVED) or are not documented at all.
var neverInferred = map[string]bool{
	"CALL_TO_WHATSAPP_MESSAGE_RECEIVED": true,
	"RAW_CLOUD_API_WEBHOOK":             true,
	"CUSTOMER_BUSINESS_CHAT_OPEN":       true,
	"POST_CALL_DISPOSITION":             true,
	"STANDBY_MESSAGE_RECEIVED":          true,
	"MESSAGING_HANDOVER":                true,
}

// TestConformance runs every fixture of every event through the same checks:
// on its explicit route it becomes its event's type and subject, the
// envelope validates, data validates against the event's JSON Schema, data.raw
// is the delivery byte for byte, time is the payload's own time or the
// receive time, and the envelope matches its golden file. On the inferred
// route it becomes the same message, or — for the events in neverInferred
// and only for them — ErrUnclassified (quarantine). It is never misfiled.
func TestConformance(t *testing.T) {
	c := newTestConverter(t)
	table := doubletick.Default()
	compiled := schemas(t, c)
	for _, fx := range fixtures(t) {
		t.Run(fx.event+"/"+fx.name, func(t *testing.T) {
			spec, err := table.Lookup(fx.event)
			if err != nil {
				t.Fatalf("fixture directory %s names no event in the table", fx.event)
			}
			d := Delivery{Event: fx.event, Body: fx.body, ReceivedAt: receivedAt}
			m, err := c.Convert(d)
			if err != nil {
				t.Fatalf("explicit route: %v", err)
			}
			if m.Event.Type != spec.CEType() || m.MsgID != m.Event.DedupKey {
				t.Errorf("type %q msgid %q, want %q and the dedupkey", m.Event.Type, m.MsgID, spec.CEType())
			}
			if want := "doubletick." + m.Event.Channel + "." + spec.Type; m.Subject != want {
				t.Errorf("subject %q, want %q", m.Subject, want)
			}
			if !strings.HasPrefix(m.MsgID, spec.Type+":") {
				t.Errorf("dedup key %q is not namespaced by type", m.MsgID)
			}
			wantTime := receivedAt
			if tt, err := time.Parse(time.RFC3339Nano, stringField(t, fx.body, spec.TimeField)); err == nil {
				wantTime = tt
			}
			if !m.Event.Time.Equal(wantTime) {
				t.Errorf("time %v, want %v (the payload's %q, else the receive time)", m.Event.Time, wantTime, spec.TimeField)
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
			switch {
			case neverInferred[fx.event]:
				if !errors.Is(err, doubletick.ErrUnclassified) {
					t.Errorf("inferred route: %v (type %q), want ErrUnclassified", err, inferred.Event.Type)
				}
			case err != nil:
				t.Errorf("inferred route: %v", err)
			case inferred.Subject != m.Subject || inferred.Event.Type != m.Event.Type || inferred.MsgID != m.MsgID:
				t.Errorf("inferred route gives %s %s %s, explicit %s %s %s",
					inferred.Subject, inferred.Event.Type, inferred.MsgID, m.Subject, m.Event.Type, m.MsgID)
			}
			checkGolden(t, filepath.Join(testdata, "golden", fx.event, fx.name+".envelope.json"), m.Encoded)
		})
	}
}

// TestEveryEventHasAFixture: each row of the table is exercised by
// TestConformance.
func TestEveryEventHasAFixture(t *testing.T) {
	have := map[string]bool{}
	for _, fx := range fixtures(t) {
		have[fx.event] = true
	}
	for _, s := range doubletick.Default().Specs() {
		if !have[s.Name] {
			t.Errorf("no fixture under testdata/fixtures/%s/", s.Name)
		}
	}
}

// stringField reads a top-level string member of a JSON object ("" if none).
func stringField(t *testing.T, body []byte, key string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[key].(string)
	return s
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
	wantCustomer := map[string]any{"id": "customer_Ehrc3Ls7kS", "name": "Abhishek", "handle": "abhishxo", "phone": nil, "phoneE164": nil}
	if fmt.Sprint(data["customer"]) != fmt.Sprint(wantCustomer) {
		t.Errorf("customer = %v, want %v", data["customer"], wantCustomer)
	}
	if fmt.Sprint(data["business"]) != fmt.Sprint(map[string]any{"handle": "your_business_handle", "number": nil, "numberE164": nil}) {
		t.Errorf("business = %v", data["business"])
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
	neutral := []byte(`{"dtCustomerId":"customer_1","to":"+91900"}`) // no flag: either URL may carry it
	if key("CONVERSATION_OPENED", neutral) == key("CLOSE_CONVERSATION", neutral) {
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
