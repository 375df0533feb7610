package bridgetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Checker is a Jepsen-style history of webhook deliveries. A test gives
// every delivery a unique key carried in its body, records every attempt
// to deliver it (HTTP status, seq, duplicate flag), and at the end reads the
// whole stream through its leader and classifies each delivery:
//
//   - ok: it got its wanted status (e.g. 202) and is in the stream;
//   - lost: it got its wanted status and is NOT in the stream;
//   - unknown: it never got its wanted status (it may or may not be stored);
//   - duplicated: its key, or its Nats-Msg-Id, is stored more than once.
//
// ok, lost and unknown are exclusive; duplicated comes on top. Checker is
// safe for concurrent use.
type Checker struct {
	mu   sync.Mutex
	ops  map[string]*Op
	keys []string // in Add order
}

// Op is one delivery: the unique key in its body and its attempts.
type Op struct {
	Key  string
	Body []byte
	// Want is the status that means "stored": 202 for an event, 400 for a
	// malformed body kept in quarantine.
	Want     int
	Attempts []Attempt
}

// Attempt is one HTTP try of a delivery.
type Attempt struct {
	// Gen is a caller-defined generation, e.g. which bridge process was
	// running when the request was sent.
	Gen int
	// Status is the HTTP status, 0 when no answer came (connection refused
	// or reset, timeout).
	Status int
	// Code is the error body's code for a non-2xx answer.
	Code      string
	Seq       uint64
	Duplicate bool
	// RetryAfter is the Retry-After header of the answer, if any.
	RetryAfter string
	Err        string // transport error, when Status is 0
	// Sent is when the request was sent, Took how long the answer took.
	Sent time.Time
	Took time.Duration
}

// NewChecker returns an empty history.
func NewChecker() *Checker { return &Checker{ops: map[string]*Op{}} }

// Add registers a delivery. Adding a key twice is a test bug and panics.
func (c *Checker) Add(key string, body []byte, want int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ops[key]; ok {
		panic("bridgetest: checker: key added twice: " + key)
	}
	c.ops[key] = &Op{Key: key, Body: body, Want: want}
	c.keys = append(c.keys, key)
}

// Record appends an attempt to key's history.
func (c *Checker) Record(key string, a Attempt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	op, ok := c.ops[key]
	if !ok {
		panic("bridgetest: checker: unknown key " + key)
	}
	op.Attempts = append(op.Attempts, a)
}

// Done reports whether key got its wanted status at least once.
func (c *Checker) Done(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops[key].done()
}

func (o *Op) done() bool {
	for _, a := range o.Attempts {
		if a.Status == o.Want {
			return true
		}
	}
	return false
}

// Open returns the keys that have not got their wanted status yet, in Add
// order: what a sender must resend.
func (c *Checker) Open() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, k := range c.keys {
		if !c.ops[k].done() {
			out = append(out, k)
		}
	}
	return out
}

// Op returns a copy of key's history.
func (c *Checker) Op(key string) Op {
	c.mu.Lock()
	defer c.mu.Unlock()
	op := *c.ops[key]
	op.Attempts = append([]Attempt(nil), op.Attempts...)
	return op
}

// Attempts returns every attempt of every delivery, deliveries in Add
// order.
func (c *Checker) Attempts() []Attempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Attempt
	for _, k := range c.keys {
		out = append(out, c.ops[k].Attempts...)
	}
	return out
}

// Len is the number of deliveries.
func (c *Checker) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys)
}

// StoredMsg is one message read back from the stream.
type StoredMsg struct {
	Seq     uint64
	Subject string
	Header  nats.Header
	Data    []byte
}

// KeyFunc extracts the delivery key from a stored message, and the
// envelope's dedupkey. ok is false for a message no delivery of this
// history can have produced.
type KeyFunc func(m StoredMsg) (key, dedupKey string, ok bool)

// BodyField is the KeyFunc for dtbridge envelopes whose delivery body
// carries the key as the JSON string field name ("dtCustomerId":"<key>").
// It finds the field in the envelope's data.raw (events) or in the bytes of
// data.bodyBase64 (quarantine), so malformed bodies can carry keys too.
func BodyField(name string) KeyFunc {
	re := regexp.MustCompile(`"` + regexp.QuoteMeta(name) + `"\s*:\s*"([^"\\]+)"`)
	return func(m StoredMsg) (string, string, bool) {
		var env struct {
			DedupKey string `json:"dedupkey"`
			Data     struct {
				Raw        json.RawMessage `json:"raw"`
				BodyBase64 []byte          `json:"bodyBase64"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data, &env); err != nil {
			return "", "", false
		}
		for _, b := range [][]byte{env.Data.Raw, env.Data.BodyBase64} {
			if sub := re.FindSubmatch(b); sub != nil {
				return string(sub[1]), env.DedupKey, true
			}
		}
		return "", env.DedupKey, false
	}
}

// Result is the classification of a history against a stream.
type Result struct {
	OK, Lost, Unknown, Duplicated []string
	// Unknown deliveries found in the stream anyway (a lost ack).
	UnknownStored int
	// Foreign are seqs of stored messages no delivery accounts for.
	Foreign []uint64
	// BadMsgID are seqs whose Nats-Msg-Id header differs from the
	// envelope's dedupkey.
	BadMsgID []uint64
	// WrongSeq are deliveries acknowledged with a seq that holds another
	// delivery (or nothing).
	WrongSeq []string
	// Stored is how many messages the stream holds; LastSeq its last seq.
	Stored  int
	LastSeq uint64
}

// Err is nil when nothing acknowledged is lost, nothing is stored twice,
// every ack names the right seq, every Nats-Msg-Id is its dedupkey and
// nothing unexplained is stored. Unknown deliveries are not an error: the
// caller decides (after resending, there should be none).
func (r *Result) Err() error {
	var errs []string
	add := func(what string, n int, sample any) {
		if n > 0 {
			errs = append(errs, fmt.Sprintf("%s=%d (e.g. %v)", what, n, sample))
		}
	}
	add("lost", len(r.Lost), first(r.Lost))
	add("duplicated", len(r.Duplicated), first(r.Duplicated))
	add("wrong_seq", len(r.WrongSeq), first(r.WrongSeq))
	add("bad_msg_id", len(r.BadMsgID), first(r.BadMsgID))
	add("foreign", len(r.Foreign), first(r.Foreign))
	if len(errs) == 0 {
		return nil
	}
	return errors.New("checker: " + strings.Join(errs, ", ") + "; " + r.String())
}

func first[T any](s []T) any {
	if len(s) == 0 {
		return nil
	}
	return s[0]
}

func (r *Result) String() string {
	return fmt.Sprintf("ok=%d lost=%d unknown=%d (stored anyway %d) duplicated=%d stored=%d last_seq=%d",
		len(r.OK), len(r.Lost), len(r.Unknown), r.UnknownStored, len(r.Duplicated), r.Stored, r.LastSeq)
}

// ReadStream reads every message of stream, in order, with an ordered
// consumer: consumers are served by the stream leader, so on a replicated
// stream this is the leader's content, not a possibly stale follower's.
// A read that fails (e.g. during a leader change) starts over until ctx
// ends.
func ReadStream(ctx context.Context, js jetstream.JetStream, stream string) ([]StoredMsg, uint64, error) {
	for {
		msgs, last, err := readStream(ctx, js, stream)
		if err == nil || ctx.Err() != nil {
			return msgs, last, err
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, 0, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

func readStream(ctx context.Context, js jetstream.JetStream, stream string) ([]StoredMsg, uint64, error) {
	s, err := streamOf(ctx, js, stream)
	if err != nil {
		return nil, 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("stream %s info: %w", stream, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil, last, nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, 0, fmt.Errorf("stream %s: ordered consumer: %w", stream, err)
	}
	var out []StoredMsg
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, 0, fmt.Errorf("stream %s: fetch: %w", stream, err)
		}
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return nil, 0, fmt.Errorf("stream %s: metadata: %w", stream, err)
			}
			out = append(out, StoredMsg{Seq: md.Sequence.Stream, Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
			if md.Sequence.Stream >= last {
				return out, last, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, 0, fmt.Errorf("stream %s: fetch: %w", stream, err)
		}
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("stream %s: read %d messages up to seq %d: %w", stream, len(out), last, ctx.Err())
		}
	}
}

// Check reads stream through js (see [ReadStream]) and classifies every
// delivery of the history.
func (c *Checker) Check(ctx context.Context, js jetstream.JetStream, stream string, key KeyFunc) (*Result, error) {
	msgs, last, err := ReadStream(ctx, js, stream)
	if err != nil {
		return nil, err
	}
	return c.Classify(msgs, last, key), nil
}

// Classify classifies the history against msgs, the stream's content.
func (c *Checker) Classify(msgs []StoredMsg, lastSeq uint64, key KeyFunc) *Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &Result{Stored: len(msgs), LastSeq: lastSeq}
	byKey := map[string][]uint64{}
	msgIDs := map[string]int{}
	keyMsgID := map[string]string{}
	for _, m := range msgs {
		k, dedup, ok := key(m)
		id := m.Header.Get(jetstream.MsgIDHeader)
		msgIDs[id]++
		if id == "" || id != dedup {
			r.BadMsgID = append(r.BadMsgID, m.Seq)
		}
		if !ok {
			r.Foreign = append(r.Foreign, m.Seq)
			continue
		}
		if _, known := c.ops[k]; !known {
			r.Foreign = append(r.Foreign, m.Seq)
			continue
		}
		byKey[k] = append(byKey[k], m.Seq)
		keyMsgID[k] = id
	}
	for _, k := range c.keys {
		op := c.ops[k]
		seqs := byKey[k]
		switch {
		case !op.done():
			r.Unknown = append(r.Unknown, k)
			if len(seqs) > 0 {
				r.UnknownStored++
			}
		case len(seqs) == 0:
			r.Lost = append(r.Lost, k)
		default:
			r.OK = append(r.OK, k)
		}
		if len(seqs) > 1 || (len(seqs) == 1 && msgIDs[keyMsgID[k]] > 1) {
			r.Duplicated = append(r.Duplicated, k)
		}
		for _, a := range op.Attempts {
			if a.Status == op.Want && a.Seq != 0 && (len(seqs) == 0 || !containsSeq(seqs, a.Seq)) {
				r.WrongSeq = append(r.WrongSeq, fmt.Sprintf("%s: acked seq %d, stored at %v", k, a.Seq, seqs))
				break
			}
		}
	}
	sort.Strings(r.Duplicated)
	return r
}

func containsSeq(seqs []uint64, s uint64) bool {
	for _, x := range seqs {
		if x == s {
			return true
		}
	}
	return false
}
