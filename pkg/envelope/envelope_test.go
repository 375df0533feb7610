package envelope_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/dtbridge/dtbridge/pkg/envelope"
)

// validEvent returns an event that passes Validate, with every optional
// attribute set and times already at the encoded precision (µs, UTC).
func validEvent() envelope.Event {
	e := envelope.New()
	e.ID = "0190a8f4-7c1e-7b3a-9d1e-2f4c6a8b0c1d"
	e.Source = "https://bridge.example.com/webhooks/doubletick"
	e.Type = "io.doubletick.conversation.closed.v1"
	e.Subject = "customer_pvgpZUh3wg"
	e.Time = time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	e.DataSchema = "https://bridge.example.com/v1/schemas/doubletick.conversation.closed.v1"
	e.Channel = "whatsapp"
	e.DedupKey = "conversation.closed:b:0123456789abcdef0123456789abcdef"
	e.ReceivedAt = time.Date(2024, 5, 6, 7, 8, 10, 654321000, time.UTC)
	e.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	e.Data = json.RawMessage(`{"channel":"whatsapp","raw":{"closeConversation":true}}`)
	return e
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*envelope.Event)
		want   []string // fields reported, in order; nil = valid
	}{
		{"valid", func(*envelope.Event) {}, nil},
		{"optional attributes empty", func(e *envelope.Event) { e.Subject, e.TraceParent = "", "" }, nil},
		{"data with leading whitespace", func(e *envelope.Event) { e.Data = json.RawMessage(" \n{\"a\":1}") }, nil},
		{"specversion empty", func(e *envelope.Event) { e.SpecVersion = "" }, []string{"specversion"}},
		{"specversion 0.3", func(e *envelope.Event) { e.SpecVersion = "0.3" }, []string{"specversion"}},
		{"id empty", func(e *envelope.Event) { e.ID = "" }, []string{"id"}},
		{"source empty", func(e *envelope.Event) { e.Source = "" }, []string{"source"}},
		{"type empty", func(e *envelope.Event) { e.Type = "" }, []string{"type"}},
		{"time zero", func(e *envelope.Event) { e.Time = time.Time{} }, []string{"time"}},
		{"datacontenttype empty", func(e *envelope.Event) { e.DataContentType = "" }, []string{"datacontenttype"}},
		{"datacontenttype text", func(e *envelope.Event) { e.DataContentType = "text/plain" }, []string{"datacontenttype"}},
		{"dataschema empty", func(e *envelope.Event) { e.DataSchema = "" }, []string{"dataschema"}},
		{"dataschema absolute path", func(e *envelope.Event) { e.DataSchema = "/v1/schemas/x" }, []string{"dataschema"}},
		{"dataschema relative", func(e *envelope.Event) { e.DataSchema = "schemas" }, []string{"dataschema"}},
		{"dataschema scheme only", func(e *envelope.Event) { e.DataSchema = "https:" }, []string{"dataschema"}},
		{"dataschema scheme starts with digit", func(e *envelope.Event) { e.DataSchema = "1http://x" }, []string{"dataschema"}},
		{"dataschema urn", func(e *envelope.Event) { e.DataSchema = "urn:dtbridge:x" }, nil},
		{"channel empty", func(e *envelope.Event) { e.Channel = "" }, []string{"channel"}},
		{"dedupkey empty", func(e *envelope.Event) { e.DedupKey = "" }, []string{"dedupkey"}},
		{"receivedat zero", func(e *envelope.Event) { e.ReceivedAt = time.Time{} }, []string{"receivedat"}},
		{"data nil", func(e *envelope.Event) { e.Data = nil }, []string{"data"}},
		{"data array", func(e *envelope.Event) { e.Data = json.RawMessage(`[{"a":1}]`) }, []string{"data"}},
		{"data string", func(e *envelope.Event) { e.Data = json.RawMessage(`"x"`) }, []string{"data"}},
		{"data null", func(e *envelope.Event) { e.Data = json.RawMessage(`null`) }, []string{"data"}},
		{"data invalid JSON", func(e *envelope.Event) { e.Data = json.RawMessage(`{"a":`) }, []string{"data"}},
		{"data trailing garbage", func(e *envelope.Event) { e.Data = json.RawMessage(`{"a":1}x`) }, []string{"data"}},
		{"several at once", func(e *envelope.Event) {
			e.ID, e.Time, e.DataSchema, e.DedupKey, e.Data = "", time.Time{}, "schemas", "", json.RawMessage(`[]`)
		}, []string{"id", "time", "dataschema", "dedupkey", "data"}},
		{"everything", func(e *envelope.Event) { *e = envelope.Event{} }, []string{
			"specversion", "id", "source", "type", "time", "datacontenttype", "dataschema",
			"channel", "dedupkey", "receivedat", "data",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEvent()
			tt.mutate(&e)
			err := e.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve envelope.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v (%T), want a ValidationError", err, err)
			}
			var got []string
			for _, fe := range ve {
				got = append(got, fe.Field)
				if !strings.Contains(err.Error(), fe.Field+": ") {
					t.Errorf("Error() = %q does not name %s", err.Error(), fe.Field)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Validate() fields = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMarshalGolden pins the exact bytes of MarshalJSON, which callers use
// directly: json.Marshal(event) would compact and HTML-escape the result of
// MarshalJSON, so data would no longer be verbatim.
func TestMarshalGolden(t *testing.T) {
	e := validEvent()
	e.Data = json.RawMessage("{ \"channel\" : \"whatsapp\",\n\t\"raw\":{\"a\":  [1, 2.50, \"\\u00e9\"]} }")
	got, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"specversion":"1.0",` +
		`"id":"0190a8f4-7c1e-7b3a-9d1e-2f4c6a8b0c1d",` +
		`"source":"https://bridge.example.com/webhooks/doubletick",` +
		`"type":"io.doubletick.conversation.closed.v1",` +
		`"subject":"customer_pvgpZUh3wg",` +
		`"time":"2024-05-06T07:08:09.123456Z",` +
		`"datacontenttype":"application/json",` +
		`"dataschema":"https://bridge.example.com/v1/schemas/doubletick.conversation.closed.v1",` +
		`"channel":"whatsapp",` +
		`"dedupkey":"conversation.closed:b:0123456789abcdef0123456789abcdef",` +
		`"receivedat":"2024-05-06T07:08:10.654321Z",` +
		`"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",` +
		`"data":` + string(e.Data) + `}`
	if string(got) != want {
		t.Errorf("json.Marshal =\n%s\nwant\n%s", got, want)
	}
	encoded, err := e.Encode()
	if err != nil || string(encoded) != want {
		t.Errorf("Encode = %s, %v; want the same bytes as MarshalJSON", encoded, err)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*envelope.Event)
	}{
		{"all attributes", func(*envelope.Event) {}},
		{"no optional attributes", func(e *envelope.Event) { e.Subject, e.TraceParent = "", "" }},
		{"data with insignificant whitespace", func(e *envelope.Event) {
			e.Data = json.RawMessage("{\n  \"raw\" : { \"a\" :\t[ 1 , 2 ] },\r\n  \"b\": \"\\u2028 \\\" x\"\n}")
		}},
		{"data with HTML characters and U+2028", func(e *envelope.Event) {
			e.Data = json.RawMessage("{\"raw\":\"<a href='x'>&amp;</a> \"}")
		}},
		{"attributes needing escapes", func(e *envelope.Event) {
			e.Source, e.Subject, e.Channel = "urn:x\"y\\z", "line\nbreak\ttab\x01", "<&>\u2028é"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEvent()
			tt.mutate(&e)
			b, err := e.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(b) {
				t.Fatalf("encoded event is not valid JSON: %s", b)
			}
			if !bytes.HasSuffix(b, append(append([]byte(`,"data":`), e.Data...), '}')) {
				t.Errorf("data is not written verbatim:\n%s", b)
			}
			var got envelope.Event
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Errorf("round trip:\n got %#v\nwant %#v", got, e)
			}
		})
	}
}

func TestOptionalAttributesOmitted(t *testing.T) {
	tests := []struct {
		name                   string
		subject, traceparent   string
		wantSubject, wantTrace bool
	}{
		{"both empty", "", "", false, false},
		{"subject only", "s", "", true, false},
		{"traceparent only", "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, true},
		{"both set", "s", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEvent()
			e.Subject, e.TraceParent = tt.subject, tt.traceparent
			b, err := e.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if _, ok := m["subject"]; ok != tt.wantSubject {
				t.Errorf("subject present = %v, want %v: %s", ok, tt.wantSubject, b)
			}
			if _, ok := m["traceparent"]; ok != tt.wantTrace {
				t.Errorf("traceparent present = %v, want %v: %s", ok, tt.wantTrace, b)
			}
		})
	}
}

func TestFormatTime(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"utc whole second", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "2024-01-02T03:04:05.000000Z"},
		{"nanoseconds truncated", time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC), "2024-01-02T03:04:05.123456Z"},
		{"offset converted to UTC", time.Date(2024, 1, 2, 8, 34, 5, 1000, ist), "2024-01-02T03:04:05.000001Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := envelope.FormatTime(tt.in); got != tt.want {
				t.Errorf("FormatTime = %q, want %q", got, tt.want)
			}
			if _, err := time.Parse(time.RFC3339, tt.want); err != nil {
				t.Errorf("%q is not RFC 3339: %v", tt.want, err)
			}
		})
	}
}

func TestAppendJSONRejectsInvalidData(t *testing.T) {
	e := validEvent()
	e.Data = json.RawMessage(`{"a":`)
	if b, err := e.AppendJSON(nil); err == nil {
		t.Fatalf("AppendJSON = %s, want an error for invalid data", b)
	}
}

// TestEncodeValidates: Encode refuses what Validate refuses, naming the
// attribute, and writes nothing.
func TestEncodeValidates(t *testing.T) {
	for name, mutate := range map[string]func(*envelope.Event){
		"data":   func(e *envelope.Event) { e.Data = json.RawMessage(`{"a":`) },
		"id":     func(e *envelope.Event) { e.ID = "" },
		"time":   func(e *envelope.Event) { e.Time = time.Time{} },
		"data[]": func(e *envelope.Event) { e.Data = json.RawMessage(`[1]`) },
	} {
		e := validEvent()
		mutate(&e)
		b, err := e.Encode()
		var ve envelope.ValidationError
		if !errors.As(err, &ve) || b != nil {
			t.Errorf("%s: Encode = %q, %v; want a ValidationError and no bytes", name, b, err)
		}
	}
}

// TestCloudEventsSDKReadsEnvelope checks that the reference Go SDK reads the
// envelope as a valid CloudEvent with dtbridge's extensions.
func TestCloudEventsSDKReadsEnvelope(t *testing.T) {
	e := validEvent()
	b, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	ce := cloudevents.New()
	if err := json.Unmarshal(b, &ce); err != nil {
		t.Fatalf("SDK unmarshal: %v", err)
	}
	if err := ce.Validate(); err != nil {
		t.Fatalf("SDK Validate: %v", err)
	}
	for _, c := range []struct{ attr, got, want string }{
		{"specversion", ce.SpecVersion(), e.SpecVersion},
		{"id", ce.ID(), e.ID},
		{"type", ce.Type(), e.Type},
		{"source", ce.Source(), e.Source},
		{"subject", ce.Subject(), e.Subject},
		{"dataschema", ce.DataSchema(), e.DataSchema},
		{"datacontenttype", ce.DataContentType(), e.DataContentType},
	} {
		if c.got != c.want {
			t.Errorf("SDK %s = %q, want %q", c.attr, c.got, c.want)
		}
	}
	if !ce.Time().Equal(e.Time) {
		t.Errorf("SDK time = %v, want %v", ce.Time(), e.Time)
	}
	ext := ce.Extensions()
	for name, want := range map[string]string{
		"channel":    e.Channel,
		"dedupkey":   e.DedupKey,
		"receivedat": envelope.FormatTime(e.ReceivedAt),
	} {
		v, ok := ext[name]
		if !ok {
			t.Errorf("SDK extensions %v lack %s", ext, name)
			continue
		}
		if v != want {
			t.Errorf("SDK extension %s = %#v, want %q", name, v, want)
		}
	}
	if !bytes.Equal(ce.Data(), e.Data) {
		t.Errorf("SDK data = %s, want %s", ce.Data(), e.Data)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{
		"", "plain", `quote " backslash \ slash /`, "\x00\x01\x1f\x7f", "\n\r\t\b\f",
		"é ü 日本 😀", "\u2028\u2029", "<script>&amp;", "\xff", "a\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\ufffd", "\xc0\xaf",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := envelope.Quote(s)
		if !json.Valid([]byte(q)) {
			t.Fatalf("Quote(%q) = %s is not valid JSON", s, q)
		}
		var got string
		if err := json.Unmarshal([]byte(q), &got); err != nil {
			t.Fatalf("Quote(%q) = %s does not decode to a string: %v", s, q, err)
		}
		ref, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var want string
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("Quote(%q) decodes to %q, encoding/json's encoding to %q", s, got, want)
		}
		// Byte for byte: json.Marshal with HTML escaping, an Encoder without.
		if html := envelope.AppendString(nil, s, true); !bytes.Equal(html, ref) {
			t.Fatalf("AppendString(%q, html) = %s, json.Marshal = %s", s, html, ref)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if plain := envelope.AppendString(nil, s, false); !bytes.Equal(plain, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))) || q != string(plain) {
			t.Fatalf("AppendString(%q) = %s, encoding/json without HTML escaping = %s", s, plain, buf.Bytes())
		}
	})
}

// TestEncode: Encode is Validate then MarshalJSON, byte for byte, and
// refuses what Validate refuses.
func TestEncode(t *testing.T) {
	ev := envelope.New()
	ev.ID, ev.Source, ev.Type = "id-1", "doubletick/whatsapp", "io.doubletick.conversation.closed.v1"
	ev.Time, ev.ReceivedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	ev.DataSchema, ev.Channel, ev.DedupKey = "urn:dtbridge:schema:x", "whatsapp", "k"
	ev.Data = []byte(`{"channel":"whatsapp","raw":{"a":"<\u2028>"}}`)
	got, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want, err := ev.MarshalJSON()
	if err != nil || string(got) != string(want) {
		t.Errorf("Encode = %s, %v; MarshalJSON = %s", got, err, want)
	}
	ev.Data = []byte(`{"channel":`)
	if _, err := ev.Encode(); err == nil || !strings.Contains(err.Error(), "data") {
		t.Errorf("Encode of invalid data: %v", err)
	}
}
