package doubletick

import (
	"fmt"
	"strconv"
	"time"
)

// The normalized vocabulary. Every event's data uses these shapes for the
// parties it mentions, under the same names, so a consumer reads
// `customer.id` or `business.number` the same way in every event:
//
//   - business: the account the event belongs to — a WhatsApp Business number
//     (as sent, plus numberE164) or an Instagram handle.
//   - customer: DoubleTick's customer — id (dtCustomerId), name, phone (as
//     sent, plus phoneE164), handle (Instagram and other non-phone channels).
//   - agent: a DoubleTick team member — id, name, phone, email.
//   - message: id is always DoubleTick's message id and whatsappId always
//     WhatsApp's (wamid), whatever DoubleTick called them in the payload.
//
// Members are always present and null when DoubleTick did not send them, so
// the shape of an event type never depends on the delivery. Timestamps are
// RFC 3339 in UTC. Nothing is dropped: data.raw holds the delivery verbatim.

// Business is the account side of an event.
type Business struct {
	Number     *string `json:"number" desc:"WhatsApp Business number exactly as DoubleTick sent it (with or without +)."`
	NumberE164 *string `json:"numberE164" desc:"number in E.164 (+ and digits) when that is unambiguous, else null."`
	Handle     *string `json:"handle" desc:"Instagram handle of the business account; null on WhatsApp."`
}

// Customer is DoubleTick's customer.
type Customer struct {
	ID        *string `json:"id" desc:"DoubleTick customer id (dtCustomerId, or its legacy alias customerId)."`
	Name      *string `json:"name"`
	Phone     *string `json:"phone" desc:"Phone number exactly as DoubleTick sent it (DoubleTick mixes +91… and 91…); null on Instagram."`
	PhoneE164 *string `json:"phoneE164" desc:"phone in E.164 (+ and digits) when that is unambiguous, else null."`
	Handle    *string `json:"handle" desc:"Instagram (or other non-phone channel) handle; null on WhatsApp."`
}

// Agent is a DoubleTick team member.
type Agent struct {
	ID    *string `json:"id"`
	Name  *string `json:"name"`
	Phone *string `json:"phone"`
	Email *string `json:"email"`
}

// Time is a timestamp normalized to RFC 3339 in UTC.
type Time struct{ time.Time }

// MarshalJSON writes the time as an RFC 3339 string in UTC.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(t.UTC().Format(time.RFC3339Nano))), nil
}

// UnmarshalJSON reads an RFC 3339 string, so consumers can decode data into
// the normalized types.
func (t *Time) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("doubletick.Time: %s is not a JSON string", b)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("doubletick.Time: %w", err)
	}
	t.Time = v.UTC()
	return nil
}

// timeOf reads an ISO-8601 timestamp; nil when absent, "" or unparseable
// (the original stays in raw).
func timeOf(p Payload, key string) *Time {
	if t, ok := p.Time(key); ok {
		return &Time{t}
	}
	return nil
}

// unixTimeOf reads a Unix time in seconds (expirationTimestamp).
func unixTimeOf(p Payload, key string) *Time {
	n := p.Number(key)
	if n == nil {
		return nil
	}
	s, err := n.Int64()
	if err != nil || s <= 0 || s > 1<<40 {
		return nil
	}
	return &Time{time.Unix(s, 0).UTC()}
}

// numberKind says how a phone field is written, for E.164 normalization.
type numberKind int

const (
	// e164Only: the field is documented with a leading +; only a value that
	// has one is E.164 (anything else could be a local number).
	e164Only numberKind = iota
	// waID: the field is a WhatsApp id — the international number without
	// the + — so prefixing + is unambiguous. Only ever on WhatsApp.
	waID
)

// e164 returns s in E.164 when that is unambiguous: "+" and 7 to 15 digits,
// or, for a WhatsApp id on the WhatsApp channel, the same digits without the
// +. Anything else (handles, group ids, local numbers, PSTN numbers) is nil:
// the docs warn against normalizing phone numbers blindly.
func e164(s *string, kind numberKind, ch Channel) *string {
	if s == nil {
		return nil
	}
	v := *s
	plus := len(v) > 0 && v[0] == '+'
	if plus {
		v = v[1:]
	} else if kind != waID || ch != WhatsApp {
		return nil
	}
	if len(v) < 7 || len(v) > 15 || v[0] == '0' {
		return nil
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return nil
		}
	}
	out := "+" + v
	return &out
}

// phoneField names a payload field holding a phone number and how it is written.
type phoneField struct {
	key  string
	kind numberKind
}

func plusPhone(key string) phoneField { return phoneField{key, e164Only} }
func waPhone(key string) phoneField   { return phoneField{key, waID} }

// businessOf reads the business account from f: on Instagram the value is
// the business's handle, elsewhere a number.
func businessOf(p Payload, ch Channel, f phoneField) Business {
	v := p.Nullable(f.key)
	if ch == Instagram {
		return Business{Handle: v}
	}
	return Business{Number: v, NumberE164: e164(v, f.kind, ch)}
}

// account is the business account for the {account} subject placeholder and
// the CloudEvents source: the number as sent, or the handle.
func (b Business) account() string {
	switch {
	case b.Number != nil:
		return *b.Number
	case b.Handle != nil:
		return *b.Handle
	}
	return ""
}

// customerOf reads the customer: its id, its name from name ("" = none),
// and its phone from phone. On Instagram the party fields (from, to) hold
// handles, so there the value becomes the handle (customerHandle wins when
// sent) and a phone is only ever customerPhone's.
func customerOf(p Payload, ch Channel, name string, phone phoneField) Customer {
	c := Customer{ID: customerIDOf(p), Handle: p.NonEmpty("customerHandle")}
	if name != "" {
		c.Name = p.Nullable(name)
	}
	v := p.Nullable(phone.key)
	if ch != Instagram {
		c.Phone, c.PhoneE164 = v, e164(v, phone.kind, ch)
		return c
	}
	c.Phone = p.Nullable("customerPhone")
	c.PhoneE164 = e164(c.Phone, e164Only, ch)
	if c.Handle == nil && phone.key != "customerPhone" {
		c.Handle = v
	}
	return c
}

// customerIDOf is dtCustomerId, else its legacy alias customerId.
func customerIDOf(p Payload) *string { return p.First("dtCustomerId", "customerId") }

// subject is the CloudEvents subject: the DoubleTick customer id.
func (c Customer) subject() string {
	if c.ID != nil {
		return *c.ID
	}
	return ""
}

// Referral is a Click-to-WhatsApp ad attribution (referralObject, referral).
type Referral struct {
	SourceURL    *string `json:"sourceUrl"`
	SourceType   *string `json:"sourceType" desc:"ad or post."`
	SourceID     *string `json:"sourceId"`
	Headline     *string `json:"headline"`
	Body         *string `json:"body"`
	CTWAClickID  *string `json:"ctwaClid"`
	MediaType    *string `json:"mediaType"`
	ImageURL     *string `json:"imageUrl"`
	VideoURL     *string `json:"videoUrl"`
	ThumbnailURL *string `json:"thumbnailUrl"`
}

func referralOf(p Payload) *Referral {
	if p == nil {
		return nil
	}
	return &Referral{
		SourceURL: p.Nullable("source_url"), SourceType: p.Nullable("source_type"),
		SourceID: p.Nullable("source_id"), Headline: p.Nullable("headline"), Body: p.Nullable("body"),
		CTWAClickID: p.Nullable("ctwa_clid"), MediaType: p.Nullable("media_type"),
		ImageURL: p.Nullable("image_url"), VideoURL: p.Nullable("video_url"), ThumbnailURL: p.Nullable("thumbnail_url"),
	}
}

// FormField is one {field, value} pair of a widget form.
type FormField struct {
	Field *string `json:"field"`
	Value *string `json:"value"`
}

func formOf(p Payload, key string) []FormField {
	out := []FormField{}
	for _, v := range p.Array(key) {
		if m, ok := v.(map[string]any); ok {
			out = append(out, FormField{Field: Payload(m).Nullable("field"), Value: Payload(m).Nullable("value")})
		}
	}
	return out
}

// stringsOf returns the string members of the array at key (customerPhones).
func stringsOf(p Payload, key string) []string {
	out := []string{}
	for _, v := range p.Array(key) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
