package doubletick

import "testing"

func TestE164(t *testing.T) {
	tests := []struct {
		in   string
		kind numberKind
		ch   Channel
		want string // "" = nil
	}{
		{"+919876543210", e164Only, WhatsApp, "+919876543210"},
		{"+919876543210", e164Only, PSTN, "+919876543210"},
		{"919876543210", e164Only, WhatsApp, ""}, // documented with +: without one it could be local
		{"919876543210", waID, WhatsApp, "+919876543210"},
		{"919876543210", waID, PSTN, ""},      // PSTN numbers are not WhatsApp ids
		{"919876543210", waID, Instagram, ""}, // Instagram has no phone ids
		{"09876543210", waID, WhatsApp, ""},   // a trunk prefix: a local number
		{"+0919876543210", e164Only, WhatsApp, ""},
		{"120363012345678901", waID, WhatsApp, ""}, // a group id: too long for E.164
		{"123456", waID, WhatsApp, ""},             // too short
		{"+91 98765 43210", e164Only, WhatsApp, ""},
		{"abhishxo", waID, WhatsApp, ""},
		{"+", e164Only, WhatsApp, ""},
		{"", waID, WhatsApp, ""},
	}
	for _, tt := range tests {
		in := tt.in
		got := e164(&in, tt.kind, tt.ch)
		if (got == nil) != (tt.want == "") || (got != nil && *got != tt.want) {
			t.Errorf("e164(%q, %v, %s) = %v, want %q", tt.in, tt.kind, tt.ch, deref(got), tt.want)
		}
	}
	if e164(nil, waID, WhatsApp) != nil {
		t.Error("e164(nil) is not nil")
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
