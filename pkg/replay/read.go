package replay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Msg is one stored message as read back from the stream.
type Msg struct {
	Stream  string
	Seq     uint64    // stream sequence
	Subject string    // the subject it was stored under
	Time    time.Time // when the stream stored it
	Header  nats.Header
	Data    []byte // the stored bytes, exactly
	// Pending is how many messages matching the filter the stream held after
	// this one when it was delivered (an estimate of what is left).
	Pending uint64
}

// Range selects the messages [Read] returns. FromSeq and Since are
// alternatives: set at most one.
type Range struct {
	// Filter is a subject filter, wildcards allowed ("" = every subject).
	Filter string
	// FromSeq is the first stream sequence to read (0 = from the start).
	FromSeq uint64
	// Since is the earliest storage time to read (zero = from the start).
	Since time.Time
	// Until is the latest storage time to read, inclusive (zero = no bound).
	// Reading stops at the first message stored after Until.
	Until time.Time
}

// ErrRange is returned (wrapped) for a Range that cannot be read.
var ErrRange = errors.New("invalid replay range")

func (r Range) validate() error {
	if r.FromSeq > 0 && !r.Since.IsZero() {
		return fmt.Errorf("%w: a start sequence and a start time are alternatives, set one", ErrRange)
	}
	if !r.Until.IsZero() && !r.Since.IsZero() && r.Until.Before(r.Since) {
		return fmt.Errorf("%w: until (%s) is before since (%s)", ErrRange, r.Until.Format(time.RFC3339Nano), r.Since.Format(time.RFC3339Nano))
	}
	return nil
}

// Read calls fn for every message of stream in r, in stream order, and
// returns when the last message that matched r.Filter when Read began has
// been passed to fn (messages stored later are not read), when a message
// stored after r.Until arrives, or at the first error: fn's error is
// returned as is, others are wrapped. It uses an ordered consumer and
// leaves nothing behind on the server.
func Read(ctx context.Context, js jetstream.JetStream, stream string, r Range, fn func(Msg) error) error {
	if err := r.validate(); err != nil {
		return err
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	filter := r.Filter
	if filter == "" {
		filter = ">"
	}
	// The end is the last matching message now; later ones are not read.
	last, err := s.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stream %s: last message on %s: %w", stream, filter, err)
	}
	end := last.Sequence
	if r.FromSeq > end || (!r.Since.IsZero() && last.Time.Before(r.Since)) {
		return nil // nothing stored in the range
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if r.Filter != "" {
		cfg.FilterSubjects = []string{r.Filter}
	}
	switch {
	case r.FromSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, r.FromSeq
	case !r.Since.IsZero():
		since := r.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	return consume(ctx, js, stream, cfg, func(m Msg) (bool, error) {
		if m.Seq > end || (!r.Until.IsZero() && m.Time.After(r.Until)) {
			return false, nil
		}
		if err := fn(m); err != nil {
			return false, err
		}
		// Pending 0: nothing more matches, even if the message at end was
		// removed (max age) while reading.
		return m.Seq < end && m.Pending > 0, nil
	})
}

// Follow calls fn for every message on filter ("" = every subject) stored
// from now on, after first replaying the last n matching messages already
// stored (n = 0: only new ones). It returns nil when ctx ends, or fn's
// error. Like [Read] it uses an ordered consumer.
func Follow(ctx context.Context, js jetstream.JetStream, stream, filter string, n uint64, fn func(Msg) error) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
	if filter != "" {
		cfg.FilterSubjects = []string{filter}
	}
	if n > 0 {
		start, err := startOfLast(ctx, js, stream, filter, n)
		if err != nil {
			return err
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start
	}
	err := consume(ctx, js, stream, cfg, func(m Msg) (bool, error) { return true, fn(m) })
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// consume runs an ordered consumer and passes each message to fn until fn
// says stop, returns an error, or ctx ends.
func consume(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig, fn func(Msg) (more bool, err error)) error {
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("stream %s: ordered consumer: %w", stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("stream %s: read: %w", stream, err)
	}
	defer it.Stop()
	for {
		jm, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("stream %s: read: %w", stream, err)
		}
		md, err := jm.Metadata()
		if err != nil {
			return fmt.Errorf("stream %s: message metadata: %w", stream, err)
		}
		more, err := fn(Msg{
			Stream: stream, Seq: md.Sequence.Stream, Subject: jm.Subject(), Time: md.Timestamp,
			Header: jm.Headers(), Data: jm.Data(), Pending: md.NumPending,
		})
		if err != nil || !more {
			return err
		}
	}
}

// startOfLast returns the stream sequence from which exactly the last n
// messages on filter are stored (the first sequence when fewer are). It
// binary-searches with short-lived consumers, which the server answers from
// its index, so the cost is logarithmic in the stream length.
func startOfLast(ctx context.Context, js jetstream.JetStream, stream, filter string, n uint64) (uint64, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: info: %w", stream, err)
	}
	lo, hi := max(info.State.FirstSeq, 1), info.State.LastSeq+1
	pending := func(seq uint64) (uint64, error) {
		cfg := jetstream.ConsumerConfig{
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: seq,
			AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: time.Minute,
		}
		if filter != "" {
			cfg.FilterSubject = filter
		}
		c, err := s.CreateConsumer(ctx, cfg)
		if err != nil {
			return 0, fmt.Errorf("stream %s: probe consumer: %w", stream, err)
		}
		p := c.CachedInfo().NumPending
		_ = s.DeleteConsumer(ctx, c.CachedInfo().Name) // it expires anyway
		return p, nil
	}
	if p, err := pending(lo); err != nil || p <= n {
		return lo, err
	}
	// Invariant: pending(lo) > n; find the largest start with pending >= n.
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		p, err := pending(mid)
		if err != nil {
			return 0, err
		}
		if p >= n {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}
