// Package jsonscan is the JSON grammar shared by dtbridge's hot-path readers:
// [Valid] (the envelope's data check) and the [Scanner] primitives that
// doubletick's single-pass parser builds on. Both are held to encoding/json
// by differential fuzz targets, so they accept exactly what it accepts.
package jsonscan

// Valid reports whether b is one JSON value (surrounded by optional
// whitespace), exactly as encoding/json.Valid does — including its
// acceptance of any byte ≥ 0x20 inside strings and its nesting limit of
// 10000 — but in one pass without allocating: it checks every stored
// envelope's data, so it is on every delivery's path. FuzzValid holds it to
// encoding/json.Valid.
func Valid(b []byte) bool {
	v := Scanner{B: b}
	v.Space()
	if !v.value(0) {
		return false
	}
	v.Space()
	return v.I == len(v.B)
}

// MaxNesting is encoding/json's limit on nested arrays and objects.
const MaxNesting = 10000

// Scanner walks JSON text: B[I:] is what is left. Its methods consume one
// lexical element and report whether it was well formed.
type Scanner struct {
	B []byte
	I int
}

// Space skips whitespace.
func (v *Scanner) Space() {
	for v.I < len(v.B) {
		switch v.B[v.I] {
		case ' ', '\t', '\n', '\r':
			v.I++
		default:
			return
		}
	}
}

func (v *Scanner) value(depth int) bool {
	if v.I >= len(v.B) {
		return false
	}
	switch c := v.B[v.I]; {
	case c == '{':
		return v.object(depth + 1)
	case c == '[':
		return v.array(depth + 1)
	case c == '"':
		return v.SkipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return v.Number()
	case c == 't':
		return v.Literal("true")
	case c == 'f':
		return v.Literal("false")
	case c == 'n':
		return v.Literal("null")
	}
	return false
}

// Literal consumes s (true, false, null) if it is next.
func (v *Scanner) Literal(s string) bool {
	if len(v.B)-v.I < len(s) || string(v.B[v.I:v.I+len(s)]) != s {
		return false
	}
	v.I += len(s)
	return true
}

func (v *Scanner) object(depth int) bool {
	if depth > MaxNesting {
		return false
	}
	v.I++ // {
	v.Space()
	if v.I < len(v.B) && v.B[v.I] == '}' {
		v.I++
		return true
	}
	for {
		v.Space()
		if v.I >= len(v.B) || v.B[v.I] != '"' || !v.SkipString() {
			return false
		}
		v.Space()
		if v.I >= len(v.B) || v.B[v.I] != ':' {
			return false
		}
		v.I++
		v.Space()
		if !v.value(depth) {
			return false
		}
		v.Space()
		if v.I >= len(v.B) {
			return false
		}
		switch v.B[v.I] {
		case ',':
			v.I++
		case '}':
			v.I++
			return true
		default:
			return false
		}
	}
}

func (v *Scanner) array(depth int) bool {
	if depth > MaxNesting {
		return false
	}
	v.I++ // [
	v.Space()
	if v.I < len(v.B) && v.B[v.I] == ']' {
		v.I++
		return true
	}
	for {
		v.Space()
		if !v.value(depth) {
			return false
		}
		v.Space()
		if v.I >= len(v.B) {
			return false
		}
		switch v.B[v.I] {
		case ',':
			v.I++
		case ']':
			v.I++
			return true
		default:
			return false
		}
	}
}

// SkipString consumes the JSON string at I (at its opening quote).
func (v *Scanner) SkipString() bool {
	v.I++ // "
	for v.I < len(v.B) {
		c := v.B[v.I]
		switch {
		case c == '"':
			v.I++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			v.I++
			if v.I >= len(v.B) {
				return false
			}
			switch v.B[v.I] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				v.I++
			case 'u':
				v.I++
				if len(v.B)-v.I < 4 {
					return false
				}
				for _, h := range v.B[v.I : v.I+4] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				v.I += 4
			default:
				return false
			}
		default:
			v.I++
		}
	}
	return false
}

// Number consumes a JSON number at I.
func (v *Scanner) Number() bool {
	if v.B[v.I] == '-' {
		v.I++
	}
	switch {
	case v.I < len(v.B) && v.B[v.I] == '0':
		v.I++
	case v.I < len(v.B) && v.B[v.I] >= '1' && v.B[v.I] <= '9':
		v.digits()
	default:
		return false
	}
	if v.I < len(v.B) && v.B[v.I] == '.' {
		v.I++
		if !v.digits() {
			return false
		}
	}
	if v.I < len(v.B) && (v.B[v.I] == 'e' || v.B[v.I] == 'E') {
		v.I++
		if v.I < len(v.B) && (v.B[v.I] == '+' || v.B[v.I] == '-') {
			v.I++
		}
		if !v.digits() {
			return false
		}
	}
	return true
}

func (v *Scanner) digits() bool {
	start := v.I
	for v.I < len(v.B) && v.B[v.I] >= '0' && v.B[v.I] <= '9' {
		v.I++
	}
	return v.I > start
}
