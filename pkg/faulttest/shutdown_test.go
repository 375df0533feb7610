package faulttest

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
)

// TestGracefulStopUnderLoad is checklist D6 on the real process: SIGTERM
// while 16 clients send. The process exits 0 within http.shutdown_timeout,
// having stopped in order: HTTP drained, then the NATS connection, then the
// embedded server (read from its log).
// Every request it started handling got its final answer to the client:
// the answers the clients received from that run equal, status by status,
// the requests the bridge logged as answered (debug "request" lines). The
// clients' other attempts never reached a handler (connection refused or
// reset before the request was accepted) and are resent to the restarted
// bridge; in the end nothing acknowledged is lost or stored twice.
func TestGracefulStopUnderLoad(t *testing.T) {
	n, clients := size(4000, 20000), 16
	const shutdownTimeout = 15 * time.Second
	p := bridgetest.StartProcess(t, binary, nil, "serve",
		"--data.dir", filepath.Join(t.TempDir(), "data"),
		"--http.addr", freeAddr(t),
		"--embedded.listen", "127.0.0.1:0",
		"--auth.tokens", token,
		"--log.level", "debug",
		"--http.shutdown_timeout", shutdownTimeout.String())
	base := p.WaitReady(t, readyTimeout)
	ld := newLoad(t, base, clients)
	keys := ld.add("gs", n, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		ld.run(ctx, keys, clients)
	}()

	ld.waitProgress(t, int64(n/2), time.Minute)
	stopping := time.Now()
	p.Terminate(t)
	if code := p.Wait(t, shutdownTimeout+5*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; stderr:\n%s", code, p.Stderr().String())
	}
	t.Logf("exited %v after SIGTERM", time.Since(stopping))
	logged := map[int]int{}
	// The stop order: stop accepting and answer what is in flight, then
	// drain NATS, then stop the embedded server.
	steps := []string{"shutting down: finishing requests in flight", "last answer", "nats connection closed", "Initiating Shutdown...", "stopped"}
	at := map[string]int{}
	for i, line := range p.Stderr().All() {
		var l struct {
			Logger, Msg, Route string
			Status             int
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		if l.Logger == "http" && l.Msg == "request" && l.Route == "/v1/webhooks/doubletick/:event" {
			logged[l.Status]++
			at["last answer"] = i
		}
		if _, seen := at[l.Msg]; !seen {
			at[l.Msg] = i
		}
	}
	if _, warned := at["nats disconnected"]; warned {
		t.Error(`a graceful stop logged the "nats disconnected" warning`)
	}
	for i := 1; i < len(steps); i++ {
		before, okB := at[steps[i-1]]
		after, okA := at[steps[i]]
		if !okB || !okA || before > after {
			t.Errorf("stop order: %q (line %d, logged %v) should come before %q (line %d, logged %v)",
				steps[i-1], before, okB, steps[i], after, okA)
		}
	}
	ld.genMu.RLock()
	stoppedGen := ld.gen
	ld.genMu.RUnlock()
	received, afterSignal := map[int]int{}, 0
	for _, a := range ld.ck.Attempts() {
		if a.Gen == stoppedGen && a.Status != 0 {
			received[a.Status]++
			if a.Status == http.StatusAccepted && a.Sent.Add(a.Took).After(stopping) {
				afterSignal++
			}
		}
	}
	if len(logged) == 0 || !equalCounts(logged, received) {
		t.Fatalf("the bridge answered %v (by status) but the clients received %v", logged, received)
	}
	t.Logf("stopped run answered %v; %d of the 202s arrived after SIGTERM", received, afterSignal)

	ld.restart(func() { p.Restart(t) })
	p.WaitReady(t, readyTimeout)
	<-loaded
	if ctx.Err() != nil {
		t.Fatalf("load did not finish: %d of %d", ld.completed.Load(), n)
	}
	nc, err := nats.Connect(p.NATSURL(t, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
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
	if len(res.OK) != n || res.LastSeq != uint64(n) {
		t.Fatalf("want all %d ok, stored once: %s", n, res)
	}
	if code := p.Stop(t, exitTimeout); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func equalCounts(a, b map[int]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
