package doubletick

import (
	"fmt"
	"strings"
)

// Classify decides which event a delivery on the inferred route is. The
// precedence, strongest evidence first:
//
//  1. An explicit event field: `event` (calls, groups, agent presence,
//     templates as "TEMPLATE_STATUS_UPDATE", notes as "note-created"…) or
//     `eventType` (SLA). A value that names a row's [EventSpec.EventValues]
//     decides; a value no row claims is unclassified (the payload says what
//     it is, and we do not know it).
//  2. A discriminating flag ([Flag]): closeConversation, conversationOpened,
//     tagAdded, tagRemoved, newLead, verified.
//  3. A shape ([Shape]): a combination of fields only one documented event
//     has (a message with dtMessageId, a status with statusTimestamp…).
//
// Within a level exactly one row must claim the payload. Anything else — no
// row claims it, or two rows of the same level do — is [ErrUnclassified]:
// the delivery is quarantined, never guessed, because a wrong type is worse
// than quarantine. Events whose body cannot be told apart from another's
// (CALL_TO_WHATSAPP_MESSAGE_RECEIVED vs MESSAGE_RECEIVED) and events with
// undocumented payloads have no evidence and are only accepted on their own
// URL.
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
	for _, kind := range []EvidenceKind{Flag, Shape} {
		var matches []string
		var match *EventSpec
		for i := range t.specs {
			s := &t.specs[i]
			if s.EvidenceKind != kind || !s.Evidence(p) {
				continue
			}
			match = s
			matches = append(matches, s.Name)
		}
		switch len(matches) {
		case 0:
			continue
		case 1:
			return match, nil
		}
		return nil, fmt.Errorf("%w: payload fits %s", ErrUnclassified, strings.Join(matches, " and "))
	}
	return nil, fmt.Errorf("%w: no event matches the payload's fields", ErrUnclassified)
}

// contradicts reports a delivery whose URL names spec but whose body says,
// with the strong evidence of levels 1 and 2, that it is another event: its
// own event field names another known event, or another event's flag is set
// while spec's own flag (if it has one) is not. Such a delivery is a
// misconfigured webhook; storing it under either type could be wrong, so it
// is [ErrUnclassified] and goes to quarantine. Shapes are not consulted: they
// are too weak to overrule the URL.
func (t *Table) contradicts(spec *EventSpec, p Payload) error {
	for _, field := range []string{"event", "eventType"} {
		v, ok := p.String(field)
		if !ok || v == "" {
			continue
		}
		if other, ok := t.byEventValue[v]; ok && other != spec {
			return fmt.Errorf("%w: the URL names %s but the payload's %s is %q (%s)", ErrUnclassified, spec.Name, field, v, other.Name)
		}
		return nil
	}
	if spec.EvidenceKind == Flag && spec.Evidence(p) {
		return nil
	}
	for i := range t.specs {
		other := &t.specs[i]
		if other != spec && other.EvidenceKind == Flag && other.Evidence(p) {
			return fmt.Errorf("%w: the URL names %s but the payload is flagged as %s", ErrUnclassified, spec.Name, other.Name)
		}
	}
	return nil
}
