package doubletick

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// canonicalSeeds are bodies that exercise every branch of the canonical
// encoding: escapes, HTML characters, U+2028/2029, invalid UTF-8, control
// characters, numbers as written, nesting, empty containers, null.
var canonicalSeeds = []string{
	`{}`,
	`{"b":1,"a":2.50,"c":-0.0e+10,"d":12345678901234567890}`,
	`{"s":"<a href=\"x\">&amp;</a>","t":"tab\tnl\nbs\\ bell\u0007 bsp\b ff\f cr\r del\u007f"}`,
	`{"ls":"\u2028 and \u2029","emoji":"😀","latin":"ñ"}`,
	"{\"bad\":\"\xff\xfe\",\"k\xffey\":1}",
	`{"n":null,"t":true,"f":false,"arr":[],"obj":{},"nested":[{"z":1,"y":[null,"x",{"<":">"}]}]}`,
	`{"ключ":"значение","a b":"","":"empty key"}`,
}

// TestCanonicalIsMarshal: canonical is byte for byte what json.Marshal of
// the payload gives (the dedup keys already stored depend on it), for every
// fixture and for the seeds.
func TestCanonicalIsMarshal(t *testing.T) {
	bodies := append([]string(nil), canonicalSeeds...)
	paths, _ := filepath.Glob("../../testdata/fixtures/*/*.json")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(b))
	}
	for _, body := range bodies {
		checkCanonical(t, []byte(body))
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkCanonical(t, body)
	})
}

func checkCanonical(t *testing.T, body []byte) {
	t.Helper()
	p, err := Parse(body)
	if err != nil {
		return // not a JSON object: never hashed
	}
	want, err := json.Marshal(map[string]any(p))
	if err != nil {
		t.Fatalf("json.Marshal(%q): %v", body, err)
	}
	if got := p.canonical(); !bytes.Equal(got, want) {
		t.Errorf("canonical(%q)\n got %s\nwant %s", body, got, want)
	}
}
