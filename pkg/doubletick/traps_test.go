package doubletick_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dtbridge/dtbridge/pkg/doubletick"
)

// TestNormalizedFields pins the catalog's traps with explicit values, fixture
// by fixture: which party `to` is, what messageId means, handles vs phones on
// Instagram, when an E.164 form is derived, "" and 0 in call payloads, and
// timestamps rewritten to RFC 3339. (The goldens pin everything else.)
func TestNormalizedFields(t *testing.T) {
	null := any(nil)
	tests := []struct {
		fixture string
		want    map[string]any // dotted path in data → value (nil = JSON null)
	}{
		{"MESSAGE_RECEIVED/text", map[string]any{
			"business.number":     "11111111111", // to: the business here
			"business.numberE164": "+11111111111",
			"customer.phone":      "919999999999", // from
			"customer.phoneE164":  "+919999999999",
			"customer.name":       "John Doe",
			"customer.id":         "customer_xxxxxxxxxx",
			"message.id":          "8b4abc26-2ea9-4f7d-a49a-90015e8dd7b8", // dtMessageId
			"message.whatsappId":  "wamid.HBgMOTE4OTc5NDk5OTQ5FQIAEhggQUNGOEE3REIwOUFBMjc2QTk0Mzk3Q0FEMzEyQTY4NTQA",
			"message.replyTo":     null, // context {} is not a reply
			"receivedAt":          "2026-06-04T11:57:57.796Z",
		}},
		{"MESSAGE_RECEIVED/reply", map[string]any{"message.replyTo.id": "msg_xxxxxxxxxx", "message.replyTo.from": "919999999999"}},
		{"MESSAGE_RECEIVED/button", map[string]any{"message.button.payload": "CONFIRM_ORDER_V2", "message.button.id": "btn_confirm", "message.text": "Yes"}},
		{"MESSAGE_RECEIVED/location-strings", map[string]any{"message.location.latitude": 28.6139}},
		{"MESSAGE_RECEIVED/paired-template", map[string]any{"pairedTemplate.id": "123", "pairedTemplate.name": "order_confirmation"}},
		{"MESSAGE_STATUS_UPDATE/sent", map[string]any{
			"customer.phone":     "919999999999", // to: the customer here
			"customer.phoneE164": "+919999999999",
			"business.number":    "+919000000000", // wabaNumber
			"message.id":         "dt_message_id", // messageId is DoubleTick's id here
			"message.whatsappId": null,
			"statusAt":           "2026-06-04T11:48:14Z",
			"failure":            null,
		}},
		{"MESSAGE_STATUS_UPDATE/failed", map[string]any{"status": "FAILED", "failure": "Message delivery failed"}},
		{"MESSAGE_STATUS_UPDATE/instagram", map[string]any{"customer.handle": "abhishxo", "customer.phone": null, "customer.phoneE164": null}},
		{"CALL_PERMISSION_REPLY_RECEIVED/accept", map[string]any{
			"message.whatsappId": "wa_message_id", // messageId is WhatsApp's id here
			"message.id":         null,
			"expiresAt":          "2026-01-15T09:50:00Z", // unix seconds in the payload
			"customer.phone":     "+919876543210",
		}},
		{"CLOSE_CONVERSATION/instagram", map[string]any{
			"business.handle": "your_business_handle", "business.number": null,
			"customer.handle": "abhishxo", "customer.phone": null, "customer.phoneE164": null,
		}},
		{"CLOSE_CONVERSATION/whatsapp", map[string]any{
			"business.number": "+919000000000", "business.numberE164": "+919000000000", "business.handle": null,
			"customer.phone": "+919111222333", "customer.name": "Rohan Mehta",
		}},
		{"ADD_TAG/instagram", map[string]any{"customer.handle": "abhishxo", "customer.phone": null, "tag.name": "Premium Customer"}},
		{"ADD_TAG/default", map[string]any{"customer.phone": "+919876543210", "customer.handle": null}},
		{"CALL_INCOMING_INITIATED/default", map[string]any{
			"call.startedAt": null, "call.failedReason": null, "call.pickedBy": null, "chatId": null, // "" in the payload
			"call.durationSeconds": 0.0,
			"customer.phone":       "919876543210", "customer.phoneE164": "+919876543210",
			"business.numberE164": "+919000000000",
		}},
		{"CALL_ENDED/pstn", map[string]any{"customer.phone": "09876543210", "customer.phoneE164": null, "business.number": "08045678901"}},
		{"CALL_MISSED/default", map[string]any{"missed.newCaller": false, "call.endedAt": "2026-01-15T10:33:10Z"}},
		{"WA_GROUP_MESSAGE_RECEIVED/default", map[string]any{"group.id": "120363012345678901", "customer.phone": "919999999999"}},
		{"CUSTOMER_NOTE_CREATED/default", map[string]any{"at": "2024-01-15T10:30:00Z", "agent.name": "James Smith", "note.id": "note_01HX9abc123"}},
		{"TEMPLATE_UPDATE/default", map[string]any{"rejectedReason": null, "status": "APPROVED", "previousStatus": "PENDING", "business.number": "+919000000000"}},
		{"UPDATE_CUSTOMER_CUSTOM_FIELD/removed", map[string]any{"field.value": null, "change": "ATTRIBUTE_REMOVED", "customer.name": "John Doe"}},
		{"NEW_LEAD/ctwa", map[string]any{"ctwa": true, "referral.ctwaClid": "ARAkLgKMnpFbFoAbXABC123", "message.id": "msg_01HX9abc123def456"}},
		{"NEW_LEAD/default", map[string]any{"ctwa": false, "referral": null}},
		{"WIDGET_LEAD_RECEIVED/default", map[string]any{"customer.id": null, "verified": false}},
		{"VERIFIED_WIDGET_LEAD_RECEIVED/default", map[string]any{"customer.phone": "+919876543210", "verified": true}},
		{"CONVERSATION_COST_DEDUCTED/default", map[string]any{"cost": 0.0058, "conversationId": "conv_01HX9abc123def456"}},
		{"ASSIGNED_AGENT_STATUS_CHANGED/online", map[string]any{"previousStatus": null, "status": "ONLINE"}},
	}
	tbl := doubletick.Default()
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("../../testdata/fixtures", tt.fixture+".json"))
			if err != nil {
				t.Fatal(err)
			}
			n, err := tbl.Convert(filepath.Dir(tt.fixture), body, doubletick.Hints{})
			if err != nil {
				t.Fatal(err)
			}
			var data map[string]any
			if err := json.Unmarshal(n.Data, &data); err != nil {
				t.Fatal(err)
			}
			for path, want := range tt.want {
				got, ok := lookup(data, path)
				if !ok {
					t.Errorf("%s: absent, want %v", path, want)
					continue
				}
				if got != want {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
		})
	}
}

func lookup(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// TestNaturalKeys: events with a natural key (catalog §3.8) are keyed by it,
// not by the body; the type is always part of the key; a missing key field
// falls back to the body hash.
func TestNaturalKeys(t *testing.T) {
	tbl := doubletick.Default()
	key := func(event, body string) string {
		t.Helper()
		n, err := tbl.Convert(event, []byte(body), doubletick.Hints{})
		if err != nil {
			t.Fatalf("Convert(%s, %s): %v", event, body, err)
		}
		return n.DedupKey
	}
	msg := `{"message":{"type":"TEXT","text":"hi"},"dtMessageId":"d1","from":"9","to":"1","isAgentOffline":false}`
	msgLater := `{"message":{"type":"TEXT","text":"hi"},"dtMessageId":"d1","from":"9","to":"1","isAgentOffline":true}`
	tests := []struct {
		name       string
		a, b       [2]string // event, body
		same       bool
		wantPrefix string // of a's key
	}{
		{"same message id, body differs", [2]string{"MESSAGE_RECEIVED", msg}, [2]string{"MESSAGE_RECEIVED", msgLater}, true, "message.received:n:"},
		{"same message id, other type", [2]string{"MESSAGE_RECEIVED", msg}, [2]string{"CALL_TO_WHATSAPP_MESSAGE_RECEIVED", msg}, false, "message.received:n:"},
		{"status: same message, other status",
			[2]string{"MESSAGE_STATUS_UPDATE", `{"messageId":"m","status":"SENT"}`},
			[2]string{"MESSAGE_STATUS_UPDATE", `{"messageId":"m","status":"READ"}`}, false, "message.status.updated:n:"},
		{"status: redelivered with more fields",
			[2]string{"MESSAGE_STATUS_UPDATE", `{"messageId":"m","status":"SENT"}`},
			[2]string{"MESSAGE_STATUS_UPDATE", `{"messageId":"m","status":"SENT","customerName":"x"}`}, true, "message.status.updated:n:"},
		{"missing key field: body hash",
			[2]string{"MESSAGE_STATUS_UPDATE", `{"status":"SENT"}`},
			[2]string{"MESSAGE_STATUS_UPDATE", `{"status":"SENT","x":1}`}, false, "message.status.updated:b:"},
		{"optional key part absent vs null",
			[2]string{"TEMPLATE_UPDATE", `{"wabaPhoneNumber":"+1","templateName":"t","templateLanguage":"en","newStatus":"APPROVED","oldStatus":null}`},
			[2]string{"TEMPLATE_UPDATE", `{"wabaPhoneNumber":"+1","templateName":"t","templateLanguage":"en","newStatus":"APPROVED"}`}, true, "template.status.updated:n:"},
		{"optional key part differs",
			[2]string{"TEMPLATE_UPDATE", `{"wabaPhoneNumber":"+1","templateName":"t","templateLanguage":"en","newStatus":"APPROVED","oldStatus":"PENDING"}`},
			[2]string{"TEMPLATE_UPDATE", `{"wabaPhoneNumber":"+1","templateName":"t","templateLanguage":"en","newStatus":"APPROVED","oldStatus":"PAUSED"}`}, false, "template.status.updated:n:"},
		{"no natural key: key order and whitespace",
			[2]string{"ADD_TAG", `{"tagId":"t","dtCustomerId":"c","tagAdded":true}`},
			[2]string{"ADD_TAG", "{ \"tagAdded\" : true,\n \"dtCustomerId\":\"c\", \"tagId\":\"t\" }"}, true, "customer.tag.added:b:"},
		{"no natural key: same body, other type",
			[2]string{"ADD_TAG", `{"tagId":"t","dtCustomerId":"c"}`},
			[2]string{"REMOVE_TAG", `{"tagId":"t","dtCustomerId":"c"}`}, false, "customer.tag.added:b:"},
		{"call lifecycle: same call, other event",
			[2]string{"CALL_ACCEPTED", `{"callId":"c"}`},
			[2]string{"CALL_ENDED", `{"callId":"c"}`}, false, "call.accepted:n:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := key(tt.a[0], tt.a[1]), key(tt.b[0], tt.b[1])
			if (ka == kb) != tt.same {
				t.Errorf("keys %s and %s: same = %v, want %v", ka, kb, ka == kb, tt.same)
			}
			if !strings.HasPrefix(ka, tt.wantPrefix) {
				t.Errorf("key %s, want prefix %s", ka, tt.wantPrefix)
			}
		})
	}
}
