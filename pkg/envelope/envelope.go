package envelope

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/dtbridge/dtbridge/pkg/internal/jsonscan"
)

// SpecVersion is the CloudEvents version every envelope declares.
const SpecVersion = "1.0"

// ContentType is the media type of a stored message (CloudEvents structured
// JSON mode). Messages carry it in the `Content-Type` header and carry no
// `ce-*` headers, so CloudEvents SDKs read them as structured events.
const ContentType = "application/cloudevents+json"

// DataContentType is the media type of [Event.Data].
const DataContentType = "application/json"

// TypePrefix starts every event type dtbridge emits: io.doubletick.{event}.v{N}.
const TypePrefix = "io.doubletick."

// Overhead bounds the bytes an envelope adds around its data: attributes,
// normalized fields that are not copies of the payload, and JSON punctuation.
const Overhead = 64 << 10

// MaxSize is the largest encoded envelope a delivery body of maxBody bytes can
// produce. `data` holds the delivery (at most maxBody bytes of JSON, verbatim)
// and normalized fields copied from it; re-encoding a copied string can at
// worst double it (U+2028 is escaped as \u2028), so data ≤ 3×maxBody. The
// broker's max payload must be at least this large.
func MaxSize(maxBody int64) int64 { return 3*maxBody + Overhead }

// MaxBody is the inverse of [MaxSize]: the largest delivery body whose
// envelope fits in maxSize bytes (0 if none does).
func MaxBody(maxSize int64) int64 { return max((maxSize-Overhead)/3, 0) }

// Event is one CloudEvent as dtbridge stores it. It is a value: copy it freely.
//
// The JSON attribute names are those of the contract; Channel, DedupKey and
// ReceivedAt are CloudEvents extension attributes (lower-case alphanumerics,
// as the spec requires).
type Event struct {
	ID              string
	Source          string
	Type            string
	Subject         string // optional: the DoubleTick customer id where there is one
	Time            time.Time
	DataSchema      string
	Channel         string
	DedupKey        string
	ReceivedAt      time.Time
	TraceParent     string          // optional W3C trace context of the delivery
	Data            json.RawMessage // a JSON object, written verbatim
	SpecVersion     string          // "1.0"; set by New
	DataContentType string          // "application/json"; set by New
}

// New returns an Event with the constant attributes set.
func New() Event {
	return Event{SpecVersion: SpecVersion, DataContentType: DataContentType}
}

// NewID returns a new UUIDv7 (time-ordered) string, the default ID source.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// uuid.NewV7 fails only when crypto/rand does; fall back to v4,
		// which panics in the same case and so never hides a broken RNG.
		return uuid.NewString()
	}
	return id.String()
}

// FieldError is one invalid attribute.
type FieldError struct {
	Field string
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// ValidationError lists every invalid attribute of an Event, in attribute order.
type ValidationError []FieldError

func (v ValidationError) Error() string {
	var b bytes.Buffer
	for i, e := range v {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Validate checks the event against CloudEvents 1.0 and the dtbridge
// contract. It returns nil or a [ValidationError] naming every bad attribute.
func (e Event) Validate() error {
	var errs ValidationError
	bad := func(field, msg string) { errs = append(errs, FieldError{field, msg}) }
	// CloudEvents: specversion REQUIRED; this envelope is 1.0.
	if e.SpecVersion != SpecVersion {
		bad("specversion", "MUST be "+SpecVersion)
	}
	// CloudEvents: id REQUIRED, non-empty string.
	if e.ID == "" {
		bad("id", "MUST be a non-empty string")
	}
	// CloudEvents: source REQUIRED, non-empty URI-reference.
	if e.Source == "" {
		bad("source", "MUST be a non-empty URI-reference")
	}
	// CloudEvents: type REQUIRED; contract §4: io.doubletick.{event}.v{N} (dtbridge's own io.dtbridge.* for quarantine).
	if e.Type == "" {
		bad("type", "MUST be a non-empty string")
	}
	// CloudEvents: time OPTIONAL, but the contract always sets it (event time or receive time).
	if e.Time.IsZero() {
		bad("time", "MUST be set")
	}
	// CloudEvents: datacontenttype; the contract's data is always JSON.
	if e.DataContentType != DataContentType {
		bad("datacontenttype", "MUST be "+DataContentType)
	}
	// CloudEvents: dataschema, if present, MUST be a non-empty absolute URI.
	if !isAbsoluteURI(e.DataSchema) {
		bad("dataschema", "MUST be a non-empty absolute URI")
	}
	// Contract §3: channel is a subject token.
	if e.Channel == "" {
		bad("channel", "MUST be non-empty")
	}
	// Contract §4: dedupkey is the Nats-Msg-Id and MUST be non-empty.
	if e.DedupKey == "" {
		bad("dedupkey", "MUST be non-empty")
	}
	// Contract §4: receivedat is always the bridge's receive time.
	if e.ReceivedAt.IsZero() {
		bad("receivedat", "MUST be set")
	}
	// Contract §4: data holds the normalized fields and raw: a JSON object.
	if d := bytes.TrimLeft(e.Data, " \t\r\n"); len(d) == 0 || d[0] != '{' || !jsonscan.Valid(e.Data) {
		bad("data", "MUST be a JSON object")
	}
	if errs == nil {
		return nil
	}
	return errs
}

// isAbsoluteURI reports whether s has a URI scheme (RFC 3986 §3.1) followed by ':'.
func isAbsoluteURI(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return i+1 < len(s)
		default:
			return false
		}
	}
	return false
}

// MarshalJSON encodes the event in CloudEvents structured JSON mode with the
// contract's attribute order. Data is written as is, not re-encoded.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, len(e.Data)+512))
}

// AppendJSON appends the encoded event to b.
func (e Event) AppendJSON(b []byte) ([]byte, error) {
	if len(e.Data) > 0 && !jsonscan.Valid(e.Data) {
		return nil, fmt.Errorf("encode event %s: data is not valid JSON", e.ID)
	}
	return e.appendJSON(b), nil
}

// Encode validates the event ([Event.Validate]) and returns its encoding,
// as MarshalJSON would. It is what the bridge stores: data is checked once,
// where Validate followed by MarshalJSON would scan it twice.
func (e Event) Encode() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e.appendJSON(make([]byte, 0, len(e.Data)+512)), nil
}

// appendJSON appends the encoding; data must be valid JSON.
func (e Event) appendJSON(b []byte) []byte {
	b = append(b, `{"specversion":`...)
	b = appendString(b, e.SpecVersion)
	b = appendAttr(b, "id", e.ID)
	b = appendAttr(b, "source", e.Source)
	b = appendAttr(b, "type", e.Type)
	if e.Subject != "" {
		b = appendAttr(b, "subject", e.Subject)
	}
	b = appendAttr(b, "time", FormatTime(e.Time))
	b = appendAttr(b, "datacontenttype", e.DataContentType)
	if e.DataSchema != "" {
		b = appendAttr(b, "dataschema", e.DataSchema)
	}
	b = appendAttr(b, "channel", e.Channel)
	b = appendAttr(b, "dedupkey", e.DedupKey)
	b = appendAttr(b, "receivedat", FormatTime(e.ReceivedAt))
	if e.TraceParent != "" {
		b = appendAttr(b, "traceparent", e.TraceParent)
	}
	if len(e.Data) > 0 {
		b = append(b, `,"data":`...)
		b = append(b, e.Data...)
	}
	return append(b, '}')
}

// wire is the decoding form of Event.
type wire struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	DataSchema      string          `json:"dataschema"`
	Channel         string          `json:"channel"`
	DedupKey        string          `json:"dedupkey"`
	ReceivedAt      time.Time       `json:"receivedat"`
	TraceParent     string          `json:"traceparent"`
	Data            json.RawMessage `json:"data"`
}

// UnmarshalJSON decodes a structured-mode CloudEvent written by MarshalJSON.
func (e *Event) UnmarshalJSON(p []byte) error {
	var w wire
	if err := json.Unmarshal(p, &w); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	*e = Event{
		ID: w.ID, Source: w.Source, Type: w.Type, Subject: w.Subject, Time: w.Time,
		DataSchema: w.DataSchema, Channel: w.Channel, DedupKey: w.DedupKey,
		ReceivedAt: w.ReceivedAt, TraceParent: w.TraceParent, Data: w.Data,
		SpecVersion: w.SpecVersion, DataContentType: w.DataContentType,
	}
	return nil
}

// FormatTime writes t as RFC 3339 in UTC with microseconds, the precision
// CloudEvents consumers in every language can read.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}

func appendAttr(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendString appends s as a JSON string, as encoding/json's Encoder with
// SetEscapeHTML(false) writes it.
func appendString(b []byte, s string) []byte { return AppendString(b, s, false) }

// AppendString appends s to b as a JSON string exactly as encoding/json
// writes it: json.Marshal's bytes with escapeHTML, an Encoder's with
// SetEscapeHTML(false). Quotes, backslashes and control characters are
// escaped (\b \f \n \r \t short), U+2028 and U+2029 too, and invalid UTF-8
// becomes U+FFFD; with escapeHTML also <, > and &. FuzzAppendString holds it
// to encoding/json byte for byte.
func AppendString(b []byte, s string, escapeHTML bool) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!escapeHTML || (c != '<' && c != '>' && c != '&')) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Quote returns s as a JSON string literal; exported for code that builds
// `data` objects by hand with the same escaping rules as the envelope.
func Quote(s string) string { return string(appendString(nil, s)) }

var _ json.Marshaler = Event{}
var _ json.Unmarshaler = (*Event)(nil)

// DedupHash is the hash part of a dedup key: the first 128 bits of SHA-256
// over parts, each followed by a NUL byte, in hex. Every dedup key dtbridge
// makes (events and quarantine entries) uses it, so keys are header-safe and
// bounded whatever the parts are.
func DedupHash(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}
