// Package subject builds NATS subjects for dtbridge events: the configurable
// template (`{prefix}.{channel}.{type}`, optionally with `{account}`), token
// sanitizing, and the quarantine subject. It is pure: no NATS import.
//
// Values that come from a delivery (channel, account) are sanitized with
// [Token] so they can never add subject tokens or wildcards; the event type
// and prefix are dtbridge's own and are inserted as they are.
package subject

import (
	"fmt"
	"strings"
)

// DefaultTemplate is the subject template used when none is configured.
const DefaultTemplate = "{prefix}.{channel}.{type}"

// QuarantineToken is the subject token after the prefix under which
// quarantined deliveries are stored: {prefix}.quarantine.{reason}.
const QuarantineToken = "quarantine"

// Token turns an arbitrary value into one safe subject token: lower-case
// ASCII letters, digits, '_' and '-'. Every other run of characters becomes
// a single '_', leading and trailing '_' are trimmed, and an empty result is
// "unknown". The result always matches ^[a-z0-9_-]+$.
func Token(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	pending := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
			fallthrough
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			if pending && b.Len() > 0 {
				b.WriteByte('_')
			}
			pending = false
			b.WriteByte(c)
		default: // '_' included, so runs of separators fold into one
			pending = true
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// Template renders subjects from a template string.
type Template struct {
	prefix string
	parts  []part
}

type part struct {
	literal string
	field   string // "", "prefix", "channel", "type", "account"
}

// Fields are the values placed into a subject.
type Fields struct {
	Channel string // sanitized with Token
	Type    string // dtbridge's event type, e.g. "conversation.closed"; inserted as is
	Account string // sanitized with Token
}

// NewTemplate parses tmpl (placeholders {prefix}, {channel}, {type},
// {account}). The template must start with {prefix} and contain {type}.
func NewTemplate(tmpl, prefix string) (*Template, error) {
	if tmpl == "" {
		tmpl = DefaultTemplate
	}
	if !strings.HasPrefix(tmpl, "{prefix}.") || !strings.Contains(tmpl, "{type}") {
		return nil, fmt.Errorf("subject template %q: must start with {prefix}. and contain {type}", tmpl)
	}
	if Token(prefix) != prefix {
		return nil, fmt.Errorf("subject prefix %q: must match ^[a-z0-9_-]+$", prefix)
	}
	t := &Template{prefix: prefix}
	rest := tmpl
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			t.parts = append(t.parts, part{literal: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, part{literal: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("subject template %q: unclosed {", tmpl)
		}
		name := rest[i+1 : i+j]
		switch name {
		case "prefix", "channel", "type", "account":
		default:
			return nil, fmt.Errorf("subject template %q: unknown placeholder {%s}", tmpl, name)
		}
		t.parts = append(t.parts, part{field: name})
		rest = rest[i+j+1:]
	}
	for _, p := range t.parts {
		if p.literal != "" && strings.ContainsAny(p.literal, "*> \t\r\n") {
			return nil, fmt.Errorf("subject template %q: wildcards and whitespace are not allowed", tmpl)
		}
	}
	return t, nil
}

// Subject renders the subject for f.
func (t *Template) Subject(f Fields) string {
	var b strings.Builder
	for _, p := range t.parts {
		switch p.field {
		case "":
			b.WriteString(p.literal)
		case "prefix":
			b.WriteString(t.prefix)
		case "channel":
			b.WriteString(Token(f.Channel))
		case "type":
			b.WriteString(f.Type)
		case "account":
			b.WriteString(Token(f.Account))
		}
	}
	return b.String()
}

// Quarantine returns {prefix}.quarantine.{reason}.
func (t *Template) Quarantine(reason string) string {
	return t.prefix + "." + QuarantineToken + "." + Token(reason)
}

// Filter returns the wildcard that captures every subject dtbridge writes:
// {prefix}.>.
func (t *Template) Filter() string { return t.prefix + ".>" }

// Prefix returns the first subject token.
func (t *Template) Prefix() string { return t.prefix }
