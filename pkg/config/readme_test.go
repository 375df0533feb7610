package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEDocumentsEveryKey: every configuration key appears in the
// README's configuration table, so a new key cannot ship undocumented.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if !strings.Contains(string(readme), "`"+k+"`") {
			t.Errorf("README.md does not document `%s`", k)
		}
	}
}
