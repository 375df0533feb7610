package doubletick

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dtbridge/dtbridge/pkg/envelope"
)

// Hints are what the URL says about a delivery besides its body.
type Hints struct {
	// Channel is the route's ?channel= parameter; used when the payload
	// names no channel.
	Channel string
}

// Normalized is a delivery turned into the parts of an envelope.
type Normalized struct {
	Spec    *EventSpec
	Channel Channel
	// Account is the business account (WABA number or Instagram handle), "" if unknown.
	Account string
	// Subject is the DoubleTick customer id, "" if the payload has none.
	Subject string
	// Time is the event's own time; zero when the payload carries none.
	Time time.Time
	// DedupKey is the event's idempotency key (the Nats-Msg-Id).
	DedupKey string
	// Data is the envelope's data object: channel, the normalized fields,
	// and raw — the delivery bytes exactly as received.
	Data []byte
}

// Convert classifies (when eventName is "") or looks up (otherwise) a
// delivery and normalizes it. Errors: [ErrUnknownEvent] for an event name not
// in the table, [*MalformedError] for a body that is not a JSON object,
// [ErrUnclassified] when the inferred route cannot decide, or when the body
// says it is another event than the URL names (see [Table.contradicts]).
func (t *Table) Convert(eventName string, body []byte, h Hints) (Normalized, error) {
	var spec *EventSpec
	if eventName != "" {
		s, err := t.Lookup(eventName)
		if err != nil {
			return Normalized{}, err
		}
		spec = s
	}
	p, err := Parse(body)
	if err != nil {
		return Normalized{}, err
	}
	if spec == nil {
		if spec, err = t.Classify(p); err != nil {
			return Normalized{}, err
		}
	} else if err := t.contradicts(spec, p); err != nil {
		return Normalized{}, err
	}
	return spec.normalize(p, body, h)
}

func (s *EventSpec) normalize(p Payload, body []byte, h Hints) (Normalized, error) {
	ch := channelOf(p, h.Channel, s.Channel)
	norm := s.Normalize(p, ch)
	n := Normalized{Spec: s, Channel: ch, Account: norm.Account, Subject: norm.Subject, DedupKey: s.dedupKey(p)}
	if s.TimeField != "" {
		n.Time, _ = p.Time(s.TimeField)
	}
	data, err := buildData(ch, norm.Data, body)
	if err != nil {
		return Normalized{}, fmt.Errorf("normalize %s: %w", s.Name, err)
	}
	n.Data = data
	return n, nil
}

// buildData writes {"channel":…, <fields of normalized>, "raw":<body>}; body
// is copied verbatim, so data.raw is byte-for-byte the delivery.
func buildData(ch Channel, normalized any, body []byte) ([]byte, error) {
	// One buffer: the prefix, then the encoder's {…} turned into ",…", then
	// raw. The normalized fields are about as long as the body.
	out := make([]byte, 0, 2*len(body)+256)
	out = append(out, `{"channel":"`...)
	out = append(out, ch...)
	out = append(out, '"')
	prefix := len(out)
	buf := bytes.NewBuffer(out)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(normalized); err != nil {
		return nil, err
	}
	out = bytes.TrimRight(buf.Bytes(), "\n")
	if f := out[prefix:]; len(f) < 2 || f[0] != '{' || f[len(f)-1] != '}' {
		return nil, fmt.Errorf("normalized fields are not an object")
	}
	if len(out)-prefix == 2 { // {}: no fields
		out = out[:prefix]
	} else {
		out[prefix] = ','
		out = out[:len(out)-1]
	}
	out = append(out, `,"raw":`...)
	out = append(out, body...)
	return append(out, '}'), nil
}

// dedupKey is "{type}:n:{hash}" over the natural key where DoubleTick gives
// one, else "{type}:b:{hash}" over the canonical body. The type is always
// hashed in, so different types never share a key, and the hash keeps the
// key header-safe and bounded (128 bits, hex).
func (s *EventSpec) dedupKey(p Payload) string {
	if parts, ok := s.naturalKey(p); ok {
		return s.Type + ":n:" + envelope.DedupHash(parts...)
	}
	return s.Type + ":b:" + envelope.DedupHash([]byte(s.Type), p.canonical())
}

// naturalKey returns the type and the values of the Key fields; ok is false
// when the event has no natural key or a required field is missing or empty.
func (s *EventSpec) naturalKey(p Payload) ([][]byte, bool) {
	if len(s.Key) == 0 {
		return nil, false
	}
	parts := make([][]byte, 0, len(s.Key)+1)
	parts = append(parts, []byte(s.Type))
	for _, k := range s.Key {
		name, optional := strings.CutSuffix(k, "?")
		v := p.NonEmpty(name)
		if v == nil && !optional {
			return nil, false
		}
		if v == nil {
			parts = append(parts, nil)
			continue
		}
		parts = append(parts, []byte(*v))
	}
	return parts, true
}
