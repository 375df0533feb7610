package faulttest

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
)

const (
	readyTimeout = 60 * time.Second
	exitTimeout  = 20 * time.Second
)

// TestKillBridgeEmbedded is checklist D1 (with D9 and O2): the bridge runs
// as a real process with its embedded JetStream (fsync always); 16
// clients send unique deliveries, one in ten of them malformed (kept in
// quarantine, answered 400); the process is killed with SIGKILL at three
// seeded-random moments and restarted on the same data.dir; every delivery
// without its final answer is resent. Afterwards the whole stream is read
// back: nothing acknowledged is lost, nothing is stored twice, every
// Nats-Msg-Id is its envelope's dedupkey, and the last run's metrics equal
// what the clients saw from it.
//
// Default size is the checklist's: 10,000 deliveries and 3 kills (about 6 s
// here with -race). DTBRIDGE_SOAK=1 (`make soak`) runs 100,000 deliveries
// and 10 kills.
func TestKillBridgeEmbedded(t *testing.T) {
	killLoop(t, nil)
}

// TestKillBridgeExternal is checklist D2: the same kill loop with the
// bridge on an external (in-process) nats-server, which outlives every
// kill; the stream's LastSeq afterwards is the number of distinct
// deliveries.
func TestKillBridgeExternal(t *testing.T) {
	killLoop(t, bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20)))
}

func killLoop(t *testing.T, srv *bridgetest.Server) {
	n, kills, clients := size(10000, 100000), size(3, 10), 16
	rng := seeded(t)
	args := []string{"serve",
		"--data.dir", filepath.Join(t.TempDir(), "data"),
		"--http.addr", freeAddr(t),
		"--auth.tokens", token,
		"--log.level", "info",
	}
	if srv != nil {
		args = append(args, "--nats.url", srv.URL())
	} else {
		args = append(args, "--embedded.listen", "127.0.0.1:0")
	}
	p := bridgetest.StartProcess(t, binary, nil, args...)
	base := p.WaitReady(t, readyTimeout)

	ld := newLoad(t, base, clients)
	keys := ld.add("k", n, 10)
	at := make([]int, kills) // kill after this many deliveries are done
	for i := range at {
		at[i] = n/10 + rng.IntN(n*8/10)
	}
	slices.Sort(at)

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(size(150, 900))*time.Second)
	defer cancel()
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		ld.run(ctx, keys, clients)
	}()
	for i, after := range at {
		ld.waitProgress(t, int64(after), 2*time.Minute)
		p.Kill(t)
		t.Logf("kill %d after %d deliveries done", i+1, ld.completed.Load())
		noToken(t, p)
		ld.restart(func() { p.Restart(t) })
		p.WaitReady(t, readyTimeout)
	}
	<-loaded
	if ctx.Err() != nil {
		t.Fatalf("load did not finish: %d of %d done", ld.completed.Load(), n)
	}

	var js jetstream.JetStream
	if srv != nil {
		js = srv.JetStream(t)
	} else {
		nc, err := nats.Connect(p.NATSURL(t, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ = jetstream.New(nc)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
	defer rcancel()
	res, err := ld.ck.Check(rctx, js, stream, bridgetest.BodyField(keyField))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("history: %d attempts; %s", len(ld.ck.Attempts()), res)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if len(res.Unknown) != 0 || len(res.OK) != n {
		t.Fatalf("after resending, %d deliveries still unknown (want every one ok): %v", len(res.Unknown), res)
	}
	if res.LastSeq != uint64(n) || res.Stored != n {
		t.Fatalf("stream LastSeq %d, %d stored; want %d distinct deliveries", res.LastSeq, res.Stored, n)
	}

	checkMetrics(t, ld, base)
	noToken(t, p)
	if code := p.Stop(t, exitTimeout); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; stderr:\n%s", code, p.Stderr().String())
	}
}

// noToken is part of checklist S2: the current run's log and standard
// output never carry the configured token.
func noToken(t *testing.T, p *bridgetest.Process) {
	t.Helper()
	for name, out := range map[string]*bridgetest.Lines{"log": p.Stderr(), "standard output": p.Stdout()} {
		if n := strings.Count(out.String(), token); n != 0 {
			t.Errorf("run %d: the token appears %d time(s) in the bridge's %s", p.Runs(), n, name)
		}
	}
}

// checkMetrics is checklist O2: the last run's counters equal what the
// clients saw from that run, exactly. (Counters are per process, so only
// attempts the last run answered are compared.)
func checkMetrics(t *testing.T, ld *load, base string) {
	t.Helper()
	ld.genMu.RLock()
	gen := ld.gen
	ld.genMu.RUnlock()
	var accepted, duplicate, quarantine, answered float64
	rejected := map[string]float64{}
	for _, a := range ld.ck.Attempts() {
		if a.Gen != gen || a.Status == 0 {
			continue
		}
		answered++
		switch {
		case a.Status == http.StatusAccepted && a.Duplicate:
			duplicate++
		case a.Status == http.StatusAccepted:
			accepted++
		case a.Status == http.StatusBadRequest:
			quarantine++
			rejected[a.Code]++
		default:
			rejected[a.Code]++
		}
	}
	m := scrape(t, base)
	const quarantineType = `dtbridge_duplicates_total{type="io.dtbridge.quarantine.v1"}`
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"dtbridge_events_total (accepted, first store)", m["dtbridge_events_total"], accepted},
		{"dtbridge_duplicates_total of events", m["dtbridge_duplicates_total"] - m[quarantineType], duplicate},
		{"quarantined + deduplicated quarantine copies", m[`dtbridge_quarantined_total{reason="malformed"}`] + m[quarantineType], quarantine},
		{"dtbridge_rejected_total", m["dtbridge_rejected_total"], sum(rejected)},
		{`dtbridge_rejected_total{code="malformed_body"}`, m[`dtbridge_rejected_total{code="malformed_body"}`], rejected["malformed_body"]},
		{"dtbridge_http_requests_total on the webhook route", m[`dtbridge_http_requests_total`] - nonWebhook(m), answered},
	} {
		if c.got != c.want {
			t.Errorf("O2: %s = %v, the clients counted %v (run %d)", c.what, c.got, c.want, gen)
		}
	}
	t.Logf("O2: run %d answered %v: %v accepted, %v duplicates, %v quarantined, rejected %v", gen, answered, accepted, duplicate, quarantine, rejected)
}

func sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// nonWebhook is the request count of routes other than the webhook ones
// (readiness polls, this scrape's predecessors).
func nonWebhook(m map[string]float64) float64 {
	var s float64
	for k, v := range m {
		if strings.HasPrefix(k, "dtbridge_http_requests_total{") && !strings.Contains(k, `route="/v1/webhooks/`) {
			s += v
		}
	}
	return s
}
