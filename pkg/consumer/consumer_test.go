package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cejs "github.com/cloudevents/sdk-go/protocol/nats_jetstream/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/consumer"
	"github.com/dtbridge/dtbridge/pkg/doubletick"
	"github.com/dtbridge/dtbridge/pkg/envelope"
)

const streamName = "DOUBLETICK"

type world struct {
	t   *testing.T
	srv *bridgetest.Server
	js  jetstream.JetStream
	n   int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	srv := bridgetest.RunServer(t)
	js := srv.JetStream(t)
	if _, err := js.CreateStream(ctx(t), jetstream.StreamConfig{Name: streamName, Subjects: []string{"doubletick.>"}}); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, srv: srv, js: js}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// publish stores a conversation event (typ "closed" or "opened") for a new
// customer and returns its seq and the customer id.
func (w *world) publish(typ string) (uint64, string) {
	w.t.Helper()
	w.n++
	customer := fmt.Sprintf("customer_%d", w.n)
	ev := envelope.New()
	ev.ID = fmt.Sprintf("evt-%d", w.n)
	ev.Source = "doubletick/instagram/biz"
	ev.Type = consumer.Type("conversation."+typ, 1)
	ev.Subject = customer
	ev.Time, ev.ReceivedAt = time.Now(), time.Now()
	ev.DataSchema = "urn:dtbridge:schema:doubletick.conversation." + typ + ".v1"
	ev.Channel = "instagram"
	ev.DedupKey = fmt.Sprintf("k%d", w.n)
	ev.Data = []byte(fmt.Sprintf(`{"channel":"instagram","business":{"handle":"biz"},"customer":{"id":%q,"name":"Name %d","handle":null,"phone":null},"raw":{}}`, customer, w.n))
	body, err := ev.MarshalJSON()
	if err != nil {
		w.t.Fatal(err)
	}
	m := nats.NewMsg("doubletick.instagram.conversation." + typ)
	m.Header.Set("Content-Type", envelope.ContentType)
	m.Header.Set(jetstream.MsgIDHeader, ev.DedupKey)
	m.Data = body
	ack, err := w.js.PublishMsg(ctx(w.t), m)
	if err != nil {
		w.t.Fatal(err)
	}
	return ack.Sequence, customer
}

// start runs c until the test ends (or stop is called) and waits until its
// durable consumer exists.
func (w *world) start(c *consumer.Consumer, durable string) (stop func()) {
	w.t.Helper()
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					w.t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				w.t.Error("Run did not return after its context ended")
			}
		})
	}
	w.t.Cleanup(stop)
	bridgetest.WaitFor(w.t, 10*time.Second, "durable consumer "+durable, func() error {
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("Run returned early: %v", err)
		default:
		}
		_, err := w.js.Consumer(context.Background(), streamName, durable)
		return err
	})
	return stop
}

// recorder collects what handlers saw.
type recorder struct {
	mu   sync.Mutex
	seen []consumer.Delivery
	ids  []string
	at   []time.Time
}

func (r *recorder) add(ctx context.Context, ev envelope.Event) {
	d, _ := consumer.DeliveryFrom(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, d)
	r.ids = append(r.ids, ev.ID)
	r.at = append(r.at, time.Now())
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) seqs() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]uint64, len(r.seen))
	for i, d := range r.seen {
		out[i] = d.Seq
	}
	return out
}

func waitCount(t *testing.T, r *recorder, n int) {
	t.Helper()
	bridgetest.WaitFor(t, 15*time.Second, fmt.Sprintf("%d handler calls", n), func() error {
		if got := r.len(); got < n {
			return fmt.Errorf("%d so far", got)
		}
		return nil
	})
}

func consumerInfo(t *testing.T, w *world, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := w.js.Consumer(ctx(t), streamName, durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestTypedHandlerAndFilter(t *testing.T) {
	w := newWorld(t)
	var rec recorder
	var mu sync.Mutex
	var customers []string
	c, err := consumer.New(w.js, streamName, "typed", consumer.WithStart(consumer.StartAll()),
		consumer.WithFilter("doubletick.*.conversation.closed"))
	if err != nil {
		t.Fatal(err)
	}
	c.OnConversationClosed(func(ctx context.Context, ev envelope.Event, conv doubletick.Conversation) error {
		rec.add(ctx, ev)
		mu.Lock()
		customers = append(customers, *conv.Customer.ID)
		mu.Unlock()
		return nil
	})
	var opened atomic.Int32
	c.OnConversationOpened(func(context.Context, envelope.Event, doubletick.Conversation) error { opened.Add(1); return nil })
	_, c1 := w.publish("closed")
	w.publish("opened")
	_, c2 := w.publish("closed")
	w.start(c, "typed")
	waitCount(t, &rec, 2)
	bridgetest.WaitFor(t, 10*time.Second, "all acknowledged", func() error {
		if info := consumerInfo(t, w, "typed"); info.NumPending != 0 || info.NumAckPending != 0 {
			return fmt.Errorf("pending %d, ack pending %d", info.NumPending, info.NumAckPending)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(customers) != fmt.Sprint([]string{c1, c2}) || opened.Load() != 0 {
		t.Fatalf("closed handler saw %v (want [%s %s]); opened handler ran %d times (filtered out, want 0)", customers, c1, c2, opened.Load())
	}
}

// TestRedeliveryWithBackoff: a handler error is negatively acknowledged
// with the configured delay; the server redelivers no earlier.
func TestRedeliveryWithBackoff(t *testing.T) {
	w := newWorld(t)
	var rec recorder
	delays := []time.Duration{300 * time.Millisecond, 600 * time.Millisecond}
	c, err := consumer.New(w.js, streamName, "retry", consumer.WithStart(consumer.StartAll()), consumer.WithBackoff(delays...))
	if err != nil {
		t.Fatal(err)
	}
	c.On(consumer.TypeConversationClosed, func(ctx context.Context, ev envelope.Event) error {
		rec.add(ctx, ev)
		if d, _ := consumer.DeliveryFrom(ctx); d.Attempt < 3 {
			return errors.New("crm is down")
		}
		return nil
	})
	seq, _ := w.publish("closed")
	w.start(c, "retry")
	waitCount(t, &rec, 3)
	rec.mu.Lock()
	seen, at := rec.seen, rec.at
	rec.mu.Unlock()
	for i, d := range seen[:3] {
		if d.Seq != seq || d.Attempt != i+1 {
			t.Fatalf("delivery %d = %+v, want seq %d attempt %d", i, d, seq, i+1)
		}
	}
	for i, want := range delays {
		if gap := at[i+1].Sub(at[i]); gap < want {
			t.Fatalf("attempt %d came %s after attempt %d, before the %s backoff", i+2, gap, i+1, want)
		}
	}
	bridgetest.WaitFor(t, 10*time.Second, "acknowledged", func() error {
		if info := consumerInfo(t, w, "retry"); info.AckFloor.Stream != seq {
			return fmt.Errorf("ack floor %d", info.AckFloor.Stream)
		}
		return nil
	})
	if n := rec.len(); n != 3 {
		t.Fatalf("%d deliveries, want 3", n)
	}
}

func deadLetters(t *testing.T, w *world, want int) []*jetstream.RawStreamMsg {
	t.Helper()
	var s jetstream.Stream
	bridgetest.WaitFor(t, 10*time.Second, fmt.Sprintf("%d dead letters", want), func() error {
		var err error
		if s, err = w.js.Stream(context.Background(), consumer.DefaultDeadLetterStream); err != nil {
			return err
		}
		info, err := s.Info(context.Background())
		if err != nil {
			return err
		}
		if int(info.State.Msgs) != want {
			return fmt.Errorf("%d stored", info.State.Msgs)
		}
		return nil
	})
	var out []*jetstream.RawStreamMsg
	for seq := uint64(1); seq <= uint64(want); seq++ {
		m, err := s.GetMsg(ctx(t), seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestMaxDeliveriesDeadLetter(t *testing.T) {
	w := newWorld(t)
	var rec recorder
	c, err := consumer.New(w.js, streamName, "crm", consumer.WithStart(consumer.StartAll()),
		consumer.WithMaxDeliver(3), consumer.WithBackoff(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	c.On(consumer.TypeConversationClosed, func(ctx context.Context, ev envelope.Event) error {
		rec.add(ctx, ev)
		return errors.New("customer unknown to the CRM")
	})
	c.On(consumer.TypeConversationOpened, func(ctx context.Context, ev envelope.Event) error {
		return consumer.Permanent(errors.New("bad data"))
	})
	seq, _ := w.publish("closed")
	seqOpened, _ := w.publish("opened")
	w.start(c, "crm")
	dls := deadLetters(t, w, 2)
	byOf := map[string]*jetstream.RawStreamMsg{}
	for _, m := range dls {
		byOf[m.Header.Get(consumer.HeaderDeadLetterOf)] = m
	}
	stored := func(seq uint64) *jetstream.RawStreamMsg {
		s, _ := w.js.Stream(ctx(t), streamName)
		m, err := s.GetMsg(ctx(t), seq)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tt := range []struct {
		seq        uint64
		subject    string
		deliveries string
		errText    string
	}{
		{seq, "deadletter.crm.doubletick.instagram.conversation.closed", "3", "customer unknown to the CRM"},
		{seqOpened, "deadletter.crm.doubletick.instagram.conversation.opened", "1", "permanent: bad data"},
	} {
		m := byOf[fmt.Sprintf("%s:%d", streamName, tt.seq)]
		if m == nil {
			t.Fatalf("no dead letter for seq %d: %v", tt.seq, dls)
		}
		if m.Subject != tt.subject || string(m.Data) != string(stored(tt.seq).Data) {
			t.Fatalf("dead letter on %s with %q, want %s with the stored bytes", m.Subject, m.Data, tt.subject)
		}
		if m.Header.Get(consumer.HeaderDeadLetterError) != tt.errText || m.Header.Get(consumer.HeaderDeliveries) != tt.deliveries ||
			m.Header.Get(consumer.HeaderDeadLetterConsumer) != "crm" || m.Header.Get("Content-Type") != envelope.ContentType {
			t.Fatalf("dead letter headers %v", m.Header)
		}
	}
	if n := rec.len(); n != 3 {
		t.Fatalf("handler ran %d times, want 3 (max deliveries)", n)
	}
	bridgetest.WaitFor(t, 10*time.Second, "both terminated", func() error {
		if info := consumerInfo(t, w, "crm"); info.NumAckPending != 0 || info.NumPending != 0 {
			return fmt.Errorf("ack pending %d, pending %d", info.NumAckPending, info.NumPending)
		}
		return nil
	})
	// The bridge's stream does not hold dead letters.
	s, _ := w.js.Stream(ctx(t), streamName)
	if info, _ := s.Info(ctx(t)); info.State.Msgs != 2 {
		t.Fatalf("source stream holds %d, want 2", info.State.Msgs)
	}
}

// TestNotACloudEventIsDeadLettered: bytes that are not a CloudEvent go to
// the dead-letter subject at once, never to a handler.
func TestNotACloudEventIsDeadLettered(t *testing.T) {
	w := newWorld(t)
	var calls atomic.Int32
	c, err := consumer.New(w.js, streamName, "strict", consumer.WithStart(consumer.StartAll()))
	if err != nil {
		t.Fatal(err)
	}
	c.OnOther(func(context.Context, envelope.Event) error { calls.Add(1); return nil })
	if _, err := w.js.Publish(ctx(t), "doubletick.instagram.conversation.closed", []byte(`{"hello":"world"}`)); err != nil {
		t.Fatal(err)
	}
	w.start(c, "strict")
	dl := deadLetters(t, w, 1)[0]
	if calls.Load() != 0 || dl.Header.Get(consumer.HeaderDeliveries) != "1" {
		t.Fatalf("handler calls %d, dead letter %v", calls.Load(), dl.Header)
	}
}

func TestDeadLetterPrefixInsideStreamRefused(t *testing.T) {
	w := newWorld(t)
	c, err := consumer.New(w.js, streamName, "loop", consumer.WithDeadLetter("doubletick.deadletter", "DL"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx(t)); err == nil {
		t.Fatal("Run accepted a dead-letter prefix inside the consumed stream")
	}
}

// TestRestartResumes: a second run of the same durable consumer starts
// after what the first acknowledged and sees no event twice.
func TestRestartResumes(t *testing.T) {
	w := newWorld(t)
	var rec recorder
	newC := func() *consumer.Consumer {
		c, err := consumer.New(w.js, streamName, "resume", consumer.WithStart(consumer.StartAll()), consumer.WithConcurrency(2))
		if err != nil {
			t.Fatal(err)
		}
		c.On(consumer.TypeConversationClosed, func(ctx context.Context, ev envelope.Event) error { rec.add(ctx, ev); return nil })
		return c
	}
	for range 3 {
		w.publish("closed")
	}
	stop := w.start(newC(), "resume")
	waitCount(t, &rec, 3)
	stop()
	for range 2 {
		w.publish("closed")
	}
	w.start(newC(), "resume")
	waitCount(t, &rec, 5)
	bridgetest.WaitFor(t, 10*time.Second, "all acknowledged", func() error {
		if info := consumerInfo(t, w, "resume"); info.AckFloor.Stream != 5 || info.NumAckPending != 0 {
			return fmt.Errorf("ack floor %d, ack pending %d", info.AckFloor.Stream, info.NumAckPending)
		}
		return nil
	})
	seen := map[uint64]int{}
	for _, s := range rec.seqs() {
		seen[s]++
	}
	for seq := uint64(1); seq <= 5; seq++ {
		if seen[seq] != 1 {
			t.Fatalf("seq %d handled %d times (all: %v)", seq, seen[seq], rec.seqs())
		}
	}
	if info := consumerInfo(t, w, "resume"); info.NumRedelivered != 0 {
		t.Fatalf("%d redelivered", info.NumRedelivered)
	}
}

func TestStartPositions(t *testing.T) {
	w := newWorld(t)
	for range 3 {
		w.publish("closed")
	}
	s, _ := w.js.Stream(ctx(t), streamName)
	last, err := s.GetMsg(ctx(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	bridgetest.WaitFor(t, 5*time.Second, "clock past the last stored time", func() error {
		if !time.Now().After(last.Time) {
			return errors.New("not yet")
		}
		return nil
	})
	for range 2 {
		w.publish("closed")
	}
	fourth, err := s.GetMsg(ctx(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	if !fourth.Time.After(last.Time) {
		t.Fatalf("stored times %s and %s do not separate the batches", last.Time, fourth.Time)
	}
	tests := []struct {
		name  string
		start consumer.Start
		want  []uint64
		later bool // publish one more after the consumer exists
	}{
		{"all", consumer.StartAll(), []uint64{1, 2, 3, 4, 5}, false},
		{"by time between the batches", consumer.StartAtTime(last.Time.Add(fourth.Time.Sub(last.Time) / 2)), []uint64{4, 5}, false},
		{"by time of seq 4", consumer.StartAtTime(fourth.Time), []uint64{4, 5}, false},
		{"by sequence", consumer.StartAtSeq(2), []uint64{2, 3, 4, 5}, false},
		{"new", consumer.StartNew(), []uint64{6}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			name := fmt.Sprintf("start-%d", i)
			c, err := consumer.New(w.js, streamName, name, consumer.WithStart(tt.start))
			if err != nil {
				t.Fatal(err)
			}
			c.On(consumer.TypeConversationClosed, func(ctx context.Context, ev envelope.Event) error { rec.add(ctx, ev); return nil })
			stop := w.start(c, name)
			if tt.later {
				w.publish("closed")
			}
			waitCount(t, &rec, len(tt.want))
			bridgetest.WaitFor(t, 10*time.Second, "caught up", func() error {
				if info := consumerInfo(t, w, name); info.NumPending != 0 || info.NumAckPending != 0 {
					return fmt.Errorf("pending %d, ack pending %d", info.NumPending, info.NumAckPending)
				}
				return nil
			})
			stop()
			if got := rec.seqs(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("handled seqs %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConcurrencyLimit(t *testing.T) {
	w := newWorld(t)
	const limit, events = 3, 10
	var inFlight, maxSeen, done atomic.Int32
	release := make(chan struct{})
	c, err := consumer.New(w.js, streamName, "conc", consumer.WithStart(consumer.StartAll()), consumer.WithConcurrency(limit))
	if err != nil {
		t.Fatal(err)
	}
	c.On(consumer.TypeConversationClosed, func(ctx context.Context, ev envelope.Event) error {
		n := inFlight.Add(1)
		for {
			m := maxSeen.Load()
			if n <= m || maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
		done.Add(1)
		return nil
	})
	for range events {
		w.publish("closed")
	}
	w.start(c, "conc")
	bridgetest.WaitFor(t, 10*time.Second, "the limit reached", func() error {
		if n := inFlight.Load(); n != limit {
			return fmt.Errorf("%d in flight", n)
		}
		return nil
	})
	// Let the handlers go one at a time; the limit is checked at each entry.
	for range events {
		release <- struct{}{}
	}
	bridgetest.WaitFor(t, 10*time.Second, "all handled", func() error {
		if n := done.Load(); n != events {
			return fmt.Errorf("%d done", n)
		}
		return nil
	})
	if m := maxSeen.Load(); m != limit {
		t.Fatalf("at most %d handlers ran at once, want exactly %d", m, limit)
	}
}

// TestDrainOnStop: when Run's context ends, a handler in flight finishes
// with a live context and is acknowledged; Run returns after it.
func TestDrainOnStop(t *testing.T) {
	w := newWorld(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	var handlerErr atomic.Value
	c, err := consumer.New(w.js, streamName, "drain", consumer.WithStart(consumer.StartAll()))
	if err != nil {
		t.Fatal(err)
	}
	c.On(consumer.TypeConversationClosed, func(ctx context.Context, ev envelope.Event) error {
		close(entered)
		<-release
		handlerErr.Store(fmt.Sprint(ctx.Err()))
		return nil
	})
	w.publish("closed")
	runCtx, cancel := context.WithCancel(context.Background())
	returned := make(chan error, 1)
	go func() { returned <- c.Run(runCtx) }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("handler never ran")
	}
	cancel()
	select {
	case err := <-returned:
		t.Fatalf("Run returned (%v) while a handler was in flight", err)
	default:
	}
	close(release)
	select {
	case err := <-returned:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the handler finished")
	}
	if got := handlerErr.Load(); got != "<nil>" {
		t.Fatalf("handler context was %s during the drain, want alive", got)
	}
	if info := consumerInfo(t, w, "drain"); info.AckFloor.Stream != 1 || info.NumAckPending != 0 {
		t.Fatalf("after the drain: ack floor %d, ack pending %d", info.AckFloor.Stream, info.NumAckPending)
	}
}

// TestDecodeMatchesCloudEventsSDK: the package reads exactly what any
// CloudEvents SDK reads from the stored message.
func TestDecodeMatchesCloudEventsSDK(t *testing.T) {
	w := newWorld(t)
	seq, _ := w.publish("closed")
	s, _ := w.js.Stream(ctx(t), streamName)
	m, err := s.GetMsg(ctx(t), seq)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := consumer.Decode(m.Header, m.Data)
	if err != nil {
		t.Fatal(err)
	}
	sdk, err := binding.ToEvent(ctx(t), cejs.NewMessage(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}))
	if err != nil {
		t.Fatalf("CloudEvents SDK: %v", err)
	}
	if sdk.ID() != ev.ID || sdk.Type() != ev.Type || sdk.Source() != ev.Source || sdk.Subject() != ev.Subject ||
		!sdk.Time().Equal(ev.Time) || string(sdk.Data()) != string(ev.Data) ||
		sdk.Extensions()["dedupkey"] != ev.DedupKey || sdk.Extensions()["channel"] != ev.Channel {
		t.Fatalf("SDK read %v\npackage read %+v", sdk, ev)
	}
	for _, bad := range []struct {
		h    nats.Header
		data string
	}{
		{nats.Header{"Content-Type": {"application/json"}}, string(m.Data)},
		{nil, `{"specversion":"0.3","id":"x","type":"t"}`},
		{nil, `not json`},
	} {
		if _, err := consumer.Decode(bad.h, []byte(bad.data)); !errors.Is(err, consumer.ErrNotCloudEvent) {
			t.Errorf("Decode(%v, %q) = %v, want ErrNotCloudEvent", bad.h, bad.data, err)
		}
	}
	if _, err := consumer.Decode(nats.Header{"Content-Type": {"application/cloudevents+json; charset=utf-8"}}, m.Data); err != nil {
		t.Errorf("Content-Type with parameters: %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	w := newWorld(t)
	for name, opts := range map[string][]consumer.Option{
		"max deliver 0":        {consumer.WithMaxDeliver(0)},
		"no backoff":           {consumer.WithBackoff()},
		"concurrency 0":        {consumer.WithConcurrency(0)},
		"start seq 0":          {consumer.WithStart(consumer.StartAtSeq(0))},
		"dead letter wildcard": {consumer.WithDeadLetter("dl.*", "DL")},
		"short ack wait":       {consumer.WithAckWait(time.Millisecond)},
	} {
		if _, err := consumer.New(w.js, streamName, "x", opts...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := consumer.New(w.js, streamName, "a.b"); err == nil {
		t.Error("durable name with '.' accepted")
	}
}
