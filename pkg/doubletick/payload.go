package doubletick

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dtbridge/dtbridge/pkg/envelope"
)

// Payload is a parsed delivery: the top-level JSON object, with numbers kept
// as written ([json.Number]).
type Payload map[string]any

// Parse decodes a delivery body. It fails with a [*MalformedError] when the
// body is not a single JSON object. It is on every delivery's path, so it is
// a single-pass parser (see decodeObject) rather than encoding/json.
func Parse(body []byte) (Payload, error) { return decodeObject(body) }

// Has reports whether key is present (even when null).
func (p Payload) Has(key string) bool { _, ok := p[key]; return ok }

// String returns the string at key; ok is false when it is absent, null or
// not a string.
func (p Payload) String(key string) (string, bool) {
	s, ok := p[key].(string)
	return s, ok
}

// True reports whether key holds the JSON boolean true.
func (p Payload) True(key string) bool {
	b, ok := p[key].(bool)
	return ok && b
}

// Nullable returns the value at key as a *string for normalized fields that
// keep DoubleTick's null: nil when absent or null, the string otherwise
// (numbers are kept in their written form).
func (p Payload) Nullable(key string) *string {
	switch v := p[key].(type) {
	case string:
		return &v
	case json.Number:
		s := v.String()
		return &s
	}
	return nil
}

// First returns the first of keys that holds a non-empty string.
func (p Payload) First(keys ...string) *string {
	for _, k := range keys {
		if s, ok := p.String(k); ok && s != "" {
			return &s
		}
	}
	return nil
}

// Time parses key as an RFC 3339 / ISO-8601 timestamp; ok is false when it is
// absent, empty or unparseable (DoubleTick sends "" for unset call times).
func (p Payload) Time(key string) (time.Time, bool) {
	s, ok := p.String(key)
	if !ok || s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// canonical returns the payload as canonical JSON: object keys sorted, no
// insignificant whitespace, numbers as written. Key order and formatting of
// the delivery do not change it. The bytes are exactly json.Marshal's (the
// dedup keys of stored events depend on them; a test compares the two),
// written without reflection.
func (p Payload) canonical() []byte {
	if b, ok := appendCanonical(make([]byte, 0, 512), map[string]any(p)); ok {
		return b
	}
	b, err := json.Marshal(map[string]any(p))
	if err != nil {
		// Every value came from json.Decoder, so it always re-encodes.
		panic(fmt.Sprintf("doubletick: re-encode payload: %v", err))
	}
	return b
}

// appendCanonical appends v as json.Marshal would encode it, for the types
// json.Decoder with UseNumber produces; ok is false for any other type.
func appendCanonical(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), true
	case bool:
		if v {
			return append(b, "true"...), true
		}
		return append(b, "false"...), true
	case string:
		return envelope.AppendString(b, v, true), true
	case json.Number:
		if v == "" {
			return append(b, '0'), true
		}
		return append(b, v...), true
	case []any:
		if v == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendCanonical(b, e); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	case map[string]any:
		if v == nil {
			return append(b, "null"...), true
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = envelope.AppendString(b, k, true)
			b = append(b, ':')
			var ok bool
			if b, ok = appendCanonical(b, v[k]); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	}
	return b, false
}

// upper is strings.ToUpper for the enum-like fields DoubleTick sends.
func upper(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// Object returns the JSON object at key, nil when absent or not an object.
func (p Payload) Object(key string) Payload {
	m, _ := p[key].(map[string]any)
	return m
}

// Array returns the JSON array at key, nil when absent or not an array.
func (p Payload) Array(key string) []any {
	a, _ := p[key].([]any)
	return a
}

// NonEmpty is [Payload.Nullable] with "" read as absent: DoubleTick sends ""
// for fields that do not apply yet (call times, rejection reasons).
func (p Payload) NonEmpty(key string) *string {
	if s := p.Nullable(key); s != nil && *s != "" {
		return s
	}
	return nil
}

// Bool returns the JSON boolean at key, nil when absent or not a boolean.
func (p Payload) Bool(key string) *bool {
	if b, ok := p[key].(bool); ok {
		return &b
	}
	return nil
}

// Number returns the number at key as written; a string holding a JSON
// number is accepted too (some integrations send coordinates as strings).
// Nil when absent or not a number.
func (p Payload) Number(key string) *json.Number {
	switch v := p[key].(type) {
	case json.Number:
		return &v
	case string:
		n := json.Number(strings.TrimSpace(v))
		if _, err := n.Float64(); err == nil && json.Valid([]byte(n)) {
			return &n
		}
	}
	return nil
}

// Raw returns the value at key re-encoded as JSON (as json.Marshal would:
// object keys sorted), nil when absent or null. It is for sub-objects
// passed through unchanged (contacts, flow responses).
func (p Payload) Raw(key string) json.RawMessage {
	v, ok := p[key]
	if !ok || v == nil {
		return nil
	}
	b, ok := appendCanonical(nil, v)
	if !ok {
		panic(fmt.Sprintf("doubletick: re-encode %s: unexpected %T", key, v)) // Parse produces only JSON types
	}
	return b
}

// KeysWithin reports whether every key of p is in allowed: a closed-world
// check for classification evidence that is only a shape.
func (p Payload) KeysWithin(allowed ...string) bool {
	for k := range p {
		found := false
		for _, a := range allowed {
			if k == a {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
