package jsonscan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var validSeeds = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `true`, `false`, `null`, ` {"a" : [1, {"b": null}] } `,
	`{"a":"\u00e9\ud800\"\\\/\b\f\n\r\t"}`, "\"\xff\xfe\"", `"\u12"`, `"\x"`, "\"\x01\"", `01`, `1.`, `.5`, `1e`, `-`, `+1`,
	`{"a" 1}`, `{"a":1,}`, `[1,]`, `{,}`, `[`, `{`, `"`, ``, ` `, `nul`, `tru`, `{"a":1}x`, `{} {}`, `[1 2]`, `{1:2}`,
}

// deepSeeds are at and just past the nesting limit: table-tested only (as
// fuzz seeds they would make every mutation a 60 KB input).
var deepSeeds = []string{
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
}

// TestValidAgreesWithEncodingJSON: Valid accepts exactly what
// encoding/json.Valid accepts, on tricky inputs and on every fixture and
// golden envelope.
func TestValidAgreesWithEncodingJSON(t *testing.T) {
	inputs := append(append([]string(nil), validSeeds...), deepSeeds...)
	for _, glob := range []string{"../../../testdata/fixtures/*/*.json", "../../../testdata/golden/*/*.json"} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			inputs = append(inputs, string(b), string(b[:len(b)/2]))
		}
	}
	for _, in := range inputs {
		if got, want := Valid([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("Valid(%.60q) = %v, encoding/json says %v", in, got, want)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

// BenchmarkValid compares Valid with encoding/json.Valid on every
// golden envelope, side by side.
func BenchmarkValid(b *testing.B) {
	paths, _ := filepath.Glob("../../../testdata/golden/*/*.json")
	var docs [][]byte
	size := 0
	for _, p := range paths {
		d, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, d)
		size += len(d)
	}
	for _, impl := range []struct {
		name  string
		valid func([]byte) bool
	}{{"Valid", Valid}, {"encoding-json", json.Valid}} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				for _, d := range docs {
					if !impl.valid(d) {
						b.Fatal("invalid")
					}
				}
			}
		})
	}
}
