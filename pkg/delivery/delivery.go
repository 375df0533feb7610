package delivery

import (
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/dtbridge/dtbridge/pkg/doubletick"
	"github.com/dtbridge/dtbridge/pkg/envelope"
	"github.com/dtbridge/dtbridge/pkg/internal/jsonscan"
	"github.com/dtbridge/dtbridge/pkg/subject"
)

// QuarantineType is the CloudEvents type of a quarantined delivery.
const QuarantineType = "io.dtbridge.quarantine.v1"

// QuarantineSchema names the JSON Schema of a quarantine event's data.
const QuarantineSchema = "dtbridge.quarantine.v1"

// Quarantine reasons: the last subject token of {prefix}.quarantine.{reason}.
const (
	ReasonUnclassified     = "unclassified"           // inferred route, event not determinable (answered 202)
	ReasonMalformed        = "malformed"              // body is not a JSON object (400)
	ReasonUnknownEvent     = "unknown_event"          // event named in the URL is not in the table (404)
	ReasonUnsupportedMedia = "unsupported_media_type" // neither JSON nor a form (415)
)

//go:embed schemas/*.json
var schemaFS embed.FS

// Delivery is one authenticated, size-checked webhook delivery.
type Delivery struct {
	// Event is the event named in the URL; "" on the inferred route.
	Event string
	// Body is the delivery as a JSON object: the bytes received for a JSON
	// body, the converted form otherwise.
	Body []byte
	// Channel is the route's ?channel= hint.
	Channel     string
	ReceivedAt  time.Time
	TraceParent string
}

// Message is what gets stored: the envelope, its encoding and its subject.
type Message struct {
	Subject string
	// MsgID is the Nats-Msg-Id: the envelope's dedupkey.
	MsgID   string
	Event   envelope.Event
	Encoded []byte
	// Quarantine is the reason when this is a quarantine message, else "".
	Quarantine string
}

// Converter builds messages. It is safe for concurrent use.
type Converter struct {
	table      *doubletick.Table
	subjects   *subject.Template
	schemaBase string
	newID      func() string
}

// Option configures a Converter.
type Option func(*Converter)

// WithIDSource replaces [envelope.NewID] (tests use it for stable goldens).
func WithIDSource(f func() string) Option { return func(c *Converter) { c.newID = f } }

// NewConverter returns a Converter. publicURL is http.public_url: when set,
// dataschema is {publicURL}/v1/schemas/{name}; otherwise it is the URN
// urn:dtbridge:schema:{name} (CloudEvents requires an absolute URI).
func NewConverter(table *doubletick.Table, subjects *subject.Template, publicURL string, opts ...Option) *Converter {
	c := &Converter{table: table, subjects: subjects, newID: envelope.NewID}
	if publicURL != "" {
		c.schemaBase = trimSlash(publicURL) + "/v1/schemas/"
	} else {
		c.schemaBase = "urn:dtbridge:schema:"
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// Convert builds the message for d. Errors are doubletick's:
// [doubletick.ErrUnknownEvent], [*doubletick.MalformedError],
// [doubletick.ErrUnclassified]; the caller quarantines with [Converter.Quarantine].
func (c *Converter) Convert(d Delivery) (Message, error) {
	n, err := c.table.Convert(d.Event, d.Body, doubletick.Hints{Channel: d.Channel})
	if err != nil {
		return Message{}, err
	}
	ev := envelope.New()
	ev.ID = c.newID()
	ev.Source = source(n.Channel, n.Account)
	ev.Type = n.Spec.CEType()
	ev.Subject = n.Subject
	ev.Time = n.Time
	if ev.Time.IsZero() {
		ev.Time = d.ReceivedAt
	}
	ev.DataSchema = c.schemaBase + n.Spec.SchemaName()
	ev.Channel = string(n.Channel)
	ev.DedupKey = n.DedupKey
	ev.ReceivedAt = d.ReceivedAt
	ev.TraceParent = d.TraceParent
	ev.Data = n.Data
	subj := c.subjects.Subject(subject.Fields{Channel: string(n.Channel), Type: n.Spec.Type, Account: n.Account})
	return c.message(subj, ev, "")
}

func (c *Converter) message(subj string, ev envelope.Event, quarantine string) (Message, error) {
	b, err := ev.Encode()
	if err != nil {
		return Message{}, fmt.Errorf("envelope for %s: %w", subj, err)
	}
	return Message{Subject: subj, MsgID: ev.DedupKey, Event: ev, Encoded: b, Quarantine: quarantine}, nil
}

// source is doubletick/{channel}[/{account}], the account path-escaped.
func source(ch doubletick.Channel, account string) string {
	if account == "" {
		return "doubletick/" + string(ch)
	}
	return "doubletick/" + string(ch) + "/" + url.PathEscape(account)
}

// Rejected is an authenticated delivery that cannot become an event.
type Rejected struct {
	Reason      string // one of the Reason constants
	Detail      string // why, safe to show an operator
	Event       string // the event named in the URL, "" on the inferred route
	Route       string // the route pattern that received it
	ContentType string
	Raw         []byte // the body exactly as received
	Channel     string // ?channel= hint
	ReceivedAt  time.Time
	TraceParent string
}

// quarantineData is the data of a quarantine event. Body repeats the
// delivery as JSON when it is a JSON value, for reading; BodyBase64 always
// holds the exact bytes.
type quarantineData struct {
	Reason      string          `json:"reason"`
	Detail      string          `json:"detail"`
	Event       string          `json:"event"`
	Route       string          `json:"route"`
	ContentType string          `json:"contentType"`
	Size        int             `json:"size"`
	Body        json.RawMessage `json:"body,omitempty"`
	BodyBase64  string          `json:"bodyBase64"`
}

// Quarantine builds the message that stores r on {prefix}.quarantine.{reason}.
// Its dedup key is namespaced ("quarantine.{reason}:…") so it never collides
// with an event's, and repeats of the same rejected delivery are stored once.
func (c *Converter) Quarantine(r Rejected) (Message, error) {
	qd := quarantineData{
		Reason: r.Reason, Detail: r.Detail, Event: r.Event, Route: r.Route,
		ContentType: r.ContentType, Size: len(r.Raw),
		BodyBase64: base64.StdEncoding.EncodeToString(r.Raw),
	}
	if utf8.Valid(r.Raw) && jsonscan.Valid(r.Raw) {
		qd.Body = r.Raw
	}
	data, err := json.Marshal(qd)
	if err != nil {
		return Message{}, fmt.Errorf("quarantine %s: %w", r.Reason, err)
	}
	ev := envelope.New()
	ev.ID = c.newID()
	ev.Source = "dtbridge/quarantine"
	ev.Type = QuarantineType
	ev.Time = r.ReceivedAt
	ev.DataSchema = c.schemaBase + QuarantineSchema
	ev.Channel = "unknown"
	if ch, ok := doubletick.ParseChannel(r.Channel); ok {
		ev.Channel = string(ch)
	}
	ev.DedupKey = "quarantine." + r.Reason + ":" + envelope.DedupHash([]byte(r.Reason), []byte(r.Event), []byte(r.Route), r.Raw)
	ev.ReceivedAt = r.ReceivedAt
	ev.TraceParent = r.TraceParent
	ev.Data = data
	return c.message(c.subjects.Quarantine(r.Reason), ev, r.Reason)
}

// Schema returns the JSON Schema named name: an event type's (from the
// table) or the quarantine event's.
func (c *Converter) Schema(name string) ([]byte, bool) {
	if name == QuarantineSchema {
		b, err := schemaFS.ReadFile("schemas/" + QuarantineSchema + ".json")
		return b, err == nil
	}
	return c.table.Schema(name)
}
