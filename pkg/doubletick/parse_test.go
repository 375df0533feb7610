package doubletick

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// reference is what Parse must agree with: encoding/json's decoder with
// UseNumber, one object, nothing after it.
func reference(body []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return m, true
}

func TestDecodeObjectAgreesWithEncodingJSON(t *testing.T) {
	cases := []string{
		`{}`, ` {"a":1} `, `{"a":-0.5e+10,"b":[1,2,{"c":null}],"d":true,"e":false}`,
		`{"a":"\u00e9\ud83d\ude00\n\t\"\\\/"}`, `{"a":"\ud800"}`, `{"a":"\ud800\u0041"}`, `{"a":"\udc00\ud800"}`,
		"{\"a\":\"\xff\xfe ok\"}", "{\"a\":\"caf\xc3\xa9\"}", "{\"\xff\":1}", `{"a":1,"a":2}`,
		`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":-}`, `{"a":+1}`, `{"a":"x`, `{"a":"\x"}`,
		"{\"a\":\"\x01\"}", `{"a":"\u12"}`, `{"a" 1}`, `{"a":1,}`, `{,}`, `[1]`, `"x"`, `null`, ``, `{"a":[1,]}`,
		`{"a":1}x`, `{"a":1} {}`, `{"a":tru}`, `{"a":nul}`, `{"a":[]}`, `{"a":{}}`, "{\"a\":1}\n",
		`{"a":1E5,"b":0,"c":-0,"d":123456789012345678901234567890}`,
		"{\"a\":\"\xed\xa0\x80\"}", // a surrogate encoded as UTF-8: invalid UTF-8
		`{"a":"\uD834\uDD1E"}`, `{"a":"\uDD1E"}`, `{"a":"\uD834"}`, `{"a":"\uD834\n"}`, `{"a":"\uD834\uD834\uDD1E"}`,
		"{\"a\":[" + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "]}",
		"{\"a\":" + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + "}",
	}
	for _, c := range cases {
		checkAgainstReference(t, []byte(c))
	}
	paths, _ := filepath.Glob("../../testdata/fixtures/*/*.json")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		checkAgainstReference(t, b)
	}
}

func checkAgainstReference(t *testing.T, body []byte) {
	t.Helper()
	want, wantOK := reference(body)
	got, err := decodeObject(body)
	if wantOK != (err == nil) {
		t.Fatalf("decodeObject(%.80q): err %v, encoding/json ok=%v", body, err, wantOK)
	}
	if err != nil {
		var me *MalformedError
		if !errors.As(err, &me) {
			t.Fatalf("decodeObject(%.80q): untyped error %v", body, err)
		}
		return
	}
	if !reflect.DeepEqual(map[string]any(got), want) {
		t.Fatalf("decodeObject(%.80q) = %v, encoding/json %v", body, got, want)
	}
	// The canonical form is valid JSON of the same value.
	c := got.canonical()
	again, ok := reference(c)
	if !ok || !reflect.DeepEqual(again, want) {
		t.Fatalf("canonical(%.80q) = %.80q, not the same JSON value", body, c)
	}
	if c2 := mustDecode(t, c).canonical(); !bytes.Equal(c, c2) {
		t.Fatalf("canonical is not a fixed point: %.80q then %.80q", c, c2)
	}
}

func FuzzDecodeObject(f *testing.F) {
	paths, _ := filepath.Glob("../../testdata/fixtures/*/*.json")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"a":"\ud800\u0041","b":[1e5,-0.0,{"c":"\\"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) { checkAgainstReference(t, body) })
}

// BenchmarkParseVsEncodingJSON compares Parse with encoding/json's decoder (the reference
// it replaced) on every fixture, side by side in one run.
func BenchmarkParseVsEncodingJSON(b *testing.B) {
	paths, _ := filepath.Glob("../../testdata/fixtures/*/*.json")
	var bodies [][]byte
	size := 0
	for _, p := range paths {
		body, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, body)
		size += len(body)
	}
	for _, impl := range []struct {
		name  string
		parse func([]byte) bool
	}{
		{"Parse", func(body []byte) bool { _, err := Parse(body); return err == nil }},
		{"encoding-json", func(body []byte) bool { _, ok := reference(body); return ok }},
	} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				for _, body := range bodies {
					if !impl.parse(body) {
						b.Fatal("parse failed")
					}
				}
			}
		})
	}
}

func mustDecode(t *testing.T, b []byte) Payload {
	t.Helper()
	p, err := decodeObject(b)
	if err != nil {
		t.Fatalf("decodeObject(%.80q): %v", b, err)
	}
	return p
}
