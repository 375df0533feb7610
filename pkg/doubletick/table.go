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
	// fields, for the inferred route. Nil: never inferred (the event can only
	// arrive on its own URL).
	Evidence func(Payload) bool
	// Normalize returns the event's normalized fields (everything in `data`
	// except channel and raw) as a JSON-encodable value.
	Normalize func(Payload, Channel) any
	// NaturalKey returns the parts of the event's natural idempotency key, or
	// nil when DoubleTick gives none (the dedup key is then a hash of the type
	// and the canonical body).
	NaturalKey func(Payload) []string
	// KeyDoc describes NaturalKey for the README ("`dtMessageId`").
	KeyDoc string
	// TimeField names the payload field holding the event's own time, if any.
	TimeField string
	// Account returns the business account (WABA number or Instagram handle)
	// the event belongs to, if the payload says.
	Account func(Payload) string
	// Subject returns the CloudEvents subject (the DoubleTick customer id).
	Subject func(Payload) string
	// Summary is one line for the README's event table.
	Summary string
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
	b.WriteString("| DoubleTick event | CloudEvents type | subject (example) | dedup key |\n")
	b.WriteString("|---|---|---|---|\n")
	for i := range t.specs {
		s := &t.specs[i]
		key := "hash of type + canonical body"
		if s.NaturalKey != nil {
			key = s.KeyDoc
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s.whatsapp.%s` | %s |\n", s.Name, s.CEType(), prefix, s.Type, key)
	}
	return b.String()
}
