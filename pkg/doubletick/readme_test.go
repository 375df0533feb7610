package doubletick

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEEventTable: the README's event table is the event table.
func TestREADMEEventTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	begin := strings.Index(s, "<!-- events:begin")
	end := strings.Index(s, "<!-- events:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README.md has no events:begin / events:end markers")
	}
	got := s[strings.Index(s[begin:], "\n")+begin+1 : end]
	if want := Default().Markdown("doubletick"); got != want {
		t.Errorf("README event table is out of date; replace it with:\n%s", want)
	}
}
