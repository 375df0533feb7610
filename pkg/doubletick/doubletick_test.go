package doubletick_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/dtbridge/dtbridge/pkg/doubletick"
)

// fixtureGlob matches every captured DoubleTick delivery, one directory per
// subscription name.
const fixtureGlob = "../../testdata/fixtures/*/*.json"

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"object", `{"a":1,"b":{"c":[true,null]}}`, true},
		{"object with surrounding whitespace", " \n{\"a\":1}\n\t ", true},
		{"empty object", `{}`, true},
		{"empty", ``, false},
		{"whitespace only", " \n ", false},
		{"array", `[{"a":1}]`, false},
		{"string", `"x"`, false},
		{"number", `42`, false},
		{"true", `true`, false},
		{"null", `null`, false},
		{"invalid", `{"a":`, false},
		{"second object", `{"a":1} {"b":2}`, false},
		{"trailing scalar", `{"a":1} 2`, false},
		{"trailing garbage", `{"a":1} x`, false},
		{"trailing bracket", `{"a":1}]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := doubletick.Parse([]byte(tt.body))
			if tt.ok {
				if err != nil || p == nil {
					t.Fatalf("Parse = %v, %v; want a payload", p, err)
				}
				return
			}
			var me *doubletick.MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("Parse = %v, %v; want a *MalformedError", p, err)
			}
			if me.Reason == "" {
				t.Error("MalformedError has no reason")
			}
		})
	}
}

func TestParseKeepsNumbers(t *testing.T) {
	p, err := doubletick.Parse([]byte(`{"n":12345678901234567890.50}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Nullable("n"); got == nil || *got != "12345678901234567890.50" {
		t.Errorf("Nullable(n) = %v, want the number as written", got)
	}
}

func TestLookup(t *testing.T) {
	tbl := doubletick.Default()
	tests := []struct {
		name     string
		wantName string // "" = ErrUnknownEvent
	}{
		{"CLOSE_CONVERSATION", "CLOSE_CONVERSATION"},
		{"close_conversation", "CLOSE_CONVERSATION"},
		{" CLOSE_CONVERSATION ", "CLOSE_CONVERSATION"},
		{"conversation.closed", "CLOSE_CONVERSATION"},
		{"CONVERSATION.CLOSED", "CLOSE_CONVERSATION"},
		{"CONVERSATION_OPENED", "CONVERSATION_OPENED"},
		{"conversation.opened", "CONVERSATION_OPENED"},
		{"COVERSATION_OPENED", "CONVERSATION_OPENED"},
		{"coversation_opened", "CONVERSATION_OPENED"},
		{"ADD_TAG-nope", ""},
		{"", ""},
		{"io.doubletick.conversation.closed.v1", ""},
		{"doubletick.conversation.closed.v1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tbl.Lookup(tt.name)
			if tt.wantName == "" {
				if !errors.Is(err, doubletick.ErrUnknownEvent) {
					t.Fatalf("Lookup(%q) = %v, %v; want ErrUnknownEvent", tt.name, s, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.name, err)
			}
			if s.Name != tt.wantName {
				t.Errorf("Lookup(%q) = %s, want %s", tt.name, s.Name, tt.wantName)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tbl := doubletick.Default()
	tests := []struct {
		name     string
		body     string
		wantName string // "" = ErrUnclassified
	}{
		{"close", `{"closeConversation":true}`, "CLOSE_CONVERSATION"},
		{"opened", `{"conversationOpened":true}`, "CONVERSATION_OPENED"},
		{"unknown event field wins over evidence", `{"event":"SOMETHING_UNKNOWN","closeConversation":true}`, ""},
		{"unknown eventType field wins over evidence", `{"eventType":"SOMETHING_UNKNOWN","conversationOpened":true}`, ""},
		{"empty event field is ignored", `{"event":"","closeConversation":true}`, "CLOSE_CONVERSATION"},
		{"non-string event field is ignored", `{"event":7,"closeConversation":true}`, "CLOSE_CONVERSATION"},
		{"ambiguous", `{"closeConversation":true,"conversationOpened":true}`, ""},
		{"evidence false", `{"closeConversation":false}`, ""},
		{"evidence a string", `{"closeConversation":"true"}`, ""},
		{"one true one false", `{"closeConversation":false,"conversationOpened":true}`, "CONVERSATION_OPENED"},
		{"no evidence", `{"customerName":"x"}`, ""},
		{"empty object", `{}`, ""},

		// Level 1: the payload's own event field.
		{"note event", `{"event":"note-created","noteId":"n"}`, "CUSTOMER_NOTE_CREATED"},
		{"template event", `{"event":"TEMPLATE_STATUS_UPDATE"}`, "TEMPLATE_UPDATE"},
		{"subscription name is not the template's event value", `{"event":"TEMPLATE_UPDATE"}`, ""},
		{"sla eventType", `{"eventType":"ON_SLA_ESCALATED_PUBLIC","escalationLevel":1}`, "ON_SLA_ESCALATED_PUBLIC"},
		{"call event", `{"event":"CALL_ENDED","callId":"c"}`, "CALL_ENDED"},
		{"group event", `{"event":"GROUP_PARTICIPANT_LEFT"}`, "GROUP_PARTICIPANT_LEFT"},
		{"agent status names itself", `{"event":"ASSIGNED_AGENT_STATUS_CHANGED","status":"ONLINE","messageId":"m","statusTimestamp":"t"}`, "ASSIGNED_AGENT_STATUS_CHANGED"},
		{"event field beats a flag", `{"event":"note-deleted","closeConversation":true}`, "CUSTOMER_NOTE_DELETED"},

		// Level 2: flags, before shapes.
		{"flag beats shape", `{"closeConversation":true,"chatId":"c","assignedUserId":"u"}`, "CLOSE_CONVERSATION"},
		{"two flags", `{"tagAdded":true,"newLead":true}`, ""},
		{"verified widget lead", `{"verified":true,"whatsappNumber":"+91","data":[{"field":"a","value":"b"}]}`, "VERIFIED_WIDGET_LEAD_RECEIVED"},
		{"verified with extra fields", `{"verified":true,"whatsappNumber":"+91","data":[{"field":"a","value":"b"}],"x":1}`, ""},

		// Level 3: shapes.
		{"message", `{"message":{"type":"TEXT"},"dtMessageId":"d","from":"9","to":"1"}`, "MESSAGE_RECEIVED"},
		{"message with ad referral is ambiguous", `{"message":{"type":"TEXT"},"dtMessageId":"d","from":"9","to":"1","referralObject":{}}`, ""},
		{"group message", `{"message":{"type":"TEXT"},"dtMessageId":"d","from":"9","to":"1","type":"wa_group"}`, "WA_GROUP_MESSAGE_RECEIVED"},
		{"group message with referral", `{"message":{},"dtMessageId":"d","from":"9","to":"1","type":"wa_group","referralObject":{}}`, ""},
		{"message of an unknown type", `{"message":{"type":"TEXT"},"dtMessageId":"d","from":"9","to":"1","type":"broadcast"}`, ""},
		{"message without DoubleTick id", `{"message":{"type":"TEXT"},"from":"9","to":"1","messageId":"m"}`, ""},
		{"status", `{"status":"DELIVERED","statusTimestamp":"t","messageId":"m"}`, "MESSAGE_STATUS_UPDATE"},
		{"agent presence status without event", `{"status":"ONLINE","statusTimestamp":"t","messageId":"m"}`, ""},
		{"status without time", `{"status":"READ","messageId":"m"}`, ""},
		{"permission reply", `{"response":"accept","responseSource":"user_initiated","messageId":"m","from":"+9","to":"+1"}`, "CALL_PERMISSION_REPLY_RECEIVED"},
		{"permission reply with a message", `{"response":"accept","responseSource":"u","messageId":"m","message":{}}`, ""},
		{"assigned", `{"chatId":"c","assignedUserId":"u","dtCustomerId":"x"}`, "CHAT_ASSIGNED_TO_AGENT"},
		{"unassigned", `{"chatId":"c","dtCustomerId":"x","wabaNumber":"+1"}`, "CHAT_UNASSIGNED"},
		{"unassigned shape with more fields", `{"chatId":"c","dtCustomerId":"x","isOpen":true}`, ""},
		{"custom field", `{"customFieldEventType":"ATTRIBUTE_SET","customFieldId":"f"}`, "UPDATE_CUSTOMER_CUSTOM_FIELD"},
		{"custom field unknown change", `{"customFieldEventType":"ATTRIBUTE_RENAMED","customFieldId":"f"}`, ""},
		{"cost", `{"conversationId":"c","conversationType":"SERVICE","cost":0.1}`, "CONVERSATION_COST_DEDUCTED"},
		{"cost as a string", `{"conversationId":"c","conversationType":"SERVICE","cost":"0.1"}`, "CONVERSATION_COST_DEDUCTED"},
		{"widget lead", `{"data":[{"field":"name","value":"R"}]}`, "WIDGET_LEAD_RECEIVED"},
		{"widget lead empty form", `{"data":[]}`, ""},
		{"data that is not a form", `{"data":[1,2]}`, ""},
		{"two shapes", `{"chatId":"c","assignedUserId":"u","status":"SENT","statusTimestamp":"t","messageId":"m"}`, ""},
		{"cloud api body", `{"object":"whatsapp_business_account","entry":[]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := doubletick.Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			s, err := tbl.Classify(p)
			if tt.wantName == "" {
				if !errors.Is(err, doubletick.ErrUnclassified) {
					t.Fatalf("Classify = %v, %v; want ErrUnclassified", s, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Classify: %v", err)
			}
			if s.Name != tt.wantName {
				t.Errorf("Classify = %s, want %s", s.Name, tt.wantName)
			}
		})
	}
}

// data is the part of a conversation event's data object the tests read.
type data struct {
	Channel  string               `json:"channel"`
	Customer struct{ ID *string } `json:"customer"`
	Raw      json.RawMessage      `json:"raw"`
}

func TestConversationFixtures(t *testing.T) {
	tbl := doubletick.Default()
	for _, event := range []string{"CLOSE_CONVERSATION", "CONVERSATION_OPENED"} {
		files, err := filepath.Glob(filepath.Join("../../testdata/fixtures", event, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no fixtures for %s", event)
		}
		for _, f := range files {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, route := range []string{"", event} {
				t.Run(event+"/"+filepath.Base(f)+"/route="+route, func(t *testing.T) {
					n, err := tbl.Convert(route, body, doubletick.Hints{})
					if err != nil {
						t.Fatalf("Convert: %v", err)
					}
					if n.Spec.Name != event {
						t.Errorf("event = %s, want %s", n.Spec.Name, event)
					}
					if !n.Time.IsZero() {
						t.Errorf("Time = %v, want zero (conversation payloads carry no timestamp)", n.Time)
					}
					if n.Subject == "" {
						t.Error("Subject is empty; every fixture has a dtCustomerId")
					}
					var d data
					if err := json.Unmarshal(n.Data, &d); err != nil {
						t.Fatalf("Data is not JSON: %v\n%s", err, n.Data)
					}
					if want := `,"raw":` + string(body) + `}`; len(n.Data) < len(want) || string(n.Data[len(n.Data)-len(want):]) != want {
						t.Errorf("Data does not end with the body verbatim as raw:\n%s", n.Data)
					}
					if d.Channel != string(n.Channel) {
						t.Errorf("data.channel = %q, Channel = %q", d.Channel, n.Channel)
					}
				})
			}
		}
	}
}

func TestChannel(t *testing.T) {
	tbl := doubletick.Default()
	tests := []struct {
		name   string
		fields string // payload members besides closeConversation
		hint   string
		want   doubletick.Channel
	}{
		{"channelType INSTAGRAM", `"channelType":"INSTAGRAM"`, "", doubletick.Instagram},
		{"channelType lower case", `"channelType":"instagram"`, "", doubletick.Instagram},
		{"integrationType WHATSAPP beats hint", `"integrationType":"WHATSAPP"`, "instagram", doubletick.WhatsApp},
		{"channelType before integrationType", `"channelType":"INSTAGRAM","integrationType":"WHATSAPP"`, "", doubletick.Instagram},
		{"unknown value", `"channelType":"MESSENGER"`, "instagram", doubletick.Generic},
		{"absent, hint instagram", ``, "instagram", doubletick.Instagram},
		{"absent, hint upper case", ``, "INSTAGRAM", doubletick.Instagram},
		{"absent, no hint", ``, "", doubletick.WhatsApp},
		{"empty value, hint", `"channelType":""`, "web", doubletick.Web},
		{"non-string value, hint", `"channelType":3`, "pstn", doubletick.PSTN},
		{"absent, hint with wildcard", ``, "evil.>", doubletick.WhatsApp},
		{"absent, unknown hint", ``, "messenger", doubletick.WhatsApp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"closeConversation":true`
			if tt.fields != "" {
				body += "," + tt.fields
			}
			body += "}"
			n, err := tbl.Convert("", []byte(body), doubletick.Hints{Channel: tt.hint})
			if err != nil {
				t.Fatalf("Convert(%s): %v", body, err)
			}
			if n.Channel != tt.want {
				t.Errorf("Channel = %q, want %q", n.Channel, tt.want)
			}
		})
	}
}

func TestCustomerID(t *testing.T) {
	tbl := doubletick.Default()
	tests := []struct {
		name string
		body string
		want string // "" = no customer id
	}{
		{"dtCustomerId", `{"conversationOpened":true,"dtCustomerId":"customer_a","customerId":"b"}`, "customer_a"},
		{"customerId fallback", `{"conversationOpened":true,"customerId":"b"}`, "b"},
		{"empty dtCustomerId falls back", `{"conversationOpened":true,"dtCustomerId":"","customerId":"b"}`, "b"},
		{"null dtCustomerId falls back", `{"conversationOpened":true,"dtCustomerId":null,"customerId":"b"}`, "b"},
		{"neither", `{"conversationOpened":true}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tbl.Convert("", []byte(tt.body), doubletick.Hints{})
			if err != nil {
				t.Fatal(err)
			}
			if n.Subject != tt.want {
				t.Errorf("Subject = %q, want %q", n.Subject, tt.want)
			}
			var d data
			if err := json.Unmarshal(n.Data, &d); err != nil {
				t.Fatal(err)
			}
			got := ""
			if d.Customer.ID != nil {
				got = *d.Customer.ID
			}
			if got != tt.want || (tt.want == "") != (d.Customer.ID == nil) {
				t.Errorf("data.customer.id = %v, want %q (null when none)", d.Customer.ID, tt.want)
			}
		})
	}
}

func TestNewTable(t *testing.T) {
	norm := func(doubletick.Payload, doubletick.Channel) doubletick.Normal {
		return doubletick.Normal{Data: struct{}{}}
	}
	row := func(name, typ string, aliases ...string) doubletick.EventSpec {
		return doubletick.EventSpec{Name: name, Type: typ, Version: 1, Aliases: aliases, Normalize: norm}
	}
	withValues := func(s doubletick.EventSpec, v ...string) doubletick.EventSpec {
		s.EventValues = v
		return s
	}
	tests := []struct {
		name  string
		specs []doubletick.EventSpec
		ok    bool
	}{
		{"valid", []doubletick.EventSpec{row("A", "a.x", "A2"), withValues(row("B", "b.x"), "b")}, true},
		{"empty", nil, true},
		{"duplicate name", []doubletick.EventSpec{row("A", "a.x"), row("A", "b.x")}, false},
		{"duplicate name other case", []doubletick.EventSpec{row("A", "a.x"), row("a", "b.x")}, false},
		{"duplicate type", []doubletick.EventSpec{row("A", "a.x"), row("B", "a.x")}, false},
		{"alias is another name", []doubletick.EventSpec{row("A", "a.x"), row("B", "b.x", "A")}, false},
		{"alias is another type", []doubletick.EventSpec{row("A", "a.x"), row("B", "b.x", "a.x")}, false},
		{"duplicate alias", []doubletick.EventSpec{row("A", "a.x", "Z"), row("B", "b.x", "Z")}, false},
		{"duplicate event value", []doubletick.EventSpec{withValues(row("A", "a.x"), "v"), withValues(row("B", "b.x"), "v")}, false},
		{"missing type", []doubletick.EventSpec{row("A", "")}, false},
		{"missing name", []doubletick.EventSpec{row("", "a.x")}, false},
		{"version 0", []doubletick.EventSpec{{Name: "A", Type: "a.x", Normalize: norm}}, false},
		{"missing normalize", []doubletick.EventSpec{{Name: "A", Type: "a.x", Version: 1}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl, err := doubletick.NewTable(tt.specs)
			if tt.ok != (err == nil) {
				t.Fatalf("NewTable = %v, %v; want ok=%v", tbl, err, tt.ok)
			}
		})
	}
}

func TestDefaultTableSchemas(t *testing.T) {
	tbl := doubletick.Default()
	if len(tbl.Specs()) == 0 {
		t.Fatal("the built-in table is empty")
	}
	for _, s := range tbl.Specs() {
		for _, name := range []string{s.SchemaName(), s.CEType()} {
			b, ok := tbl.Schema(name)
			if !ok {
				t.Errorf("%s: no schema for %q", s.Name, name)
				continue
			}
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Errorf("%s: schema %q is not a JSON object: %v", s.Name, name, err)
			}
		}
	}
	names := doubletick.SchemaNames()
	if !slices.IsSorted(names) {
		t.Errorf("SchemaNames() = %v, not sorted", names)
	}
	for _, n := range names {
		if _, ok := tbl.BySchema(n); !ok {
			t.Errorf("embedded schema %q belongs to no table row", n)
		}
	}
	if len(names) != len(tbl.Specs()) {
		t.Errorf("%d embedded schemas for %d rows", len(names), len(tbl.Specs()))
	}
}

func FuzzConvert(f *testing.F) {
	files, err := filepath.Glob(fixtureGlob)
	if err != nil {
		f.Fatal(err)
	}
	if len(files) == 0 {
		f.Fatalf("no fixtures match %s", fixtureGlob)
	}
	events := []string{"", "nope"}
	for _, s := range doubletick.Default().Specs() {
		events = append(events, s.Name)
	}
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range events {
			f.Add(e, body)
		}
	}
	tbl := doubletick.Default()
	schemas := compileSchemas(f, tbl)
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		n, err := tbl.Convert(event, body, doubletick.Hints{})
		if err != nil {
			var me *doubletick.MalformedError
			if !errors.Is(err, doubletick.ErrUnknownEvent) && !errors.Is(err, doubletick.ErrUnclassified) && !errors.As(err, &me) {
				t.Fatalf("Convert(%q, %q) = unexpected error %v (%T)", event, body, err, err)
			}
			return
		}
		if n.Spec == nil {
			t.Fatalf("Convert(%q, %q) returned no spec", event, body)
		}
		if n.DedupKey == "" {
			t.Fatalf("Convert(%q, %q) returned an empty DedupKey", event, body)
		}
		if _, ok := doubletick.ParseChannel(string(n.Channel)); !ok {
			t.Fatalf("Convert(%q, %q) returned channel %q", event, body, n.Channel)
		}
		var d map[string]json.RawMessage
		if err := json.Unmarshal(n.Data, &d); err != nil || d == nil {
			t.Fatalf("Convert(%q, %q) Data is not a JSON object (%v):\n%s", event, body, err, n.Data)
		}
		if _, ok := d["raw"]; !ok {
			t.Fatalf("Convert(%q, %q) Data has no raw member:\n%s", event, body, n.Data)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(n.Data))
		if err != nil {
			t.Fatal(err)
		}
		if err := schemas[n.Spec.SchemaName()].Validate(inst); err != nil {
			t.Fatalf("Convert(%q, %q) data does not match its schema: %v\n%s", event, body, err, n.Data)
		}
	})
}

// compileSchemas compiles every row's embedded schema with a maintained
// JSON Schema (draft 2020-12) validator.
func compileSchemas(tb testing.TB, tbl *doubletick.Table) map[string]*jsonschema.Schema {
	tb.Helper()
	c := jsonschema.NewCompiler()
	out := map[string]*jsonschema.Schema{}
	for _, s := range tbl.Specs() {
		b, _ := tbl.Schema(s.SchemaName())
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			tb.Fatalf("%s: %v", s.SchemaName(), err)
		}
		url := "urn:dtbridge:schema:" + s.SchemaName()
		if err := c.AddResource(url, doc); err != nil {
			tb.Fatal(err)
		}
		if out[s.SchemaName()], err = c.Compile(url); err != nil {
			tb.Fatalf("%s: %v", s.SchemaName(), err)
		}
	}
	return out
}

// TestExplicitRouteContradiction: the URL decides, unless the body itself
// says, by its event field or another event's flag, that it is something
// else; then it is unclassified (quarantined), never stored as either.
func TestExplicitRouteContradiction(t *testing.T) {
	tbl := doubletick.Default()
	tests := []struct {
		name, event, body string
		ok                bool
	}{
		{"agrees", "CLOSE_CONVERSATION", `{"closeConversation":true}`, true},
		{"no evidence at all", "CLOSE_CONVERSATION", `{"dtCustomerId":"c"}`, true},
		{"shape of another event", "CLOSE_CONVERSATION", `{"chatId":"c","assignedUserId":"u"}`, true},
		{"unknown event field", "CALL_ENDED", `{"event":"CALL_TRANSFERRED"}`, true},
		{"own event field", "CALL_ENDED", `{"event":"CALL_ENDED"}`, true},
		{"passthrough with flags of its own", "CUSTOMER_BUSINESS_CHAT_OPEN", `{"chatId":"c","dtCustomerId":"x"}`, true},
		{"ad referral copy of a message", "CALL_TO_WHATSAPP_MESSAGE_RECEIVED", `{"message":{},"dtMessageId":"d","from":"9","to":"1","referralObject":{}}`, true},
		{"other event field", "CALL_ENDED", `{"event":"CALL_MISSED"}`, false},
		{"note event on the wrong note URL", "CUSTOMER_NOTE_UPDATED", `{"event":"note-deleted"}`, false},
		{"other flag", "CLOSE_CONVERSATION", `{"conversationOpened":true}`, false},
		{"other flag on a shape event", "MESSAGE_RECEIVED", `{"newLead":true,"dtMessageId":"d"}`, false},
		{"both flags", "CLOSE_CONVERSATION", `{"closeConversation":true,"conversationOpened":true}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tbl.Convert(tt.event, []byte(tt.body), doubletick.Hints{})
			if tt.ok {
				if err != nil || n.Spec.Name != tt.event {
					t.Fatalf("Convert = %v, %v; want %s", n.Spec, err, tt.event)
				}
				return
			}
			if !errors.Is(err, doubletick.ErrUnclassified) {
				t.Fatalf("Convert = %v, %v; want ErrUnclassified", n.Spec, err)
			}
		})
	}
}
