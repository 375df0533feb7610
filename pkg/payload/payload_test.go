package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testMax = 64

// countingReader counts the bytes handed out and has no known length.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// errClass names the outcome so tables stay readable.
func errClass(err error) string {
	if err == nil {
		return "ok"
	}
	var me *MalformedError
	switch {
	case errors.Is(err, ErrTooLarge):
		return "413"
	case errors.Is(err, ErrUnsupportedMediaType):
		return "415"
	case errors.As(err, &me):
		return "400: " + me.Reason
	}
	return "other: " + err.Error()
}

type part struct {
	name, filename, contentType, data string
}

// multipartBody builds a multipart/form-data body and its Content-Type.
func multipartBody(t testing.TB, parts ...part) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.SetBoundary("BOUNDARY"); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := `form-data; name="` + p.name + `"`
		if p.filename != "" {
			cd += `; filename="` + p.filename + `"`
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(pw, p.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), w.FormDataContentType()
}

func TestRead(t *testing.T) {
	mpBody, mpType := multipartBody(t,
		part{name: "event", data: "message<received>"},
		part{name: "media", filename: "a.txt", contentType: "text/plain", data: "hi!"},
		part{name: "tag", data: "x"},
		part{name: "tag", data: "y"},
	)
	var manyParts []part
	for range 4 {
		manyParts = append(manyParts, part{name: "f", data: "1"})
	}
	tooMany, tooManyType := multipartBody(t, manyParts...)
	threeParts, threeType := multipartBody(t, manyParts[:3]...)
	noName, noNameType := multipartBody(t, part{name: "", data: "v"})
	badUTF8MP, badUTF8MPType := multipartBody(t, part{name: "a", data: "\xff"})
	bigFile, bigFileType := multipartBody(t, part{name: "f", filename: "x.bin", data: strings.Repeat("z", 600)})

	exact := `{"k":"` + strings.Repeat("v", testMax-8) + `"}`
	if len(exact) != testMax {
		t.Fatalf("exact is %d bytes", len(exact))
	}

	tests := []struct {
		name      string
		body      string
		ct        string
		encoding  string
		want      string // errClass
		wantJSON  string // "" = JSON must equal Raw (when ok)
		wantKind  Kind
		wantMedia string
		max       int64 // MaxBody; 0 = testMax
		parts     int   // MaxParts; 0 = 3
	}{
		{name: "json with charset", body: `{"a":1}`, ct: "application/json; charset=utf-8", want: "ok", wantKind: KindJSON, wantMedia: "application/json"},
		{name: "json no content type", body: ` {"a":1}`, want: "ok", wantKind: KindJSON},
		{name: "json as text/plain", body: `{"a":[1,2]}`, ct: "text/plain", want: "ok", wantKind: KindJSON, wantMedia: "text/plain"},
		{name: "json +json type", body: `{"a":1}`, ct: "application/cloudevents+json", want: "ok", wantKind: KindJSON, wantMedia: "application/cloudevents+json"},
		{name: "json bad media param tolerated", body: `{"a":1}`, ct: "application/json; charset", want: "ok", wantKind: KindJSON, wantMedia: "application/json"},
		{name: "json unparsable content type", body: `{"a":1}`, ct: "/", want: "ok", wantKind: KindJSON},
		{name: "exactly MaxBody", body: exact, ct: "application/json", want: "ok", wantKind: KindJSON, wantMedia: "application/json"},
		{name: "text/plain not json", body: "hello", ct: "text/plain", want: "415", wantMedia: "text/plain"},
		{name: "application/json not json", body: "{oops", ct: "application/json", want: "400: body is not valid JSON", wantMedia: "application/json"},
		{name: "+json not json", body: "nope", ct: "application/vnd.x+json", want: "400: body is not valid JSON", wantMedia: "application/vnd.x+json"},
		{name: "no content type not json", body: "nope", want: "400: body is not valid JSON"},
		{name: "unparsable content type not json", body: "nope", ct: "/", want: "400: invalid Content-Type"},
		{name: "array top level", body: `[{"a":1}]`, ct: "application/json", want: "400: body is not a JSON object", wantMedia: "application/json"},
		{name: "string top level", body: `"x"`, want: "400: body is not a JSON object"},
		{name: "invalid utf-8", body: "{\"a\":\"\xff\"}", ct: "application/json", want: "400: invalid UTF-8", wantMedia: "application/json"},
		{name: "empty body", body: "", ct: "application/json", want: "400: empty body", wantMedia: "application/json"},
		{name: "gzip", body: "\x1f\x8b\x08", ct: "application/json", encoding: "gzip", want: "415", wantMedia: "application/json"},
		{name: "gzip among encodings", body: `{}`, ct: "application/json", encoding: "identity, gzip", want: "415", wantMedia: "application/json"},
		{name: "identity encoding", body: `{}`, ct: "application/json", encoding: "identity", want: "ok", wantKind: KindJSON, wantMedia: "application/json"},
		{name: "urlencoded repeated keys", body: "b=2&a=x+y&b=3&c%5Bd%5D=%3C%26%3E",
			ct: "application/x-www-form-urlencoded", want: "ok", wantKind: KindForm, wantMedia: "application/x-www-form-urlencoded",
			wantJSON: `{"a":"x y","b":["2","3"],"c[d]":"<&>"}`},
		{name: "urlencoded json object (curl -d)", body: `{"a":"x y","b":[1,2]}`, ct: "application/x-www-form-urlencoded",
			want: "ok", wantKind: KindJSON, wantMedia: "application/x-www-form-urlencoded"},
		{name: "urlencoded bad escape", body: "a=%zz", ct: "application/x-www-form-urlencoded", want: "400: body is not valid form encoding",
			wantMedia: "application/x-www-form-urlencoded"},
		{name: "urlencoded invalid utf-8", body: "a=%ff", ct: "application/x-www-form-urlencoded", want: "400: invalid UTF-8",
			wantMedia: "application/x-www-form-urlencoded"},
		{name: "urlencoded json too large", body: "a&a&a&a&a&a&a&a&a&a&a&a&a&a&a&a&a&a&a&a&a&a&a&a&a&a&a&a",
			ct: "application/x-www-form-urlencoded", want: "413"},
		{name: "multipart field and file", body: mpBody, ct: mpType, want: "ok", wantKind: KindMultipart, wantMedia: "multipart/form-data",
			wantJSON: `{"event":"message<received>","media":{"filename":"a.txt","contentType":"text/plain","size":3,"base64":"aGkh"},"tag":["x","y"]}`,
			max:      1024, parts: 4},
		{name: "multipart exactly MaxParts", body: threeParts, ct: threeType, want: "ok", wantKind: KindMultipart, wantMedia: "multipart/form-data",
			wantJSON: `{"f":["1","1","1"]}`, max: 1024},
		{name: "multipart MaxParts+1", body: tooMany, ct: tooManyType, want: "413", max: 1024},
		{name: "multipart missing boundary", body: mpBody, ct: "multipart/form-data", want: "400: missing multipart boundary",
			wantMedia: "multipart/form-data", max: 1024},
		{name: "multipart wrong boundary", body: mpBody, ct: "multipart/form-data; boundary=OTHER", want: "400: bad multipart body",
			wantMedia: "multipart/form-data", max: 1024},
		{name: "multipart part without name", body: noName, ct: noNameType, want: "400: multipart part without a form name",
			wantMedia: "multipart/form-data", max: 1024},
		{name: "multipart invalid utf-8", body: badUTF8MP, ct: badUTF8MPType, want: "400: invalid UTF-8",
			wantMedia: "multipart/form-data", max: 1024},
		{name: "multipart json too large", body: bigFile, ct: bigFileType, want: "413", max: int64(len(bigFile))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Limits{MaxBody: testMax, MaxParts: 3}
			if tt.max != 0 {
				l.MaxBody = tt.max
			}
			if tt.parts != 0 {
				l.MaxParts = tt.parts
			}
			r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(tt.body))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			if tt.encoding != "" {
				r.Header.Set("Content-Encoding", tt.encoding)
			}
			b, err := Read(r, l)
			if got := errClass(err); got != tt.want {
				t.Fatalf("Read error = %s (%v), want %s", got, err, tt.want)
			}
			if tt.want == "413" {
				return
			}
			if b.MediaType != tt.wantMedia {
				t.Errorf("MediaType = %q, want %q", b.MediaType, tt.wantMedia)
			}
			if string(b.Raw) != tt.body || b.Raw == nil {
				t.Errorf("Raw = %q, want the body as received", b.Raw)
			}
			if err != nil {
				return
			}
			if b.Kind != tt.wantKind {
				t.Errorf("Kind = %v, want %v", b.Kind, tt.wantKind)
			}
			want := tt.wantJSON
			if want == "" {
				want = tt.body
			}
			if string(b.JSON) != want {
				t.Errorf("JSON = %s\nwant   %s", b.JSON, want)
			}
			if int64(len(b.JSON)) > l.MaxBody {
				t.Errorf("JSON is %d bytes, over MaxBody %d", len(b.JSON), l.MaxBody)
			}
		})
	}
}

func TestReadTooLarge(t *testing.T) {
	over := strings.Repeat("x", testMax+1)
	huge := `{"a":"` + strings.Repeat("x", 10*testMax) + `"}`
	tests := []struct {
		name          string
		body          string
		contentLength int64 // -1 = unknown (chunked)
		maxRead       int64 // bytes the reader may hand out
	}{
		{"declared MaxBody+1 not read at all", over, testMax + 1, 0},
		{"chunked MaxBody+1", over, -1, testMax + 1},
		{"chunked huge", huge, -1, testMax + 1},
		{"Content-Length lies low", huge, 10, testMax + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := &countingReader{r: strings.NewReader(tt.body)}
			r := httptest.NewRequest(http.MethodPost, "/hook", cr)
			r.ContentLength = tt.contentLength
			r.Header.Set("Content-Type", "application/json")
			b, err := Read(r, Limits{MaxBody: testMax})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			if b.Raw != nil {
				t.Errorf("Raw = %d bytes, want nil", len(b.Raw))
			}
			if cr.n > tt.maxRead {
				t.Errorf("read %d bytes from the body, want at most %d", cr.n, tt.maxRead)
			}
		})
	}
}

func TestReadMaxBytesReader(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(`{"a":"bcdefgh"}`))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 5)
	r.ContentLength = -1
	if _, err := Read(r, Limits{MaxBody: testMax}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestReadDefaults(t *testing.T) {
	body := `{"a":"` + strings.Repeat("x", int(DefaultMaxBody)-8) + `"}`
	r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
	if _, err := Read(r, Limits{}); err != nil {
		t.Fatalf("body of DefaultMaxBody bytes: %v", err)
	}
	r = httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body+" "))
	if _, err := Read(r, Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("body of DefaultMaxBody+1 bytes: err = %v, want ErrTooLarge", err)
	}
}

func FuzzRead(f *testing.F) {
	mp, mpType := multipartBody(f, part{name: "a", data: "1"}, part{name: "f", filename: "x", contentType: "image/png", data: "\x89PNG"})
	seeds := []struct{ body, ct string }{
		{`{"a":1}`, "application/json"},
		{`{"a":1}`, ""},
		{`[1]`, "text/plain"},
		{"hello", "text/plain"},
		{"a=1&b=2&b=3", "application/x-www-form-urlencoded"},
		{"a=%ff", "application/x-www-form-urlencoded"},
		{mp, mpType},
		{mp, "multipart/form-data"},
		{"{\"a\":\"\xff\"}", "application/json; charset=utf-8"},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.ct, int64(len(s.body)))
	}
	// Every DoubleTick fixture, as JSON and as the form DoubleTick's
	// FORM_DATA setting might send (top-level members as fields).
	for _, fx := range fixtureBodies(f) {
		f.Add(fx, "application/json", int64(len(fx)))
		form := formOf(f, fx)
		f.Add([]byte(form), "application/x-www-form-urlencoded", int64(len(form)))
	}
	const maxBody = 2048
	lim := Limits{MaxBody: maxBody, MaxParts: 8}
	f.Fuzz(func(t *testing.T, body []byte, ct string, contentLength int64) {
		r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		if contentLength < 0 || contentLength == int64(len(body)) {
			r.ContentLength = -1 // unknown length; a lying positive value is kept
		}
		r.Header.Set("Content-Type", ct)
		b, err := Read(r, lim)
		if err != nil {
			if c := errClass(err); strings.HasPrefix(c, "other") {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if !json.Valid(b.JSON) || len(b.JSON) > maxBody {
			t.Fatalf("bad JSON (%d bytes): %q", len(b.JSON), b.JSON)
		}
		var obj map[string]any
		if err := json.Unmarshal(b.JSON, &obj); err != nil || obj == nil {
			t.Fatalf("JSON is not an object: %q (%v)", b.JSON, err)
		}
		if !bytes.Equal(b.Raw, body) {
			t.Fatalf("Raw differs from body")
		}
	})
}

// fixtureBodies reads every DoubleTick fixture.
func fixtureBodies(tb testing.TB) [][]byte {
	tb.Helper()
	paths, err := filepath.Glob("../../testdata/fixtures/*/*.json")
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no fixtures: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// formOf encodes a JSON object's top-level members as a urlencoded form:
// strings as they are, everything else as its JSON text.
func formOf(tb testing.TB, body []byte) string {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		tb.Fatal(err)
	}
	v := url.Values{}
	for k, raw := range m {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			v.Set(k, s)
		} else {
			v.Set(k, string(raw))
		}
	}
	return v.Encode()
}
