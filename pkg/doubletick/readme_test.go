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
	want := Default().Markdown("doubletick")
	if *update {
		s = s[:end-len(got)] + want + s[end:]
		if err := os.WriteFile("../../README.md", []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		t.Errorf("README event table is out of date; run go test ./pkg/doubletick -update; want:\n%s", want)
	}
}
