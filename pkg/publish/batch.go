package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Coalescing concurrent publishes into JetStream atomic batches.
//
// With the server's fsync on every write (embedded.sync: always), each
// single publish costs one fsync, so a bridge that publishes one message per
// delivery can never store more deliveries per second than the disk can
// fsync. An atomic batch (nats-server ≥ 2.12, stream AllowAtomicPublish) is
// staged by the server and committed with ONE fsync for the whole batch
// (server/stream.go processJetStreamAtomicBatchMsg, "coalesceSync"). The
// batcher collects the messages that arrive while the previous batch is in
// flight and sends them as one batch: no timer, so an idle bridge adds no
// latency (a lone message is published on its own, exactly as without
// batching).
//
// What the server guarantees, and what the batcher relies on:
//   - The commit ack arrives only after every message of the batch is stored
//     (and, with SyncAlways, fsynced): {"stream","seq","batch","count"}, where
//     seq is the LAST message's sequence.
//   - A batch is stored contiguously: the commit holds the stream's isolation
//     lock (R1), or is proposed as one multi-entry Raft proposal (R>1), so
//     message i (1-based) of a batch of count is stored at seq-count+i.
//   - A batch is all or nothing. Any message the server would refuse — a
//     Nats-Msg-Id already stored or twice in the batch (err 10201), one in
//     flight on R>1 (10158), too large — fails the whole batch and stores
//     none of it.
//
// So the batcher never puts two messages with the same ID in one batch (the
// later ones are answered Duplicate:true with the first one's seq, as the
// server would), and when a batch fails for any reason, or its ack is not
// exactly what was sent, every delivery in it falls back to the single
// publish path with its usual retries and the same Nats-Msg-Id. Nothing is
// acknowledged that the server did not acknowledge; a message the failed
// batch might have stored is deduplicated by its ID.

// Batching defaults.
const (
	// DefaultBatchMax is the largest batch [WithBatching] builds.
	DefaultBatchMax = 64
	// MaxBatch is nats-server's default limit on an atomic batch's size
	// (streamDefaultMaxAtomicBatchSize).
	MaxBatch = 1000
	// batchFlushers is how many batches may be in flight at once. Two let
	// the server stage one batch while it commits the other; the server
	// allows 50 per stream.
	batchFlushers = 2
)

// JetStream error codes the batcher acts on.
const (
	errAtomicPublishDisabled jetstream.ErrorCode = 10174 // JSAtomicPublishDisabledErr
	errMessageTooLarge       jetstream.ErrorCode = 10054 // JSStreamMessageExceedsMaximumErr
)

// Header names of JetStream atomic batch publish (nats-server server/stream.go).
const (
	headerBatchID     = "Nats-Batch-Id"
	headerBatchSeq    = "Nats-Batch-Sequence"
	headerBatchCommit = "Nats-Batch-Commit"
)

// WithBatching makes the Publisher coalesce concurrent publishes into
// atomic batches of at most max messages (see the package's batching notes);
// max ≤ 1 disables it. The stream must allow atomic publish
// ([StreamConfig.AtomicPublish], server ≥ 2.12): check with
// [AtomicPublishAllowed] first. If the server refuses atomic publish at run
// time, the Publisher logs nothing, stops batching and publishes one by one.
func WithBatching(max int) Option {
	return func(p *Publisher) error {
		if max > MaxBatch {
			return fmt.Errorf("publish batch size must be <= %d, got %d", MaxBatch, max)
		}
		p.batchMax = max
		return nil
	}
}

// AtomicPublishAllowed reports whether stream exists and allows atomic batch
// publish (AllowAtomicPublish, nats-server ≥ 2.12).
func AtomicPublishAllowed(ctx context.Context, nc *nats.Conn, stream string) (bool, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return false, fmt.Errorf("jetstream: %w", err)
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return false, fmt.Errorf("stream %s: %w", stream, err)
	}
	return s.CachedInfo().Config.AllowAtomicPublish, nil
}

// Batching reports whether the Publisher currently coalesces publishes.
func (p *Publisher) Batching() bool { return p.batch != nil && !p.batch.off.Load() }

// batcher queues messages and flushes them in batches; see the notes above.
type batcher struct {
	p        *Publisher
	max      int
	mu       sync.Mutex
	pending  []*pending
	flushers int         // goroutines running flushLoop
	off      atomic.Bool // the server refused atomic publish: publish one by one
	choose   chooser
	turn     sync.RWMutex // held exclusively by a measured flush
}

// pending is one message waiting for its batch.
type pending struct {
	ctx  context.Context
	m    Msg
	done chan outcome // buffered: the flusher never blocks on it
}

// outcome is what a flush decided for one message: a receipt, or retry
// (publish it on its own, with the single path's retries).
type outcome struct {
	rcpt  Receipt
	retry bool
}

// publish queues m and waits for its batch. start is when Publish began (the
// budget runs from it).
func (b *batcher) publish(ctx context.Context, m Msg, start time.Time) (Receipt, error) {
	pm := &pending{ctx: ctx, m: m, done: make(chan outcome, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, pm)
	spawn := b.flushers < batchFlushers
	if spawn {
		b.flushers++
	}
	b.mu.Unlock()
	if spawn {
		go b.flushLoop()
	}
	select {
	case o := <-pm.done:
		if o.retry {
			return b.p.publishOne(ctx, m, start)
		}
		return o.rcpt, nil
	case <-ctx.Done():
		// Possibly stored by a batch in flight: a retry with the same ID is safe.
		return Receipt{}, &BrokerError{Subject: m.Subject, Attempts: 1, Err: ctx.Err()}
	}
}

// flushLoop flushes what is pending, batch after batch, and exits when
// nothing is left: there is no timer and no idle goroutine.
func (b *batcher) flushLoop() {
	for {
		b.mu.Lock()
		n := min(len(b.pending), b.max)
		if n == 0 {
			b.flushers--
			b.mu.Unlock()
			return
		}
		batch := make([]*pending, n)
		copy(batch, b.pending)
		rest := copy(b.pending, b.pending[n:])
		clear(b.pending[rest:])
		b.pending = b.pending[:rest]
		b.mu.Unlock()
		b.flush(batch)
	}
}

// flush publishes batch: one message on its own; several as one atomic
// batch, or each on its own all at once (pipelined), whichever has cost
// less per message lately (see chooser); one message per Nats-Msg-Id.
func (b *batcher) flush(batch []*pending) {
	uniq := make([]*pending, 0, len(batch))
	var (
		index     map[string]int     // ID → position in uniq
		followers map[int][]*pending // repeats of uniq[i]'s ID in this batch
	)
	for _, pm := range batch {
		if pm.ctx.Err() != nil {
			continue // its Publish has returned already
		}
		if len(batch) > 1 {
			if index == nil {
				index = make(map[string]int, len(batch))
			}
			if i, dup := index[pm.m.ID]; dup {
				if followers == nil {
					followers = make(map[int][]*pending)
				}
				followers[i] = append(followers[i], pm)
				continue
			}
			index[pm.m.ID] = len(uniq)
		}
		uniq = append(uniq, pm)
	}
	var results []result
	switch {
	case len(uniq) == 0:
		return
	case len(uniq) == 1, b.off.Load():
		results = b.singles(uniq)
	default:
		atomic, measure := b.choose.decide(len(uniq))
		// A measured flush runs alone: the server handles a stream's
		// writes one after the other, so a flush timed while another one
		// is in flight would be charged for the other one's work too.
		if measure {
			b.turn.Lock()
		} else {
			b.turn.RLock()
		}
		began := time.Now()
		if atomic {
			results = b.atomic(uniq)
		} else {
			results = b.singles(uniq)
		}
		took := time.Since(began)
		if measure {
			b.turn.Unlock()
			b.choose.record(len(uniq), atomic, took, results)
		} else {
			b.turn.RUnlock()
		}
	}
	for i, pm := range uniq {
		r := results[i]
		if !r.ok {
			pm.done <- outcome{retry: true}
			for _, f := range followers[i] {
				f.done <- outcome{retry: true}
			}
			continue
		}
		pm.done <- outcome{rcpt: r.rcpt}
		dup := r.rcpt
		dup.Duplicate = true // the server stored uniq[i]'s copy; this one is its duplicate
		for _, f := range followers[i] {
			f.done <- outcome{rcpt: dup}
		}
	}
}

// result is one message's fate in a flush: stored (ok, with its receipt)
// or to be retried on its own.
type result struct {
	rcpt Receipt
	ok   bool
}

// singles publishes each message on its own, all at once (one
// request/reply each, pipelined on the connection), and waits for every
// ack: one attempt each.
func (b *batcher) singles(uniq []*pending) []result {
	p := b.p
	results := make([]result, len(uniq))
	if len(uniq) == 1 {
		ctx, cancel := context.WithTimeout(uniq[0].ctx, p.attemptTimeout)
		defer cancel()
		r, err := p.attempt(ctx, p.msg(uniq[0].m))
		results[0] = result{r, err == nil}
		return results
	}
	futures := make([]jetstream.PubAckFuture, len(uniq))
	for i, pm := range uniq {
		f, err := p.js.PublishMsgAsync(p.msg(pm.m))
		if err != nil {
			continue
		}
		futures[i] = f
	}
	timeout := time.NewTimer(p.attemptTimeout)
	defer timeout.Stop()
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			if ack.Stream == p.stream {
				results[i] = result{Receipt{Stream: ack.Stream, Seq: ack.Sequence, Duplicate: ack.Duplicate}, true}
			}
		case <-f.Err():
		case <-timeout.C:
			return results // the rest: not acknowledged in time, retried on their own
		}
	}
	return results
}

// chooser picks, for each flush of several messages, the cheaper way to
// store them. An atomic batch costs the server a fixed amount (it stages
// the batch in a store of its own: several fsyncs and directory operations,
// about 3–4 ms on a cloud disk) and then ONE fsync for all of it; a single
// publish costs one fsync when the server syncs every write, almost nothing
// otherwise. So large batches win by far with sync_interval: always, small
// ones lose, and all lose with the server's periodic sync.
//
// The chooser keeps, per batch size class (2–3, 4–7, 8–15, …), a moving
// average of the time per stored message of each way, measured only on
// flushes that ran alone, and uses the cheaper way (atomic only when
// clearly cheaper, see atomicMargin). The first flush of each way in a
// class is measured; after that, one flush of each way in every learnEvery
// flushes of a class at first, then in every exploreEvery, so the averages
// follow the server.
type chooser struct {
	mu      sync.Mutex
	classes [11]sizeClass // by bits.Len(n): n ≤ MaxBatch < 2^10
}

type sizeClass struct {
	// EWMAs of flush time (ns) and of messages stored, per way: [singles, atomic].
	time, msgs [2]float64
	flushes    uint64
}

// exploreEvery is how many flushes of a size class pass between two
// measurements of each way; during a class's first exploreEvery flushes,
// while the averages settle, it is learnEvery.
const (
	exploreEvery = 256
	learnEvery   = 8
)

// atomicMargin: an atomic batch is chosen only when it costs at most this
// fraction of singles per message. Its fixed cost makes it the riskier way
// when the two are close (a disk stall during a measurement of singles must
// not switch a fast server to batches).
const atomicMargin = 0.8

// decide reports whether to store n messages as one atomic batch, and
// whether to measure this flush (run it alone and record its cost).
func (c *chooser) decide(n int) (atomic, measure bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := &c.classes[bits.Len(uint(n))]
	switch {
	case k.msgs[1] == 0:
		return true, true
	case k.msgs[0] == 0:
		return false, true
	}
	k.flushes++
	cheaper := k.time[1]/k.msgs[1] <= atomicMargin*(k.time[0]/k.msgs[0])
	period := uint64(exploreEvery)
	if k.flushes <= exploreEvery {
		period = learnEvery
	}
	switch k.flushes % period {
	case 0:
		return !cheaper, true
	case period / 2:
		return cheaper, true
	}
	return cheaper, false
}

// record adds a measured flush of n messages that took took.
func (c *chooser) record(n int, atomic bool, took time.Duration, results []result) {
	stored := 0
	for _, r := range results {
		if r.ok {
			stored++
		}
	}
	if stored == 0 {
		return // a failure says nothing about cost
	}
	way := 0
	if atomic {
		way = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := &c.classes[bits.Len(uint(n))]
	if k.msgs[way] == 0 {
		k.time[way], k.msgs[way] = float64(took), float64(stored)
		return
	}
	const alpha = 0.25
	k.time[way] += alpha * (float64(took) - k.time[way])
	k.msgs[way] += alpha * (float64(stored) - k.msgs[way])
}

// batchAck is the reply to a batch's commit message.
type batchAck struct {
	Stream string              `json:"stream"`
	Seq    uint64              `json:"seq"`
	Batch  string              `json:"batch"`
	Count  int                 `json:"count"`
	Error  *jetstream.APIError `json:"error"`
}

// atomic publishes uniq as one atomic batch and returns each message's
// receipt, or none ok when the batch was not acknowledged exactly as sent.
func (b *batcher) atomic(uniq []*pending) []result {
	results := make([]result, len(uniq))
	p := b.p
	id := nuid.Next()
	ctx, cancel := context.WithTimeout(context.Background(), p.attemptTimeout)
	defer cancel()
	var reply *nats.Msg
	for i, pm := range uniq {
		msg := p.msg(pm.m)
		msg.Header[headerBatchID] = []string{id}
		msg.Header[headerBatchSeq] = []string{strconv.Itoa(i + 1)}
		if i < len(uniq)-1 {
			if err := p.nc.PublishMsg(msg); err != nil {
				return results
			}
			continue
		}
		msg.Header[headerBatchCommit] = []string{"1"}
		var err error
		if reply, err = p.nc.RequestMsgWithContext(ctx, msg); err != nil {
			return results
		}
	}
	var ack batchAck
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		return results
	}
	if ack.Error != nil {
		if ack.Error.ErrorCode == errAtomicPublishDisabled {
			b.off.Store(true) // the stream changed under us: publish one by one from now on
		}
		return results
	}
	n := uint64(len(uniq))
	if ack.Stream != p.stream || ack.Batch != id || ack.Count != len(uniq) || ack.Seq < n {
		// Not the ack of this batch as sent (e.g. a server that ignores the
		// batch headers stored each message on its own): the single path
		// finds each message's own seq through its Nats-Msg-Id.
		return results
	}
	for i := range uniq {
		results[i] = result{Receipt{Stream: ack.Stream, Seq: ack.Seq - n + uint64(i) + 1}, true}
	}
	return results
}

// errTooLargeForStream maps the server's "message size exceeds maximum" to ErrTooLarge.
func errTooLargeForStream(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == errMessageTooLarge
}
