package faulttest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/config"
)

// r3 is a 3-node cluster with a bridge in front whose stream has 3
// replicas.
type r3 struct {
	c    *bridgetest.Cluster
	base string
	js   jetstream.JetStream
}

func startR3(t *testing.T, mutate func(*config.Config)) r3 {
	t.Helper()
	c := bridgetest.RunCluster(t, 3, bridgetest.WithMaxPayload(8<<20))
	_, base, _ := startBridge(t, c.URL(), func(cfg *config.Config) {
		cfg.Stream.Replicas = 3
		if mutate != nil {
			mutate(cfg)
		}
	})
	c.WaitForStreamLeader(t, stream, 30*time.Second)
	return r3{c: c, base: base, js: c.JetStream(t)}
}

// check reads the stream through its leader and requires lost = 0,
// duplicated = 0, every delivery ok, and equal replicas.
func (r r3) check(t *testing.T, ld *load, n int) {
	t.Helper()
	bridgetest.WaitFor(t, 30*time.Second, "replicas equal (Msgs/FirstSeq/LastSeq/NumDeleted)", func() error {
		return r.c.CheckReplicas(stream, 3)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := ld.ck.Check(ctx, r.js, stream, bridgetest.BodyField(keyField))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("history: %d attempts; %s", len(ld.ck.Attempts()), res)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if len(res.OK) != n || res.LastSeq != uint64(n) {
		t.Fatalf("want all %d deliveries ok and stored once: %s", n, res)
	}
	states, _ := r.c.StreamStates(stream)
	for _, s := range states {
		if s.Msgs != uint64(n) {
			t.Errorf("replica %s holds %d messages, want %d", s.Server, s.Msgs, n)
		}
	}
}

// TestStepdownUnderLoad is checklist D4: on an R3 stream, the stream
// leader is made to step down (the graceful API path) every 500 deliveries
// while 16 clients send 5,000. The in-request retry absorbs every
// stepdown: each delivery's first answer is a 202; nothing is lost or
// stored twice; the replicas end equal. DTBRIDGE_SOAK=1: 20,000
// deliveries, 39 stepdowns.
func TestStepdownUnderLoad(t *testing.T) {
	n, every, clients := size(5000, 20000), 500, 16
	r := startR3(t, nil)
	nc := r.c.Conn(t)
	ld := newLoad(t, r.base, clients)
	keys := ld.add("sd", n, 0)

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(size(120, 600))*time.Second)
	defer cancel()
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		ld.run(ctx, keys, clients)
	}()
	stepdowns := 0
	for next := every; next < n; next += every {
		ld.waitProgress(t, int64(next), time.Minute)
		leader := r.c.StepdownStream(t, nc, stream)
		stepdowns++
		t.Logf("stepdown %d after %d deliveries: %s leads", stepdowns, ld.completed.Load(), r.c.Name(leader))
	}
	<-loaded
	if ctx.Err() != nil {
		t.Fatalf("load did not finish: %d of %d", ld.completed.Load(), n)
	}
	for _, a := range ld.ck.Attempts() {
		if a.Status != http.StatusAccepted {
			t.Fatalf("a delivery was answered %d %s (%s) across a graceful stepdown; want every answer 202", a.Status, a.Code, a.Err)
		}
	}
	if got := len(ld.ck.Attempts()); got != n {
		t.Fatalf("%d attempts for %d deliveries: some were resent", got, n)
	}
	r.check(t, ld, n)
}

// TestLeaderKillUnderLoad is checklist D5: the stream leader's server is
// hard-stopped mid-load (its routes cut, then Shutdown, so no leadership
// handover: see bridgetest.Cluster.HardStopServer), and restarted later.
// The remaining two elect a leader on production Raft timers (4–9 s). The
// bridge answers every request 202 within the publish budget or 503 (never
// a lost ack, never a 5xx of another kind); after the restart nothing is
// lost, nothing is stored twice, and the replicas are equal.
// DTBRIDGE_SOAK=1: 10,000 deliveries and three leader kills.
func TestLeaderKillUnderLoad(t *testing.T) {
	n, kills, clients := size(3000, 10000), size(1, 3), 16
	budget := config.Default().Publish.Timeout
	r := startR3(t, nil)
	ld := newLoad(t, r.base, clients)
	keys := ld.add("lk", n, 0)

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(size(150, 600))*time.Second)
	defer cancel()
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		ld.run(ctx, keys, clients)
	}()
	for k := range kills {
		base := n * (2*k + 1) / (2*kills + 1)
		ld.waitProgress(t, int64(base), time.Minute)
		leader := r.c.WaitForStreamLeader(t, stream, 30*time.Second)
		r.c.HardStopServer(leader)
		t.Logf("hard-stopped leader %s after %d deliveries", r.c.Name(leader), ld.completed.Load())
		ld.waitProgress(t, int64(base+n/(2*kills+1)), 2*time.Minute)
		r.c.RestartServer(t, leader)
		r.c.WaitForCurrent(t, leader, stream, time.Minute)
		t.Logf("restarted %s after %d deliveries", r.c.Name(leader), ld.completed.Load())
	}
	<-loaded
	if ctx.Err() != nil {
		t.Fatalf("load did not finish: %d of %d", ld.completed.Load(), n)
	}
	var unavailable int
	var slowest time.Duration
	for _, a := range ld.ck.Attempts() {
		slowest = max(slowest, a.Took)
		switch {
		case a.Status == http.StatusServiceUnavailable && a.Code == "broker_unavailable" && a.RetryAfter != "":
			unavailable++
		case a.Status != http.StatusAccepted:
			t.Errorf("answered %d %q (%s); want 202 or 503 broker_unavailable with Retry-After", a.Status, a.Code, a.Err)
		}
		if a.Took > budget+time.Second {
			t.Errorf("an answer (%d) took %v, past the publish budget %v + 1s", a.Status, a.Took, budget)
		}
	}
	t.Logf("%d answers were 503 during the election; the slowest answer took %v (budget %v)", unavailable, slowest, budget)
	r.check(t, ld, n)
}

// TestConcurrentIdenticalR3 is checklist X2 on R3: 50 identical deliveries
// at once. On a replicated stream the server answers a publish whose
// Nats-Msg-Id is still being proposed with err 10158 ("duplicate message
// id is in process"); the bridge retries it with the same id, so all 50
// get 202 naming one seq, exactly one copy is stored, and none is a 5xx.
// The same burst is also sent with bare JetStream publishes, without the
// bridge, to show how often 10158 happens at all (logged, not asserted: it
// is a race).
func TestConcurrentIdenticalR3(t *testing.T) {
	r := startR3(t, nil)
	const n = 50
	ld := newLoad(t, r.base, n)
	ld.add("same", 1, 0)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { ld.attempt(context.Background(), "same-000000") })
	}
	wg.Wait()
	seqs := map[uint64]int{}
	fresh := 0
	for _, a := range ld.ck.Attempts() {
		if a.Status != http.StatusAccepted {
			t.Fatalf("answered %d %q: %s", a.Status, a.Code, a.Err)
		}
		seqs[a.Seq]++
		if !a.Duplicate {
			fresh++
		}
	}
	if len(seqs) != 1 || fresh != 1 {
		t.Errorf("seqs %v, %d not duplicates; want one seq and one first store", seqs, fresh)
	}
	r.check(t, ld, 1)

	// Bare publishes, no retry: count the 10158 answers.
	js := r.js
	var mu sync.Mutex
	conflicts, acked := 0, 0
	for range n {
		wg.Go(func() {
			_, err := js.Publish(context.Background(), "doubletick.whatsapp.conversation.closed", []byte(`{}`),
				jetstream.WithMsgID("bare-identical"), jetstream.WithRetryAttempts(0))
			var apiErr *jetstream.APIError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				acked++
			case errors.As(err, &apiErr) && apiErr.ErrorCode == 10158:
				conflicts++
			default:
				t.Errorf("bare publish: %v", err)
			}
		})
	}
	wg.Wait()
	t.Logf("bare JetStream, %d identical publishes at once on R3: %d acked, %d answered err 10158", n, acked, conflicts)
	if acked+conflicts != n {
		t.Fatal(fmt.Sprint("unexpected outcomes"))
	}
}
