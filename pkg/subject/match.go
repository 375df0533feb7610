package subject

import "strings"

// Overlap reports whether some subject matches both patterns a and b, each a
// NATS subject that may contain the wildcards '*' (exactly one token) and
// '>' (one or more trailing tokens). It answers "would a stream that
// captures a receive a message published on a subject matched by b?", which
// is how replay and the dead-letter publisher refuse a target that loops back
// into the source stream.
//
// Overlap is symmetric. Malformed patterns (empty tokens) never overlap.
func Overlap(a, b string) bool {
	at, bt := strings.Split(a, "."), strings.Split(b, ".")
	if !wellFormed(at) || !wellFormed(bt) {
		return false
	}
	for i := 0; ; i++ {
		switch {
		case i == len(at) && i == len(bt):
			return true
		case i == len(at) || i == len(bt):
			return false
		case at[i] == ">" || bt[i] == ">":
			return true
		case at[i] == "*" || bt[i] == "*" || at[i] == bt[i]:
			continue
		default:
			return false
		}
	}
}

// wellFormed reports whether tokens form a valid subject or filter: no empty
// token, and '>' only as the last token.
func wellFormed(tokens []string) bool {
	for i, t := range tokens {
		if t == "" || (t == ">" && i != len(tokens)-1) {
			return false
		}
	}
	return true
}
