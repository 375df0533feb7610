package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/config"
	"github.com/dtbridge/dtbridge/pkg/ingress"
)

// TestBrokerHardStopUnderLoad is checklist D3 under load: 16 clients send
// while the external broker is hard-stopped and, once every client has
// seen the outage, restarted on the same port and store. While it is down
// no request gets a 2xx; /readyz turns 503 within 2 s; every 503 carries
// Retry-After and comes within the publish budget + 1 s; the first 2xx
// after the restart comes within 5 s; and, with the clients resending,
// nothing acknowledged is lost or stored twice.
func TestBrokerHardStopUnderLoad(t *testing.T) {
	n, clients := size(2000, 10000), 16
	const budget = 3 * time.Second
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
	_, base, _ := startBridge(t, srv.URL(), func(c *config.Config) {
		c.Publish.Timeout = budget
		c.Publish.AttemptTimeout = time.Second
	})
	ld := newLoad(t, base, clients)
	ld.retryWait = 100 * time.Millisecond
	keys := ld.add("bo", n, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		ld.run(ctx, keys, clients)
	}()

	ld.waitProgress(t, int64(n/4), time.Minute)
	srv.Shutdown()
	down := time.Now()
	bridgetest.WaitFor(t, 2*time.Second, "/readyz 503 after the disconnect", func() error {
		if s := get(t, base+"/readyz"); s != http.StatusServiceUnavailable {
			return fmt.Errorf("readyz %d", s)
		}
		return nil
	})
	bridgetest.WaitFor(t, time.Minute, "every client to get a 503", func() error {
		seen := 0
		for _, a := range ld.ck.Attempts() {
			if a.Status == http.StatusServiceUnavailable && a.Sent.After(down) {
				seen++
			}
		}
		if seen < clients {
			return fmt.Errorf("%d 503s", seen)
		}
		return nil
	})
	up := time.Now()
	srv.Restart(t)
	restarted := time.Now()
	<-loaded
	if ctx.Err() != nil {
		t.Fatalf("load did not finish: %d of %d", ld.completed.Load(), n)
	}

	var firstAfter time.Duration = -1
	for _, a := range ld.ck.Attempts() {
		answered := a.Sent.Add(a.Took)
		switch a.Status {
		case http.StatusAccepted:
			if a.Sent.After(down) && answered.Before(up) {
				t.Errorf("a request sent %v into the outage got 202 before the restart", a.Sent.Sub(down))
			}
			if answered.After(restarted) && (firstAfter < 0 || answered.Sub(restarted) < firstAfter) {
				firstAfter = answered.Sub(restarted)
			}
		case http.StatusServiceUnavailable:
			if a.Code != ingress.CodeBrokerUnavailable || a.RetryAfter == "" {
				t.Errorf("503 %q with Retry-After %q", a.Code, a.RetryAfter)
			}
			if a.Took > budget+time.Second {
				t.Errorf("503 after %v, budget %v + 1s", a.Took, budget)
			}
		default:
			t.Errorf("answered %d %q (%s)", a.Status, a.Code, a.Err)
		}
	}
	if firstAfter < 0 || firstAfter > 5*time.Second {
		t.Errorf("first 2xx %v after the restart, want within 5s", firstAfter)
	}
	t.Logf("outage %v; first 2xx %v after the restart", up.Sub(down), firstAfter)

	rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
	defer rcancel()
	res, err := ld.ck.Check(rctx, srv.JetStream(t), stream, bridgetest.BodyField(keyField))
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
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// deliverOnce posts key's body and returns the ack; it fails the test on
// anything but a 202.
func deliverOnce(t *testing.T, base, key string) ingress.Ack {
	t.Helper()
	resp, err := http.Post(base+webhookPath+"?token="+token, "application/json", bytesReader(eventBody(key)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var ack ingress.Ack
	if err := json.Unmarshal(b, &ack); err != nil {
		t.Fatal(err)
	}
	return ack
}

// TestRedeliveryAcrossRestarts is checklist X3: inside the duplicate
// window, a redelivery is answered duplicate:true with the original seq
// after the broker restarted (JetStream rebuilds its dedup map from the
// stored messages) and after the bridge restarted (the dedup state is the
// broker's, not the bridge's). The embedded-server variant, where both
// restart together as one process, is
// cmd/dtbridge.TestServeEmbeddedSeedDelivery.
func TestRedeliveryAcrossRestarts(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
	b1, base, _ := startBridge(t, srv.URL(), nil)
	first := deliverOnce(t, base, "x3")
	if first.Duplicate {
		t.Fatalf("first delivery %+v", first)
	}

	srv.Restart(t)
	bridgetest.WaitFor(t, 10*time.Second, "/readyz after the broker restart", func() error {
		if s := get(t, base+"/readyz"); s != http.StatusOK {
			return fmt.Errorf("readyz %d", s)
		}
		return nil
	})
	if again := deliverOnce(t, base, "x3"); !again.Duplicate || again.Seq != first.Seq || again.ID != first.ID {
		t.Fatalf("after broker restart: %+v, want duplicate of %+v", again, first)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, base2, _ := startBridge(t, srv.URL(), nil)
	if again := deliverOnce(t, base2, "x3"); !again.Duplicate || again.Seq != first.Seq || again.ID != first.ID {
		t.Fatalf("after bridge restart: %+v, want duplicate of %+v", again, first)
	}
}

// TestRedeliveryAfterWindow is checklist X4: with stream.duplicate_window
// at its 100 ms minimum, a redelivery after the window is stored again, as
// the README says (the service is at-least-once outside the window). The
// client redelivers until the answer is not a duplicate, within 5 s.
func TestRedeliveryAfterWindow(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
	_, base, _ := startBridge(t, srv.URL(), func(c *config.Config) { c.Stream.DuplicateWindow = 100 * time.Millisecond })
	first := deliverOnce(t, base, "x4")
	var second ingress.Ack
	bridgetest.WaitFor(t, 5*time.Second, "a redelivery that is not a duplicate", func() error {
		if second = deliverOnce(t, base, "x4"); second.Duplicate {
			return fmt.Errorf("still a duplicate of seq %d", second.Seq)
		}
		return nil
	})
	if second.Seq == first.Seq || second.ID == first.ID {
		t.Fatalf("second store %+v, first %+v: want a new seq and id", second, first)
	}
	info, err := srv.JetStream(t).Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	if info.CachedInfo().State.Msgs != 2 {
		t.Fatalf("%d stored, want the delivery twice", info.CachedInfo().State.Msgs)
	}
}

// TestReadyzWithoutStream is checklist O1's other half: connected but
// without a writable stream (deleted under the bridge), /readyz is 503 with
// the reason; once the stream is back it is 200 again.
func TestReadyzWithoutStream(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
	_, base, _ := startBridge(t, srv.URL(), nil)
	if s := get(t, base+"/readyz"); s != http.StatusOK {
		t.Fatalf("readyz %d", s)
	}
	js := srv.JetStream(t)
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if err := js.DeleteStream(ctx, stream); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "not_ready") || !strings.Contains(string(body), stream) {
		t.Fatalf("readyz without the stream: %d %s", resp.StatusCode, body)
	}
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if s := get(t, base+"/readyz"); s != http.StatusOK {
		t.Fatalf("readyz after the stream is back: %d", s)
	}
}
