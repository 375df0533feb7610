package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults for [Publisher]; each can be changed with an [Option].
const (
	// DefaultBudget is the total time one Publish may spend retrying. It is
	// longer than the worst Raft election (9 s) so a leader loss on an R3
	// stream is absorbed inside the request.
	DefaultBudget = 12 * time.Second
	// DefaultAttemptTimeout bounds one publish request/reply.
	DefaultAttemptTimeout = 3 * time.Second
	// DefaultMaxBackoff caps the wait between attempts.
	DefaultMaxBackoff = time.Second
	// firstBackoff is the wait after the first failed attempt; it doubles.
	firstBackoff = 25 * time.Millisecond
)

// Header names on every stored message.
const (
	HeaderContentType = "Content-Type"
)

// Msg is one message to store.
type Msg struct {
	Subject     string
	ID          string // Nats-Msg-Id: the dedup key
	Data        []byte
	ContentType string // e.g. application/cloudevents+json
}

// Receipt is the proof that a message is stored.
type Receipt struct {
	Stream    string
	Seq       uint64
	Duplicate bool // an earlier message with the same ID is stored at Seq
}

// BrokerError means the message could not be confirmed stored. It may still
// have been stored (a timeout is not proof of absence); a retry with the same
// ID is safe.
type BrokerError struct {
	Subject  string
	Attempts int
	Err      error
}

func (e *BrokerError) Error() string {
	return fmt.Sprintf("publish %s: not acknowledged after %d attempt(s): %v", e.Subject, e.Attempts, e.Err)
}

func (e *BrokerError) Unwrap() error { return e.Err }

// ErrTooLarge means the message exceeds the server's max payload; it can
// never be stored as is.
var ErrTooLarge = errors.New("message exceeds the broker's max payload")

// Publisher publishes with the same Nats-Msg-Id until JetStream acknowledges
// or the budget runs out. It is safe for concurrent use.
type Publisher struct {
	nc             *nats.Conn
	js             jetstream.JetStream
	stream         string
	budget         time.Duration
	attemptTimeout time.Duration
	maxBackoff     time.Duration
	observe        func(time.Duration, error)
	batchMax       int
	batch          *batcher // nil without WithBatching
}

// Option configures a Publisher.
type Option func(*Publisher) error

// WithBudget sets the total retry budget of one Publish (default [DefaultBudget]).
func WithBudget(d time.Duration) Option {
	return positive("publish budget", d, func(p *Publisher) *time.Duration { return &p.budget })
}

// WithAttemptTimeout bounds one attempt (default [DefaultAttemptTimeout]).
func WithAttemptTimeout(d time.Duration) Option {
	return positive("publish attempt timeout", d, func(p *Publisher) *time.Duration { return &p.attemptTimeout })
}

// WithMaxBackoff caps the wait between attempts (default [DefaultMaxBackoff]).
func WithMaxBackoff(d time.Duration) Option {
	return positive("publish max backoff", d, func(p *Publisher) *time.Duration { return &p.maxBackoff })
}

// positive is an Option that sets the field field returns to d, which must be > 0.
func positive(name string, d time.Duration, field func(*Publisher) *time.Duration) Option {
	return func(p *Publisher) error {
		if d <= 0 {
			return fmt.Errorf("%s must be > 0, got %v", name, d)
		}
		*field(p) = d
		return nil
	}
}

// WithObserver is called once per Publish with its duration and outcome
// (nil error on success), e.g. to feed a latency histogram.
func WithObserver(f func(time.Duration, error)) Option {
	return func(p *Publisher) error { p.observe = f; return nil }
}

// New returns a Publisher that writes to stream through nc.
func New(nc *nats.Conn, stream string, opts ...Option) (*Publisher, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	p := &Publisher{
		nc: nc, js: js, stream: stream,
		budget: DefaultBudget, attemptTimeout: DefaultAttemptTimeout, maxBackoff: DefaultMaxBackoff,
	}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, err
		}
	}
	if p.attemptTimeout > p.budget {
		return nil, fmt.Errorf("publish attempt timeout %v exceeds the budget %v", p.attemptTimeout, p.budget)
	}
	if p.batchMax > 1 {
		p.batch = &batcher{p: p, max: p.batchMax}
	}
	return p, nil
}

// Stream is the name of the stream messages are written to.
func (p *Publisher) Stream() string { return p.stream }

// Publish stores m and returns its Receipt once JetStream has acknowledged
// it. Every attempt carries the same Nats-Msg-Id and Nats-Expected-Stream, so
// a retry after a lost ack is stored once. It retries, with capped
// exponential backoff, on: no responders / no stream response (leader
// election), timeouts, a disconnected client, and JetStream's "duplicate
// message id is in process" (err 10158, a concurrent identical publish on
// R>1). It gives up with a [*BrokerError] when the budget (or ctx) runs out,
// and at once on errors a retry cannot fix. A message larger than the
// server's max payload or the stream's max message size fails with
// [ErrTooLarge].
//
// With [WithBatching], concurrent calls are coalesced into atomic batches;
// each call still returns only once its own message is acknowledged, with
// its own seq (see batch.go), and falls back to the retries above when its
// batch fails.
func (p *Publisher) Publish(ctx context.Context, m Msg) (Receipt, error) {
	start := time.Now()
	var (
		r   Receipt
		err error
	)
	switch {
	case p.nc.MaxPayload() > 0 && int64(len(m.Data)) > p.nc.MaxPayload():
		err = fmt.Errorf("publish %s: %d bytes: %w", m.Subject, len(m.Data), ErrTooLarge)
	case p.Batching():
		r, err = p.batch.publish(ctx, m, start)
	default:
		r, err = p.publishOne(ctx, m, start)
	}
	if p.observe != nil {
		p.observe(time.Since(start), err)
	}
	return r, err
}

// msg is m as a NATS message with dtbridge's headers.
func (p *Publisher) msg(m Msg) *nats.Msg {
	h := nats.Header{
		jetstream.MsgIDHeader:          []string{m.ID},
		jetstream.ExpectedStreamHeader: []string{p.stream},
	}
	if m.ContentType != "" {
		h[HeaderContentType] = []string{m.ContentType}
	}
	return &nats.Msg{Subject: m.Subject, Data: m.Data, Header: h}
}

// attempt is one publish request/reply of msg.
func (p *Publisher) attempt(ctx context.Context, msg *nats.Msg) (Receipt, error) {
	ack, err := p.js.PublishMsg(ctx, msg, jetstream.WithRetryAttempts(0))
	if err != nil {
		return Receipt{}, err
	}
	if ack.Stream != p.stream {
		return Receipt{}, fmt.Errorf("publish %s: acknowledged by stream %q, want %q", msg.Subject, ack.Stream, p.stream)
	}
	return Receipt{Stream: ack.Stream, Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// publishOne publishes m on its own, retrying until acknowledged or out of
// budget (counted from start).
func (p *Publisher) publishOne(ctx context.Context, m Msg, start time.Time) (Receipt, error) {
	deadline := start.Add(p.budget)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	msg := p.msg(m)
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		remaining := time.Until(deadline)
		actx, cancel := context.WithTimeout(ctx, min(p.attemptTimeout, remaining))
		r, err := p.attempt(actx, msg)
		cancel()
		if err == nil {
			return r, nil
		}
		if errTooLargeForStream(err) {
			return Receipt{}, fmt.Errorf("publish %s: %d bytes: %w (%v)", m.Subject, len(m.Data), ErrTooLarge, err)
		}
		if ctx.Err() != nil {
			return Receipt{}, &BrokerError{Subject: m.Subject, Attempts: attempt, Err: ctx.Err()}
		}
		if !retryable(err) {
			return Receipt{}, &BrokerError{Subject: m.Subject, Attempts: attempt, Err: err}
		}
		if time.Until(deadline) <= backoff {
			return Receipt{}, &BrokerError{Subject: m.Subject, Attempts: attempt, Err: err}
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return Receipt{}, &BrokerError{Subject: m.Subject, Attempts: attempt, Err: ctx.Err()}
		case <-t.C:
		}
		backoff = min(2*backoff, p.maxBackoff)
	}
}

// errDuplicateInProcess is JSStreamDuplicateMessageConflict: a message with
// the same Nats-Msg-Id is still being proposed (R>1).
const errDuplicateInProcess jetstream.ErrorCode = 10158

// retryable reports whether another attempt with the same ID can succeed.
func retryable(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 10158: the first copy is in flight; a retry gets Duplicate:true.
		// 503-class API errors: JetStream temporarily unavailable.
		return apiErr.ErrorCode == errDuplicateInProcess || apiErr.Code == 503
	}
	switch {
	case errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrReconnectBufExceeded),
		errors.Is(err, nats.ErrStaleConnection):
		return true
	}
	return false
}
