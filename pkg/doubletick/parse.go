package doubletick

import (
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dtbridge/dtbridge/pkg/internal/jsonscan"
)

// maxDepth bounds nesting, as encoding/json does (10000), so hostile input
// cannot exhaust the stack.
const maxDepth = jsonscan.MaxNesting

// decodeObject parses body, which must hold one JSON object and nothing
// else but whitespace, into the values encoding/json produces with
// UseNumber: map[string]any, []any, string, json.Number, bool and nil. It
// is a single pass over the bytes (encoding/json's decoder makes two), and a
// differential fuzz test (FuzzDecodeObject) holds it to encoding/json's
// results, including invalid UTF-8 and lone surrogates becoming U+FFFD.
func decodeObject(body []byte) (Payload, error) {
	d := decoder{jsonscan.Scanner{B: body}}
	d.Space()
	if d.I >= len(d.B) || d.B[d.I] != '{' {
		return nil, &MalformedError{Reason: "body is not a JSON object"}
	}
	v, ok := d.object(0)
	if !ok {
		return nil, &MalformedError{Reason: "body is not a JSON object"}
	}
	if d.Space(); d.I != len(d.B) {
		return nil, &MalformedError{Reason: "body has data after the JSON object"}
	}
	return v, nil
}

// decoder builds values over jsonscan's lexical primitives (the same ones
// the envelope's data check uses).
type decoder struct{ jsonscan.Scanner }

func (d *decoder) value(depth int) (any, bool) {
	d.Space()
	if d.I >= len(d.B) {
		return nil, false
	}
	switch c := d.B[d.I]; {
	case c == '{':
		m, ok := d.object(depth)
		return map[string]any(m), ok
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.string()
	case c == '-' || (c >= '0' && c <= '9'):
		start := d.I
		if !d.Number() {
			return nil, false
		}
		return json.Number(d.B[start:d.I]), true
	case c == 't':
		return true, d.Literal("true")
	case c == 'f':
		return false, d.Literal("false")
	case c == 'n':
		return nil, d.Literal("null")
	}
	return nil, false
}

// object parses {…} at d.I.
func (d *decoder) object(depth int) (Payload, bool) {
	if depth++; depth > maxDepth {
		return nil, false
	}
	d.I++ // {
	m := make(Payload)
	d.Space()
	if d.I < len(d.B) && d.B[d.I] == '}' {
		d.I++
		return m, true
	}
	for {
		d.Space()
		if d.I >= len(d.B) || d.B[d.I] != '"' {
			return nil, false
		}
		k, ok := d.string()
		if !ok {
			return nil, false
		}
		d.Space()
		if d.I >= len(d.B) || d.B[d.I] != ':' {
			return nil, false
		}
		d.I++
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		m[k] = v
		d.Space()
		if d.I >= len(d.B) {
			return nil, false
		}
		switch d.B[d.I] {
		case ',':
			d.I++
		case '}':
			d.I++
			return m, true
		default:
			return nil, false
		}
	}
}

// array parses […] at d.I.
func (d *decoder) array(depth int) (any, bool) {
	if depth++; depth > maxDepth {
		return nil, false
	}
	d.I++ // [
	a := []any{}
	d.Space()
	if d.I < len(d.B) && d.B[d.I] == ']' {
		d.I++
		return a, true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		d.Space()
		if d.I >= len(d.B) {
			return nil, false
		}
		switch d.B[d.I] {
		case ',':
			d.I++
		case ']':
			d.I++
			return a, true
		default:
			return nil, false
		}
	}
}

// string parses a JSON string at d.I (at its opening quote). The common
// case — no escapes, valid UTF-8 — is one scan and one copy.
func (d *decoder) string() (string, bool) {
	d.I++ // "
	start := d.I
	for d.I < len(d.B) {
		c := d.B[d.I]
		switch {
		case c == '"':
			s := string(d.B[start:d.I])
			d.I++
			return s, true
		case c == '\\' || c >= utf8.RuneSelf:
			return d.slowString(start)
		case c < 0x20:
			return "", false
		}
		d.I++
	}
	return "", false
}

// slowString finishes a string that has escapes or non-ASCII bytes,
// replacing invalid UTF-8 and lone surrogates with U+FFFD like encoding/json.
func (d *decoder) slowString(start int) (string, bool) {
	out := make([]byte, 0, d.I-start+16)
	out = append(out, d.B[start:d.I]...)
	for d.I < len(d.B) {
		c := d.B[d.I]
		switch {
		case c == '"':
			d.I++
			return string(out), true
		case c < 0x20:
			return "", false
		case c == '\\':
			d.I++
			if d.I >= len(d.B) {
				return "", false
			}
			e := d.B[d.I]
			d.I++
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					// A valid pair is \uD8xx\uDCxx; anything else is U+FFFD
					// and the next escape is read on its own.
					if d.I+1 < len(d.B) && d.B[d.I] == '\\' && d.B[d.I+1] == 'u' {
						save := d.I
						d.I += 2
						r2, ok := d.hex4()
						if !ok {
							return "", false
						}
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							continue
						}
						d.I = save
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", false
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			d.I++
		default:
			r, size := utf8.DecodeRune(d.B[d.I:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, d.B[d.I:d.I+size]...)
			}
			d.I += size
		}
	}
	return "", false
}

// hex4 reads the four hex digits of a \u escape.
func (d *decoder) hex4() (rune, bool) {
	if len(d.B)-d.I < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(d.B[d.I:d.I+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	d.I += 4
	return rune(n), true
}
