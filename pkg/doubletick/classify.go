package doubletick

import "fmt"

// Classify decides which event a delivery on the inferred route is, with
// this precedence:
//
//  1. An explicit event field: `event` (calls, groups, agent presence,
//     templates, notes) or `eventType` (SLA). A value that names a row's
//     [EventSpec.EventValues] decides; a value no row claims is unclassified
//     (the payload says what it is, and we do not know it).
//  2. Discriminating evidence: every row's [EventSpec.Evidence] is asked;
//     exactly one must claim the payload.
//
// Anything else — no row claims it, or two rows do — is [ErrUnclassified]:
// the delivery is quarantined, never guessed.
func (t *Table) Classify(p Payload) (*EventSpec, error) {
	for _, field := range []string{"event", "eventType"} {
		v, ok := p.String(field)
		if !ok || v == "" {
			continue
		}
		if s, ok := t.byEventValue[v]; ok {
			return s, nil
		}
		return nil, fmt.Errorf("%w: %s %q is not a known event", ErrUnclassified, field, v)
	}
	var match *EventSpec
	for i := range t.specs {
		s := &t.specs[i]
		if s.Evidence == nil || !s.Evidence(p) {
			continue
		}
		if match != nil {
			return nil, fmt.Errorf("%w: payload fits both %s and %s", ErrUnclassified, match.Name, s.Name)
		}
		match = s
	}
	if match == nil {
		return nil, fmt.Errorf("%w: no event matches the payload's fields", ErrUnclassified)
	}
	return match, nil
}
