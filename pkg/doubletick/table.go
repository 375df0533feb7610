package doubletick

import (
	"fmt"
	"strings"
)

// EventSpec is one row of the event table (contract §6). Everything that
// knows about an event — the names accepted in the URL, classification on
// the inferred route, the normalized `data`, the natural dedup key, the JSON
// Schema, the README table — reads this row.
type EventSpec struct {
	// Name is DoubleTick's subscription name, e.g. "CLOSE_CONVERSATION".
	Name string
	// Aliases are other spellings accepted in the URL path (documented typos).
	Aliases []string
	// Type is dtbridge's event type, e.g. "conversation.closed".
	Type string
	// Version is the major version of Data's shape; it bumps on an
	// incompatible change and is part of the CloudEvents type.
	Version int
	// EventValues are the values of the payload's own `event` / `eventType`
	// field that name this event (e.g. "note-created", "TEMPLATE_STATUS_UPDATE").
	EventValues []string
	// Evidence reports whether a payload carries this event's discriminating
	// fields, for the inferred route. Nil: never inferred from the body's
	// shape (the event arrives on its own URL, or names itself in EventValues).
	Evidence func(Payload) bool
	// EvidenceKind ranks Evidence for [Table.Classify]: a [Flag] (a boolean
	// DoubleTick sets only on this event) before a [Shape] (a combination of
	// fields).
	EvidenceKind EvidenceKind
	// EvidenceDoc says what Evidence looks for, for the README; required
	// with Evidence.
	EvidenceDoc string
	// Normalize returns the event's normalized fields (everything in `data`
	// except channel and raw) and the identities they name.
	Normalize func(Payload, Channel) Normal
	// Key names the payload fields that make the event's natural idempotency
	// key (catalog §3.8), e.g. {"messageId", "status"}. A name ending in "?"
	// may be absent. When Key is empty, or a required field is missing, the
	// dedup key is a hash of the type and the canonical body.
	Key []string
	// TimeField names the payload field holding the event's own time, if any.
	TimeField string
	// Channel is the event's channel when neither the payload nor the URL
	// names one ("" = [DefaultChannel]); the web widget's events are "web".
	Channel Channel
	// Summary is one line for the README's event table.
	Summary string
}

// EvidenceKind is how strong a row's classification evidence is.
type EvidenceKind int

// Evidence kinds, strongest first.
const (
	// Flag evidence is a discriminating boolean (closeConversation: true).
	Flag EvidenceKind = iota + 1
	// Shape evidence is a combination of fields that no other documented
	// event has.
	Shape
)

// Normal is what an event's normalizer returns.
type Normal struct {
	// Data is the normalized fields: a struct whose JSON members become
	// data's members beside channel and raw.
	Data any
	// Account is the business account (WhatsApp Business number or Instagram
	// handle) for the {account} subject placeholder and the CloudEvents
	// source; "" when the payload does not say.
	Account string
	// Subject is the CloudEvents subject: the DoubleTick customer id, "" if none.
	Subject string
}

// KeyDoc describes the dedup key for the README.
func (s *EventSpec) KeyDoc() string {
	if len(s.Key) == 0 {
		return "hash of type + canonical body"
	}
	parts := make([]string, len(s.Key))
	for i, k := range s.Key {
		parts[i] = "`" + strings.TrimSuffix(k, "?") + "`"
	}
	return strings.Join(parts, " + ")
}

// CEType is the CloudEvents type: io.doubletick.{type}.v{N}.
func (s *EventSpec) CEType() string { return fmt.Sprintf("io.doubletick.%s.v%d", s.Type, s.Version) }

// SchemaName names the JSON Schema of the event's data:
// doubletick.{type}.v{N}, as served at /v1/schemas/{name}.
func (s *EventSpec) SchemaName() string { return fmt.Sprintf("doubletick.%s.v%d", s.Type, s.Version) }

// Table is the event table with its lookup indexes. It is immutable after
// [NewTable] and safe for concurrent use.
type Table struct {
	specs  []EventSpec
	byName map[string]*EventSpec // upper-cased names, aliases and types
	byCE   map[string]*EventSpec // schema names and CloudEvents types
	// byEventValue indexes EventValues, exactly as DoubleTick spells them.
	byEventValue map[string]*EventSpec
}

// NewTable indexes specs. It fails when two rows claim the same name or type.
func NewTable(specs []EventSpec) (*Table, error) {
	t := &Table{
		specs:  specs,
		byName: make(map[string]*EventSpec),
		byCE:   make(map[string]*EventSpec),

		byEventValue: make(map[string]*EventSpec),
	}
	for i := range t.specs {
		s := &t.specs[i]
		if s.Name == "" || s.Type == "" || s.Version < 1 || s.Normalize == nil {
			return nil, fmt.Errorf("event table row %d (%q): name, type, version and normalize are required", i, s.Name)
		}
		if (s.Evidence == nil) != (s.EvidenceDoc == "") || (s.Evidence == nil) != (s.EvidenceKind == 0) {
			return nil, fmt.Errorf("event table row %q: evidence, its kind and its doc go together", s.Name)
		}
		for _, n := range append([]string{s.Name, s.Type}, s.Aliases...) {
			k := strings.ToUpper(n)
			if _, dup := t.byName[k]; dup {
				return nil, fmt.Errorf("event table: %q is claimed twice", n)
			}
			t.byName[k] = s
		}
		for _, v := range s.EventValues {
			if _, dup := t.byEventValue[v]; dup {
				return nil, fmt.Errorf("event table: event value %q is claimed twice", v)
			}
			t.byEventValue[v] = s
		}
		t.byCE[s.SchemaName()] = s
		t.byCE[s.CEType()] = s
	}
	return t, nil
}

// Default returns the table of every event dtbridge knows.
func Default() *Table {
	t, err := NewTable(events())
	if err != nil {
		panic(err) // the built-in table is checked by the tests
	}
	return t
}

// Specs returns the rows in table order. The slice must not be modified.
func (t *Table) Specs() []EventSpec { return t.specs }

// Lookup finds the row for an event named in a URL: DoubleTick's
// subscription name or dtbridge's type, case-insensitively. It returns
// [ErrUnknownEvent] when there is none.
func (t *Table) Lookup(name string) (*EventSpec, error) {
	if s, ok := t.byName[strings.ToUpper(strings.TrimSpace(name))]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownEvent, name)
}

// BySchema finds the row for a schema name (doubletick.conversation.closed.v1)
// or a CloudEvents type (io.doubletick.conversation.closed.v1).
func (t *Table) BySchema(name string) (*EventSpec, bool) {
	s, ok := t.byCE[name]
	return s, ok
}

// Markdown renders the README's event table from the rows, so the README
// cannot drift from the code (a test compares them).
func (t *Table) Markdown(prefix string) string {
	var b strings.Builder
	b.WriteString("| DoubleTick event | CloudEvents type | subject (example) | dedup key | inferred route |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for i := range t.specs {
		s := &t.specs[i]
		ch := s.Channel
		if ch == "" {
			ch = DefaultChannel
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s.%s.%s` | %s | %s |\n", s.Name, s.CEType(), prefix, ch, s.Type, s.KeyDoc(), s.inferDoc())
	}
	return b.String()
}

// inferDoc says how the inferred route recognizes the event, for the README.
func (s *EventSpec) inferDoc() string {
	switch {
	case len(s.EventValues) > 0:
		vals := make([]string, len(s.EventValues))
		for i, v := range s.EventValues {
			vals[i] = "`" + v + "`"
		}
		return "1: event field " + strings.Join(vals, ", ")
	case s.EvidenceKind == Flag:
		return "2: flag " + s.EvidenceDoc
	case s.EvidenceKind == Shape:
		return "3: shape " + s.EvidenceDoc
	}
	return "never: quarantined"
}
