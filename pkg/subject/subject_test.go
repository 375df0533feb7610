package subject

import (
	"regexp"
	"testing"
)

var tokenRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

func TestToken(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"INSTAGRAM", "instagram"},
		{"whatsapp", "whatsapp"},
		{"+919000000000", "919000000000"},
		{"your.business_handle", "your_business_handle"},
		{"a.*.>", "a"},
		{"evil.>", "evil"},
		{"a b\tc\x00d", "a_b_c_d"},
		{"", "unknown"},
		{"...", "unknown"},
		{"ünïcode", "n_code"},
		{"__x__", "x"},
	} {
		if got := Token(tc.in); got != tc.want {
			t.Errorf("Token(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTemplate(t *testing.T) {
	tmpl, err := NewTemplate("", "doubletick")
	if err != nil {
		t.Fatal(err)
	}
	if got := tmpl.Subject(Fields{Channel: "INSTAGRAM", Type: "conversation.closed"}); got != "doubletick.instagram.conversation.closed" {
		t.Errorf("subject = %q", got)
	}
	if got := tmpl.Quarantine("unclassified"); got != "doubletick.quarantine.unclassified" {
		t.Errorf("quarantine = %q", got)
	}
	acct, err := NewTemplate("{prefix}.{account}.{channel}.{type}", "dt")
	if err != nil {
		t.Fatal(err)
	}
	if got := acct.Subject(Fields{Channel: "whatsapp", Type: "message.received", Account: "+91 900.*>"}); got != "dt.91_900.whatsapp.message.received" {
		t.Errorf("account subject = %q", got)
	}
	for _, bad := range []string{"{channel}.{type}", "{prefix}.{channel}", "{prefix}.{nope}.{type}", "{prefix}.*.{type}", "{prefix}.{type"} {
		if _, err := NewTemplate(bad, "dt"); err == nil {
			t.Errorf("NewTemplate(%q) accepted", bad)
		}
	}
	if _, err := NewTemplate("", "Bad.Prefix"); err == nil {
		t.Error("bad prefix accepted")
	}
}

// FuzzSubjectToken: whatever a payload puts in a channel or account field,
// the token is non-empty and cannot add subject tokens or wildcards.
func FuzzSubjectToken(f *testing.F) {
	for _, s := range []string{"INSTAGRAM", "a.b", "*", ">", " ", "\x00", "handle.with.dots", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := Token(s); !tokenRE.MatchString(got) {
			t.Fatalf("Token(%q) = %q, not a safe token", s, got)
		}
	})
}
