package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
)

// The batching tests hold the batcher's flushers back until every message
// of the test is queued, then let one flusher go: the batches are then
// exactly the queue cut into pieces of batchMax, whatever the scheduler does.
// Each test checks the stream itself (GetMsg per receipt, and a scan of every
// stored message), not only what Publish returned.

// batchPublisher is a Publisher with batching on a SyncAlways server, on a
// stream that allows atomic publish (unless streamCfg says otherwise).
func batchPublisher(t *testing.T, srv *bridgetest.Server, streamCfg *jetstream.StreamConfig, opts ...Option) *Publisher {
	t.Helper()
	nc := srv.Conn(t)
	ctx := context.Background()
	if streamCfg == nil {
		if err := EnsureStream(ctx, nc, StreamConfig{
			Name: "TEST", Subjects: []string{"test.>"}, MaxAge: time.Hour, MaxBytes: -1, Replicas: 1,
			Duplicates: time.Minute, AtomicPublish: true,
		}, true); err != nil {
			t.Fatal(err)
		}
	} else if _, err := srv.JetStream(t).CreateStream(ctx, *streamCfg); err != nil {
		t.Fatal(err)
	}
	p, err := New(nc, "TEST", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type published struct {
	m    Msg
	rcpt Receipt
	err  error
}

// publishHeld publishes msgs concurrently, with the flushers held back until
// all of them are queued, and returns each outcome in the order of msgs.
func publishHeld(t *testing.T, p *Publisher, msgs []Msg) []published {
	t.Helper()
	b := p.batch
	if b == nil {
		t.Fatal("batching is off")
	}
	b.mu.Lock()
	b.flushers = batchFlushers // no Publish starts a flusher
	b.mu.Unlock()
	out := make([]published, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Go(func() {
			r, err := p.Publish(context.Background(), m)
			out[i] = published{m, r, err}
		})
	}
	bridgetest.WaitFor(t, 10*time.Second, "every message queued", func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.pending) != len(msgs) {
			return fmt.Errorf("%d of %d queued", len(b.pending), len(msgs))
		}
		return nil
	})
	b.mu.Lock()
	b.flushers = 1
	b.mu.Unlock()
	go b.flushLoop()
	wg.Wait()
	return out
}

// prefer makes the chooser pick atomic batches, or pipelined singles, for
// the next exploreEvery-1 flushes (more than any test here makes).
func prefer(p *Publisher, atomic bool) {
	c := &p.batch.choose
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.classes {
		k := &c.classes[i]
		k.time, k.msgs, k.flushes = [2]float64{1e9, 1}, [2]float64{1, 1}, 0
		if !atomic {
			k.time = [2]float64{1, 1e9}
		}
	}
}

// ways are the two ways a flush of several messages can store them.
var ways = []struct {
	name   string
	atomic bool
}{{"atomic", true}, {"singles", false}}

// stored is every message in the stream: Nats-Msg-Id → seqs holding it, and
// how many were written by an atomic batch.
func stored(t *testing.T, srv *bridgetest.Server) (byID map[string][]uint64, batched int) {
	t.Helper()
	ctx := context.Background()
	s, err := srv.JetStream(t).Stream(ctx, "TEST")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID = map[string][]uint64{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get seq %d: %v", seq, err)
		}
		id := m.Header.Get(jetstream.MsgIDHeader)
		byID[id] = append(byID[id], seq)
		if m.Header.Get(headerBatchID) != "" {
			batched++
		}
	}
	return byID, batched
}

// checkReceipts: every receipt's seq holds that message's ID and data.
func checkReceipts(t *testing.T, srv *bridgetest.Server, results []published) {
	t.Helper()
	ctx := context.Background()
	s, err := srv.JetStream(t).Stream(ctx, "TEST")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.err != nil {
			continue
		}
		m, err := s.GetMsg(ctx, r.rcpt.Seq)
		if err != nil {
			t.Fatalf("%s: receipt seq %d: %v", r.m.ID, r.rcpt.Seq, err)
		}
		if got := m.Header.Get(jetstream.MsgIDHeader); got != r.m.ID {
			t.Errorf("receipt for %s says seq %d, which holds %s", r.m.ID, r.rcpt.Seq, got)
		}
		if r.rcpt.Stream != "TEST" {
			t.Errorf("receipt stream %q", r.rcpt.Stream)
		}
	}
}

// TestBatchSeqs: N concurrent deliveries coalesced into batches; each
// receipt names the seq that holds its own message, every message is stored
// once, and the batches really were atomic batches.
func TestBatchSeqs(t *testing.T) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) { testBatchSeqs(t, way.atomic) })
	}
}

func testBatchSeqs(t *testing.T, atomic bool) {
	srv := bridgetest.RunServer(t, bridgetest.WithSyncAlways())
	p := batchPublisher(t, srv, nil, WithBatching(64))
	prefer(p, atomic)
	const n = 150 // batches of 64, 64, 22
	msgs := make([]Msg, n)
	for i := range msgs {
		msgs[i] = Msg{Subject: fmt.Sprintf("test.%d", i%7), ID: fmt.Sprintf("id-%03d", i), Data: fmt.Appendf(nil, `{"i":%d}`, i), ContentType: "application/cloudevents+json"}
	}
	results := publishHeld(t, p, msgs)
	seen := map[uint64]string{}
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("%s: %v", r.m.ID, r.err)
		}
		if r.rcpt.Duplicate {
			t.Errorf("%s: Duplicate on a fresh message", r.m.ID)
		}
		if other, dup := seen[r.rcpt.Seq]; dup {
			t.Errorf("%s and %s both got seq %d", other, r.m.ID, r.rcpt.Seq)
		}
		seen[r.rcpt.Seq] = r.m.ID
	}
	checkReceipts(t, srv, results)
	byID, batched := stored(t, srv)
	if len(byID) != n {
		t.Errorf("%d distinct IDs stored, want %d", len(byID), n)
	}
	for id, seqs := range byID {
		if len(seqs) != 1 {
			t.Errorf("%s stored %d times", id, len(seqs))
		}
	}
	if want := map[bool]int{true: n, false: 0}[atomic]; batched != want {
		t.Errorf("%d of %d messages came from atomic batches, want %d", batched, n, want)
	}
	if !p.Batching() {
		t.Error("batching turned itself off")
	}
}

// TestBatchDuplicates: copies of the same delivery arriving together — in
// one batch, across batches, and of a message stored before — are stored
// once, and every copy reports the seq of the stored one; exactly one copy
// of a new message is not a duplicate.
func TestBatchDuplicates(t *testing.T) {
	for _, tc := range []struct {
		name     string
		batchMax int
		// copies of each ID are queued round-robin: id0..id9, id0..id9, …
		ids, copies int
		// pre: id-0 is stored before the batches
		pre bool
	}{
		{"in one batch", 64, 10, 5, false}, // one batch of 50: 10 IDs × 5
		{"in one batch, one stored before", 64, 10, 5, true},
		{"across batches", 10, 10, 5, false}, // five batches of the same 10 IDs
		{"mixed", 16, 12, 4, true},           // repeats both within and across batches
		{"all copies of one id", 64, 1, 30, false},
		{"all copies of one stored before", 64, 1, 30, true},
	} {
		for _, way := range ways {
			t.Run(tc.name+"/"+way.name, func(t *testing.T) {
				srv := bridgetest.RunServer(t, bridgetest.WithSyncAlways())
				p := batchPublisher(t, srv, nil, WithBatching(tc.batchMax))
				prefer(p, way.atomic)
				seqOf := map[string]uint64{}
				if tc.pre {
					pre, err := p.publishOne(context.Background(), Msg{Subject: "test.pre", ID: "id-0", Data: []byte(`{"pre":true}`)}, time.Now())
					if err != nil {
						t.Fatal(err)
					}
					seqOf["id-0"] = pre.Seq
				}
				var msgs []Msg
				for c := range tc.copies {
					for i := range tc.ids {
						msgs = append(msgs, Msg{Subject: "test.x", ID: fmt.Sprintf("id-%d", i), Data: fmt.Appendf(nil, `{"copy":%d}`, c)})
					}
				}
				results := publishHeld(t, p, msgs)
				checkReceipts(t, srv, results)
				fresh := map[string]int{}
				for _, r := range results {
					if r.err != nil {
						t.Fatalf("%s: %v", r.m.ID, r.err)
					}
					if !r.rcpt.Duplicate {
						fresh[r.m.ID]++
					}
					if s, ok := seqOf[r.m.ID]; ok && s != r.rcpt.Seq {
						t.Errorf("%s: seq %d, another copy got %d", r.m.ID, r.rcpt.Seq, s)
					}
					seqOf[r.m.ID] = r.rcpt.Seq
				}
				for i := range tc.ids {
					id := fmt.Sprintf("id-%d", i)
					want := 1
					if id == "id-0" && tc.pre {
						want = 0 // stored before: every copy is a duplicate
					}
					if fresh[id] != want {
						t.Errorf("%s: %d copies answered as new, want %d", id, fresh[id], want)
					}
				}
				byID, _ := stored(t, srv)
				for id, seqs := range byID {
					if len(seqs) != 1 {
						t.Errorf("%s stored at %v", id, seqs)
					}
				}
				if len(byID) != tc.ids {
					t.Errorf("%d IDs stored, want %d", len(byID), tc.ids)
				}
			})
		}
	}
}

// TestBatchOneTooLarge: one message over the stream's max message size
// fails the whole atomic batch on the server; that delivery gets
// ErrTooLarge (413) and the others are stored with their own seqs.
func TestBatchOneTooLarge(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithSyncAlways())
	p := batchPublisher(t, srv, &jetstream.StreamConfig{
		Name: "TEST", Subjects: []string{"test.>"}, Storage: jetstream.FileStorage,
		MaxMsgSize: 2048, AllowAtomicPublish: true, Duplicates: time.Minute,
	}, WithBatching(64))
	prefer(p, true)
	var msgs []Msg
	for i := range 20 {
		data := fmt.Appendf(nil, `{"i":%d}`, i)
		if i == 7 {
			data = make([]byte, 4096)
		}
		msgs = append(msgs, Msg{Subject: "test.x", ID: fmt.Sprintf("id-%d", i), Data: data})
	}
	results := publishHeld(t, p, msgs)
	for i, r := range results {
		switch {
		case i == 7 && !errors.Is(r.err, ErrTooLarge):
			t.Errorf("large message: err = %v, want ErrTooLarge", r.err)
		case i != 7 && r.err != nil:
			t.Errorf("%s: %v", r.m.ID, r.err)
		}
	}
	checkReceipts(t, srv, results)
	byID, _ := stored(t, srv)
	if len(byID) != 19 || byID["id-7"] != nil {
		t.Errorf("stored %v, want the 19 others", byID)
	}
}

// TestBatchServerGone: with the server stopped while a batch is queued,
// every delivery fails with a BrokerError (503) within its budget; none is
// acknowledged.
func TestBatchServerGone(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithSyncAlways())
	p := batchPublisher(t, srv, nil, WithBatching(64), WithBudget(time.Second), WithAttemptTimeout(200*time.Millisecond))
	b := p.batch
	prefer(p, true)
	b.mu.Lock()
	b.flushers = batchFlushers
	b.mu.Unlock()
	var msgs []Msg
	for i := range 30 {
		msgs = append(msgs, Msg{Subject: "test.x", ID: fmt.Sprintf("id-%d", i), Data: []byte(`{}`)})
	}
	done := make(chan []published)
	go func() {
		out := make([]published, len(msgs))
		var wg sync.WaitGroup
		for i, m := range msgs {
			wg.Go(func() {
				r, err := p.Publish(context.Background(), m)
				out[i] = published{m, r, err}
			})
		}
		wg.Wait()
		done <- out
	}()
	bridgetest.WaitFor(t, 10*time.Second, "every message queued", func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.pending) != len(msgs) {
			return fmt.Errorf("%d queued", len(b.pending))
		}
		return nil
	})
	srv.Shutdown()
	b.mu.Lock()
	b.flushers = 1
	b.mu.Unlock()
	go b.flushLoop()
	for _, r := range <-done {
		var be *BrokerError
		if !errors.As(r.err, &be) {
			t.Errorf("%s: %+v, %v; want a BrokerError", r.m.ID, r.rcpt, r.err)
		}
	}
}

// TestBatchAckedIsStored: deliveries under load while the server stops and
// comes back; every acknowledged delivery is in the stream at its receipt's
// seq, once (Jepsen's ok/lost/unknown: lost must be 0).
func TestBatchAckedIsStored(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithSyncAlways())
	p := batchPublisher(t, srv, nil, WithBatching(64), WithBudget(2*time.Second), WithAttemptTimeout(300*time.Millisecond))
	var (
		mu      sync.Mutex
		results []published
		wg      sync.WaitGroup
		stop    = make(chan struct{})
		acked   = make(chan struct{}, 1)
	)
	for w := range 32 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := Msg{Subject: "test.x", ID: fmt.Sprintf("w%d-%d", w, i), Data: []byte(`{}`)}
				r, err := p.Publish(context.Background(), m)
				mu.Lock()
				results = append(results, published{m, r, err})
				mu.Unlock()
				if err == nil {
					select {
					case acked <- struct{}{}:
					default:
					}
				}
			}
		})
	}
	ackedSince := func() {
		t.Helper()
		for range 50 { // 50 fresh acks, so the load really runs
			select {
			case <-acked:
			case <-time.After(10 * time.Second):
				t.Fatal("no acknowledgement within 10s")
			}
		}
	}
	ackedSince()
	srv.Restart(t)
	ackedSince()
	close(stop)
	wg.Wait()

	var ok, unknown int
	for _, r := range results {
		if r.err != nil {
			unknown++
			continue
		}
		ok++
	}
	checkReceipts(t, srv, results)
	byID, _ := stored(t, srv)
	for id, seqs := range byID {
		if len(seqs) != 1 {
			t.Errorf("%s stored at %v", id, seqs)
		}
	}
	t.Logf("acknowledged %d, not acknowledged %d, stored %d", ok, unknown, len(byID))
}

// TestBatchStreamWithoutAtomicPublish: a stream that does not allow atomic
// publish (an external stream dtbridge does not manage) makes the first
// batch fail; the batcher turns itself off and every delivery is published
// on its own.
func TestBatchStreamWithoutAtomicPublish(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithSyncAlways())
	p := batchPublisher(t, srv, &jetstream.StreamConfig{
		Name: "TEST", Subjects: []string{"test.>"}, Storage: jetstream.FileStorage, Duplicates: time.Minute,
	}, WithBatching(64))
	prefer(p, true)
	if ok, err := AtomicPublishAllowed(context.Background(), srv.Conn(t), "TEST"); err != nil || ok {
		t.Fatalf("AtomicPublishAllowed = %v, %v", ok, err)
	}
	var msgs []Msg
	for i := range 40 {
		msgs = append(msgs, Msg{Subject: "test.x", ID: fmt.Sprintf("id-%d", i), Data: []byte(`{}`)})
	}
	results := publishHeld(t, p, msgs)
	for _, r := range results {
		if r.err != nil || r.rcpt.Duplicate {
			t.Errorf("%s: %+v %v", r.m.ID, r.rcpt, r.err)
		}
	}
	checkReceipts(t, srv, results)
	if p.Batching() {
		t.Error("still batching after the server refused atomic publish")
	}
	if byID, batched := stored(t, srv); len(byID) != 40 || batched != 0 {
		t.Errorf("stored %d (%d batched), want 40 (0)", len(byID), batched)
	}
}

func TestWithBatchingValidates(t *testing.T) {
	srv := bridgetest.RunServer(t)
	if _, err := New(srv.Conn(t), "TEST", WithBatching(MaxBatch+1)); err == nil {
		t.Error("batch size over the server's limit accepted")
	}
	p, err := New(srv.Conn(t), "TEST", WithBatching(1))
	if err != nil || p.Batching() {
		t.Errorf("WithBatching(1): batching=%v err=%v, want off", p != nil && p.Batching(), err)
	}
}

// TestChooser: per size class, each way is measured first, then the
// cheaper one wins; each way is measured again every exploreEvery flushes;
// failures do not count as costs.
func TestChooser(t *testing.T) {
	var c chooser
	ok := func(n int) []result {
		r := make([]result, n)
		for i := range r {
			r[i].ok = true
		}
		return r
	}
	if a, m := c.decide(64); !a || !m {
		t.Fatalf("first flush: atomic=%v measure=%v, want a measured atomic batch", a, m)
	}
	c.record(64, true, 64*time.Millisecond, make([]result, 64)) // nothing stored: ignored
	if a, _ := c.decide(64); !a {
		t.Fatal("a failed flush was counted as a cost")
	}
	c.record(64, true, 6*time.Millisecond, ok(64)) // ~94µs per message
	if a, m := c.decide(64); a || !m {
		t.Fatalf("second way: atomic=%v measure=%v, want measured singles", a, m)
	}
	c.record(64, false, 20*time.Millisecond, ok(64)) // ~310µs per message: atomic is cheaper
	// Small batches are a class of their own: atomic costs a lot there.
	c.decide(2)
	c.record(2, true, 4*time.Millisecond, ok(2))
	c.decide(2)
	c.record(2, false, 600*time.Microsecond, ok(2))
	if a, _ := c.decide(2); a {
		t.Error("atomic chosen for 2 messages, where singles are cheaper")
	}
	var atomicFlushes, measured int
	for range 4 * exploreEvery {
		a, m := c.decide(64)
		if a {
			atomicFlushes++
		}
		if m {
			measured++
		}
	}
	// Learning: one flush in learnEvery/2 measured during the first
	// exploreEvery, half of them trying singles; then one in exploreEvery/2.
	wantMeasured := 2*exploreEvery/learnEvery + 2*3
	if measured != wantMeasured {
		t.Errorf("%d measured flushes in %d, want %d", measured, 4*exploreEvery, wantMeasured)
	}
	if want := 4*exploreEvery - wantMeasured/2; atomicFlushes != want {
		t.Errorf("%d atomic flushes of %d, want %d (the rest measure singles)", atomicFlushes, 4*exploreEvery, want)
	}
	// Close costs keep singles: atomic must be clearly cheaper.
	var close chooser
	close.decide(64)
	close.record(64, true, 9*time.Millisecond, ok(64))
	close.decide(64)
	close.record(64, false, 10*time.Millisecond, ok(64))
	if a, _ := close.decide(64); a {
		t.Error("atomic chosen at 90% of the cost of singles; the margin is 80%")
	}
	for range 20 { // the server gets fast at singles (periodic fsync)
		c.record(64, false, time.Millisecond, ok(64))
	}
	if a, _ := c.decide(64); a {
		t.Error("still choosing atomic batches after singles became cheaper")
	}
}
