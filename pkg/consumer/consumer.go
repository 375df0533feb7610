package consumer

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/dtbridge/dtbridge/pkg/envelope"
	"github.com/dtbridge/dtbridge/pkg/subject"
)

// Defaults.
const (
	DefaultMaxDeliver       = 5
	DefaultAckWait          = 30 * time.Second
	DefaultConcurrency      = 1
	DefaultDrainTimeout     = 30 * time.Second
	DefaultDeadLetterPrefix = "deadletter"
	DefaultDeadLetterStream = "DEADLETTER"
	// ackTimeout bounds waiting for the server to confirm an ack.
	ackTimeout = 10 * time.Second
)

// DefaultBackoff is the delay before each redelivery after a handler error:
// the n-th failure waits DefaultBackoff[n-1], the last entry repeating.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute}

// Dead-letter headers, added to the original message's headers.
const (
	HeaderDeadLetterError    = "Dtbridge-Dead-Letter-Error"    // the last error
	HeaderDeadLetterOf       = "Dtbridge-Dead-Letter-Of"       // "<stream>:<seq>" of the original
	HeaderDeadLetterConsumer = "Dtbridge-Dead-Letter-Consumer" // the consumer that gave up
	HeaderDeliveries         = "Dtbridge-Deliveries"           // how many times it was delivered
)

// Handler handles one event. Returning nil acknowledges it; an error
// schedules a redelivery, or dead-letters it at once if it is [Permanent].
type Handler func(ctx context.Context, ev envelope.Event) error

// Start is where a new durable consumer begins.
type Start struct {
	policy jetstream.DeliverPolicy
	seq    uint64
	time   time.Time
}

// StartNew begins with events stored after the consumer is created (the default).
func StartNew() Start { return Start{policy: jetstream.DeliverNewPolicy} }

// StartAll begins with the first event in the stream.
func StartAll() Start { return Start{policy: jetstream.DeliverAllPolicy} }

// StartAtTime begins with the first event stored at or after t.
func StartAtTime(t time.Time) Start {
	return Start{policy: jetstream.DeliverByStartTimePolicy, time: t}
}

// StartAtSeq begins at stream sequence seq (≥ 1).
func StartAtSeq(seq uint64) Start {
	return Start{policy: jetstream.DeliverByStartSequencePolicy, seq: seq}
}

// Consumer runs handlers over a durable pull consumer. Register handlers
// before [Consumer.Run]; Run may be called once at a time.
type Consumer struct {
	js           jetstream.JetStream
	stream, name string
	filters      []string
	start        Start
	maxDeliver   int
	backoff      []time.Duration
	ackWait      time.Duration
	concurrency  int
	drainTimeout time.Duration
	dlPrefix     string
	dlStream     string
	logger       *zap.Logger

	mu       sync.RWMutex
	handlers map[string]Handler
	other    Handler
}

// Option configures a [Consumer].
type Option func(*Consumer) error

// WithFilter limits the consumer to subjects (wildcards allowed); default:
// every subject of the stream.
func WithFilter(subjects ...string) Option {
	return func(c *Consumer) error {
		for _, s := range subjects {
			if s == "" {
				return errors.New("consumer: empty filter subject")
			}
		}
		c.filters = append([]string(nil), subjects...)
		return nil
	}
}

// WithStart sets where a new consumer begins (default [StartNew]). An
// existing durable consumer keeps its position.
func WithStart(s Start) Option {
	return func(c *Consumer) error {
		if s.policy == jetstream.DeliverByStartSequencePolicy && s.seq == 0 {
			return errors.New("consumer: start sequence must be >= 1")
		}
		if s.policy == jetstream.DeliverByStartTimePolicy && s.time.IsZero() {
			return errors.New("consumer: start time must be set")
		}
		c.start = s
		return nil
	}
}

// WithMaxDeliver sets how many deliveries an event gets before it is
// dead-lettered (default DefaultMaxDeliver, ≥ 1).
func WithMaxDeliver(n int) Option {
	return func(c *Consumer) error {
		if n < 1 {
			return fmt.Errorf("consumer: max deliver must be >= 1 (got %d)", n)
		}
		c.maxDeliver = n
		return nil
	}
}

// WithBackoff sets the redelivery delays after handler errors (default
// [DefaultBackoff]); the last one repeats.
func WithBackoff(delays ...time.Duration) Option {
	return func(c *Consumer) error {
		if len(delays) == 0 {
			return errors.New("consumer: backoff needs at least one delay")
		}
		for _, d := range delays {
			if d < 0 {
				return fmt.Errorf("consumer: negative backoff %s", d)
			}
		}
		c.backoff = append([]time.Duration(nil), delays...)
		return nil
	}
}

// WithAckWait sets how long the server waits for a handler before
// redelivering (default DefaultAckWait). A handler that runs longer is
// delivered again, to this or another instance.
func WithAckWait(d time.Duration) Option {
	return func(c *Consumer) error {
		if d < time.Second {
			return fmt.Errorf("consumer: ack wait must be >= 1s (got %s)", d)
		}
		c.ackWait = d
		return nil
	}
}

// WithConcurrency sets how many handlers run at once (default 1, which
// handles events one at a time in stream order).
func WithConcurrency(n int) Option {
	return func(c *Consumer) error {
		if n < 1 {
			return fmt.Errorf("consumer: concurrency must be >= 1 (got %d)", n)
		}
		c.concurrency = n
		return nil
	}
}

// WithDrainTimeout bounds how long Run waits for handlers in flight after
// its context ends; then their context is cancelled (default
// DefaultDrainTimeout).
func WithDrainTimeout(d time.Duration) Option {
	return func(c *Consumer) error {
		if d <= 0 {
			return fmt.Errorf("consumer: drain timeout must be > 0 (got %s)", d)
		}
		c.drainTimeout = d
		return nil
	}
}

// WithDeadLetter sets the dead-letter subject prefix (default
// DefaultDeadLetterPrefix) and the stream Run creates to store dead letters
// when no stream captures {prefix}.{consumer}.> yet (default
// DefaultDeadLetterStream; "" = never create one). The prefix must lie
// outside the consumed stream, or dead letters would be consumed again.
func WithDeadLetter(prefix, stream string) Option {
	return func(c *Consumer) error {
		if prefix == "" || strings.ContainsAny(prefix, "*> \t\r\n") || strings.Contains(prefix, "..") ||
			strings.HasPrefix(prefix, ".") || strings.HasSuffix(prefix, ".") {
			return fmt.Errorf("consumer: dead-letter prefix %q must be literal subject tokens", prefix)
		}
		c.dlPrefix, c.dlStream = prefix, stream
		return nil
	}
}

// WithLogger logs errors and dead letters (default: no logging).
func WithLogger(l *zap.Logger) Option {
	return func(c *Consumer) error {
		if l == nil {
			return errors.New("consumer: nil logger")
		}
		c.logger = l
		return nil
	}
}

// New returns a consumer named durable on stream. Nothing touches the
// server until [Consumer.Run].
func New(js jetstream.JetStream, stream, durable string, opts ...Option) (*Consumer, error) {
	if js == nil {
		return nil, errors.New("consumer: nil JetStream")
	}
	if stream == "" || durable == "" || strings.ContainsAny(durable, ".*> \t\r\n") {
		return nil, fmt.Errorf("consumer: stream %q and durable name %q must be non-empty, the name without '.', '*', '>' or spaces", stream, durable)
	}
	c := &Consumer{
		js: js, stream: stream, name: durable, start: StartNew(),
		maxDeliver: DefaultMaxDeliver, backoff: DefaultBackoff, ackWait: DefaultAckWait,
		concurrency: DefaultConcurrency, drainTimeout: DefaultDrainTimeout,
		dlPrefix: DefaultDeadLetterPrefix, dlStream: DefaultDeadLetterStream,
		logger: zap.NewNop(), handlers: map[string]Handler{},
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// On registers h for events of type eventType (the full CloudEvents type,
// e.g. "io.doubletick.conversation.closed.v1"; see [Type]). A later call
// for the same type replaces the handler.
func (c *Consumer) On(eventType string, h Handler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers[eventType] = h
}

// OnOther registers h for events whose type has no handler (by default
// they are acknowledged and skipped).
func (c *Consumer) OnOther(h Handler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.other = h
}

func (c *Consumer) handler(eventType string) Handler {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if h, ok := c.handlers[eventType]; ok {
		return h
	}
	return c.other
}

// Dispatch runs the handler registered for ev.Type, as Run does for a
// message from the stream, and returns its error (nil when no handler
// matches). It serves events that arrive by another route, such as a
// `dtbridge replay --to URL` delivery, through the same code.
func (c *Consumer) Dispatch(ctx context.Context, ev envelope.Event) error {
	h := c.handler(ev.Type)
	if h == nil {
		return nil
	}
	return run(ctx, h, ev)
}

// DeadLetterSubject is where the message stored on subj goes when this
// consumer gives up on it.
func (c *Consumer) DeadLetterSubject(subj string) string {
	return c.dlPrefix + "." + c.name + "." + subj
}

// Run creates or updates the durable consumer, makes sure dead letters
// have a stream, and handles events until ctx ends; then it drains (see
// the package documentation) and returns nil. It returns an error if the
// setup fails.
func (c *Consumer) Run(ctx context.Context) error {
	cons, err := c.setup(ctx)
	if err != nil {
		return err
	}
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	sem := make(chan struct{}, c.concurrency)
	var wg sync.WaitGroup
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case <-ctx.Done():
			_ = m.Nak() // stopping: hand it back for immediate redelivery
			return
		case sem <- struct{}{}:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.process(hctx, m)
		}()
	}, jetstream.PullMaxMessages(c.concurrency), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		c.logger.Warn("consume", zap.String("consumer", c.name), zap.Error(err))
	}))
	if err != nil {
		return fmt.Errorf("consumer %s: consume: %w", c.name, err)
	}
	<-ctx.Done()
	cc.Drain()
	idle := make(chan struct{})
	go func() {
		<-cc.Closed()
		wg.Wait()
		close(idle)
	}()
	t := time.NewTimer(c.drainTimeout)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
		c.logger.Warn("drain timeout: cancelling handlers in flight", zap.String("consumer", c.name), zap.Duration("timeout", c.drainTimeout))
		hcancel()
		<-idle
	}
	return nil
}

// setup checks the dead-letter target, ensures its stream, and creates or
// updates the durable consumer.
func (c *Consumer) setup(ctx context.Context) (jetstream.Consumer, error) {
	s, err := c.js.Stream(ctx, c.stream)
	if err != nil {
		return nil, fmt.Errorf("consumer %s: stream %s: %w", c.name, c.stream, err)
	}
	dl := c.dlPrefix + "." + c.name + ".>"
	for _, subj := range s.CachedInfo().Config.Subjects {
		if subject.Overlap(subj, dl) {
			return nil, fmt.Errorf("consumer %s: dead-letter subjects %s would be stored in the consumed stream %s (subject %s): choose another prefix", c.name, dl, c.stream, subj)
		}
	}
	if _, err := c.js.StreamNameBySubject(ctx, dl); errors.Is(err, jetstream.ErrStreamNotFound) && c.dlStream != "" {
		if _, err := c.js.CreateStream(ctx, jetstream.StreamConfig{
			Name: c.dlStream, Subjects: []string{c.dlPrefix + ".>"}, Storage: jetstream.FileStorage,
			Duplicates: 2 * time.Minute,
		}); err != nil {
			return nil, fmt.Errorf("consumer %s: create dead-letter stream %s for %s.>: %w", c.name, c.dlStream, c.dlPrefix, err)
		}
	} else if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("consumer %s: look up the dead-letter stream: %w", c.name, err)
	}

	cfg := jetstream.ConsumerConfig{
		Durable:       c.name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.ackWait,
		MaxDeliver:    -1, // the consumer counts deliveries itself, so a failed dead-letter publish is retried, never dropped
		DeliverPolicy: c.start.policy,
		MaxAckPending: max(1000, 2*c.concurrency),
	}
	switch len(c.filters) {
	case 0:
	case 1:
		cfg.FilterSubject = c.filters[0]
	default:
		cfg.FilterSubjects = c.filters
	}
	if existing, err := s.Consumer(ctx, c.name); err == nil {
		// The start position is fixed at creation; keep it.
		old := existing.CachedInfo().Config
		cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = old.DeliverPolicy, old.OptStartSeq, old.OptStartTime
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("consumer %s: %w", c.name, err)
	} else {
		switch c.start.policy {
		case jetstream.DeliverByStartSequencePolicy:
			cfg.OptStartSeq = c.start.seq
		case jetstream.DeliverByStartTimePolicy:
			t := c.start.time
			cfg.OptStartTime = &t
		}
	}
	cons, err := s.CreateOrUpdateConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("consumer %s on %s: %w", c.name, c.stream, err)
	}
	return cons, nil
}

// process runs one message through its handler and settles it.
func (c *Consumer) process(ctx context.Context, m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		c.logger.Error("message without metadata", zap.String("subject", m.Subject()), zap.Error(err))
		_ = m.Term()
		return
	}
	d := Delivery{Stream: md.Stream, Seq: md.Sequence.Stream, Subject: m.Subject(), Attempt: int(md.NumDelivered)}
	if d.Attempt > c.maxDeliver {
		// Given up earlier, but the dead-letter publish failed: try it again.
		c.deadLetter(ctx, m, d, fmt.Errorf("delivered %d times, max %d", d.Attempt, c.maxDeliver))
		return
	}
	ev, err := Decode(m.Headers(), m.Data())
	if err != nil {
		c.deadLetter(ctx, m, d, Permanent(err))
		return
	}
	h := c.handler(ev.Type)
	if h == nil {
		c.ack(ctx, m, d)
		return
	}
	err = run(withDelivery(ctx, d), h, ev)
	if err == nil {
		c.ack(ctx, m, d)
		return
	}
	if IsPermanent(err) || d.Attempt >= c.maxDeliver {
		c.deadLetter(ctx, m, d, err)
		return
	}
	delay := c.backoff[min(d.Attempt, len(c.backoff))-1]
	c.logger.Warn("handler failed; redelivery scheduled", zap.String("consumer", c.name), zap.Uint64("seq", d.Seq),
		zap.String("type", ev.Type), zap.Int("attempt", d.Attempt), zap.Duration("delay", delay), zap.Error(err))
	if err := m.NakWithDelay(delay); err != nil {
		c.logger.Warn("nak failed; the server redelivers after the ack wait", zap.Uint64("seq", d.Seq), zap.Error(err))
	}
}

// run calls h, turning a panic into an error.
func run(ctx context.Context, h Handler, ev envelope.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return h(ctx, ev)
}

func (c *Consumer) ack(ctx context.Context, m jetstream.Msg, d Delivery) {
	actx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	if err := m.DoubleAck(actx); err != nil {
		c.logger.Warn("ack not confirmed; the event may be delivered again", zap.String("consumer", c.name), zap.Uint64("seq", d.Seq), zap.Error(err))
	}
}

// deadLetter publishes m to the dead-letter subject, then terminates it. If
// the publish fails, m is kept for a later try.
func (c *Consumer) deadLetter(ctx context.Context, m jetstream.Msg, d Delivery, cause error) {
	out := nats.NewMsg(c.DeadLetterSubject(m.Subject()))
	for k, v := range m.Headers() {
		out.Header[k] = append([]string(nil), v...)
	}
	of := d.Stream + ":" + strconv.FormatUint(d.Seq, 10)
	out.Header.Set(HeaderDeadLetterError, headerValue(cause.Error()))
	out.Header.Set(HeaderDeadLetterOf, of)
	out.Header.Set(HeaderDeadLetterConsumer, c.name)
	out.Header.Set(HeaderDeliveries, strconv.Itoa(d.Attempt))
	out.Header.Set(jetstream.MsgIDHeader, of+":"+c.name) // a retried dead-letter publish is stored once
	out.Data = m.Data()
	pctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	if _, err := c.js.PublishMsg(pctx, out); err != nil {
		delay := c.backoff[len(c.backoff)-1]
		c.logger.Error("dead-letter publish failed; keeping the event", zap.String("consumer", c.name), zap.Uint64("seq", d.Seq),
			zap.String("subject", out.Subject), zap.Duration("retry_in", delay), zap.Error(err))
		_ = m.NakWithDelay(delay)
		return
	}
	c.logger.Error("event dead-lettered", zap.String("consumer", c.name), zap.Uint64("seq", d.Seq),
		zap.String("subject", out.Subject), zap.Int("deliveries", d.Attempt), zap.Error(cause))
	if err := m.TermWithReason("dead-lettered to " + out.Subject); err != nil {
		c.logger.Warn("term failed", zap.Uint64("seq", d.Seq), zap.Error(err))
	}
}

// headerValue makes s a single-line header value of at most 1 KiB.
func headerValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 1024 {
		s = s[:1024]
	}
	return s
}

// ErrNotCloudEvent is returned (wrapped) by [Decode] for a message that is
// not a dtbridge CloudEvent in structured JSON mode.
var ErrNotCloudEvent = errors.New("not a structured-mode CloudEvent")

// Decode decodes a stored message: CloudEvents structured JSON, as the
// bridge writes it. A Content-Type header, when present, must be
// application/cloudevents+json (parameters allowed).
func Decode(h nats.Header, data []byte) (envelope.Event, error) {
	if ct := h.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != envelope.ContentType {
			return envelope.Event{}, fmt.Errorf("%w: Content-Type %q", ErrNotCloudEvent, ct)
		}
	}
	var ev envelope.Event
	if err := ev.UnmarshalJSON(data); err != nil {
		return envelope.Event{}, fmt.Errorf("%w: %w", ErrNotCloudEvent, err)
	}
	if ev.SpecVersion != envelope.SpecVersion || ev.ID == "" || ev.Type == "" {
		return envelope.Event{}, fmt.Errorf("%w: specversion %q, id %q, type %q", ErrNotCloudEvent, ev.SpecVersion, ev.ID, ev.Type)
	}
	return ev, nil
}
