package payload

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/dtbridge/dtbridge/pkg/internal/jsonscan"
)

// Defaults used when a [Limits] field is zero or negative.
const (
	DefaultMaxBody  int64 = 1 << 20
	DefaultMaxParts       = 64
)

// Kind is how the body was encoded on the wire.
type Kind int

// Body kinds. The zero Kind means the body was not classified (error paths).
const (
	KindJSON      Kind = iota + 1 // a JSON object, kept as received
	KindForm                      // application/x-www-form-urlencoded
	KindMultipart                 // multipart/form-data
)

func (k Kind) String() string {
	switch k {
	case KindJSON:
		return "json"
	case KindForm:
		return "form"
	case KindMultipart:
		return "multipart"
	}
	return "unknown"
}

// Body is a delivery body as read by [Read].
type Body struct {
	Raw       []byte // the bytes exactly as received (nil only when the limit was exceeded)
	JSON      []byte // the delivery as a JSON object: == Raw for KindJSON; the form converted to JSON otherwise
	MediaType string // parsed media type, lower case ("" when the request had no, or an unparsable, Content-Type)
	Kind      Kind
}

// Limits bounds what [Read] accepts.
type Limits struct {
	MaxBody  int64 // max bytes of body and of converted JSON; <= 0 means DefaultMaxBody
	MaxParts int   // max multipart parts; <= 0 means DefaultMaxParts
}

// Errors returned by [Read]; see the package documentation.
var (
	ErrTooLarge             = errors.New("payload: body too large")
	ErrUnsupportedMediaType = errors.New("payload: unsupported media type")
)

// MalformedError reports a body that cannot be accepted as sent. Reason is a
// short human message, safe to show to the client.
type MalformedError struct {
	Reason string
}

func (e *MalformedError) Error() string { return "payload: malformed body: " + e.Reason }

func malformed(reason string) error { return &MalformedError{Reason: reason} }

// Read reads r.Body within lim and returns it with its JSON object form.
func Read(r *http.Request, lim Limits) (Body, error) {
	if lim.MaxBody <= 0 {
		lim.MaxBody = DefaultMaxBody
	}
	if lim.MaxParts <= 0 {
		lim.MaxParts = DefaultMaxParts
	}
	if r.ContentLength > lim.MaxBody {
		return Body{}, ErrTooLarge
	}
	raw, err := readBounded(r.Body, r.ContentLength, lim.MaxBody)
	if err != nil {
		return Body{}, err
	}
	b := Body{Raw: raw}
	var params map[string]string
	badType := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		b.MediaType, params, err = mime.ParseMediaType(ct)
		if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
			b.MediaType, badType = "", true
		}
	}
	if len(raw) == 0 {
		return b, malformed("empty body")
	}
	for _, v := range r.Header.Values("Content-Encoding") {
		for _, enc := range strings.Split(v, ",") {
			if enc = strings.TrimSpace(enc); enc != "" && !strings.EqualFold(enc, "identity") {
				return b, fmt.Errorf("%w: content encoding %q", ErrUnsupportedMediaType, enc)
			}
		}
	}

	switch {
	case b.MediaType == "application/x-www-form-urlencoded" && isJSONObject(raw):
		// A JSON object sent as a form (curl -d's default Content-Type, a
		// proxy that rewrites it) is JSON: no real form body is a valid
		// JSON object, and reading it as a form would garble it.
		b.Kind = KindJSON
		b.JSON = raw
	case b.MediaType == "application/x-www-form-urlencoded":
		b.Kind = KindForm
		b.JSON, err = formJSON(raw, lim.MaxBody)
	case b.MediaType == "multipart/form-data":
		b.Kind = KindMultipart
		b.JSON, err = multipartJSON(raw, params["boundary"], lim)
	default:
		b.Kind = KindJSON
		b.JSON, err = rawJSON(raw, b.MediaType, badType)
	}
	if err != nil {
		b.JSON, b.Kind = nil, 0
		return b, err
	}
	return b, nil
}

// isJSONObject reports whether rawJSON accepts raw as a JSON body.
func isJSONObject(raw []byte) bool {
	_, err := rawJSON(raw, "application/json", false)
	return err == nil
}

// readBounded reads at most max+1 bytes from body into a buffer whose
// capacity never exceeds max+1, and fails with ErrTooLarge past max.
func readBounded(body io.Reader, contentLength, max int64) ([]byte, error) {
	if body == nil {
		return []byte{}, nil
	}
	size := int64(512)
	if contentLength >= 0 {
		size = contentLength + 1 // +1 to see EOF (or an overlong body) without growing
	}
	buf := make([]byte, 0, min(size, max+1))
	lr := io.LimitReader(body, max+1)
	for {
		if len(buf) == cap(buf) { // cap < max+1 here, or we would have returned
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), max+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, ErrTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return nil, ErrTooLarge
			}
			return nil, fmt.Errorf("payload: reading body: %w", err)
		}
	}
}

// rawJSON accepts raw as it is if it is a JSON object in valid UTF-8.
func rawJSON(raw []byte, mediaType string, badType bool) ([]byte, error) {
	if !jsonscan.Valid(raw) {
		switch {
		case badType:
			return nil, malformed("invalid Content-Type")
		case mediaType == "", mediaType == "application/json", strings.HasSuffix(mediaType, "+json"):
			return nil, malformed("body is not valid JSON")
		default:
			return nil, fmt.Errorf("%w: %s", ErrUnsupportedMediaType, mediaType)
		}
	}
	if !utf8.Valid(raw) {
		return nil, malformed("invalid UTF-8")
	}
	if bytes.TrimLeft(raw, " \t\r\n")[0] != '{' {
		return nil, malformed("body is not a JSON object")
	}
	return raw, nil
}

func formJSON(raw []byte, maxBody int64) ([]byte, error) {
	values, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, malformed("body is not valid form encoding")
	}
	fields := make(map[string][]any, len(values))
	for k, vs := range values {
		if !utf8.ValidString(k) {
			return nil, malformed("invalid UTF-8")
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return nil, malformed("invalid UTF-8")
			}
			fields[k] = append(fields[k], v)
		}
	}
	return fieldsJSON(fields, maxBody)
}

// filePart is the JSON form of a multipart file part.
type filePart struct {
	Filename    string `json:"filename"`
	ContentType string `json:"contentType"`
	Size        int    `json:"size"`
	Base64      string `json:"base64"`
}

func multipartJSON(raw []byte, boundary string, lim Limits) ([]byte, error) {
	if boundary == "" {
		return nil, malformed("missing multipart boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(raw), boundary)
	fields := make(map[string][]any)
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, malformed("bad multipart body")
		}
		if n == lim.MaxParts {
			return nil, fmt.Errorf("%w: more than %d multipart parts", ErrTooLarge, lim.MaxParts)
		}
		name := p.FormName()
		if name == "" {
			return nil, malformed("multipart part without a form name")
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, malformed("bad multipart body")
		}
		var v any = string(data)
		if filename := p.FileName(); filename != "" {
			v = filePart{filename, p.Header.Get("Content-Type"), len(data), base64.StdEncoding.EncodeToString(data)}
			if !utf8.ValidString(filename) || !utf8.ValidString(p.Header.Get("Content-Type")) {
				return nil, malformed("invalid UTF-8")
			}
		} else if !utf8.Valid(data) {
			return nil, malformed("invalid UTF-8")
		}
		if !utf8.ValidString(name) {
			return nil, malformed("invalid UTF-8")
		}
		fields[name] = append(fields[name], v)
	}
	return fieldsJSON(fields, lim.MaxBody)
}

// fieldsJSON encodes fields as a JSON object with sorted keys: one value as
// itself, several as an array. HTML characters are not escaped.
func fieldsJSON(fields map[string][]any, maxBody int64) ([]byte, error) {
	obj := make(map[string]any, len(fields))
	for k, vs := range fields {
		if len(vs) == 1 {
			obj[k] = vs[0]
		} else {
			obj[k] = vs
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, fmt.Errorf("payload: encoding form as JSON: %w", err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if int64(len(out)) > maxBody {
		return nil, fmt.Errorf("%w: form as JSON exceeds %d bytes", ErrTooLarge, maxBody)
	}
	return out, nil
}
