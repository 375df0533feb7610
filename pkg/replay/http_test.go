package replay_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dtbridge/dtbridge/pkg/replay"
)

// receiver is a real HTTP server on loopback that answers with a script
// and records every request.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	answer func(n int, w http.ResponseWriter) // n counts requests from 1
}

type recorded struct {
	header http.Header
	body   []byte
	status int
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter)) *receiver {
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{header: req.Header.Clone(), body: body})
		n := len(r.reqs)
		r.mu.Unlock()
		rw := &statusWriter{ResponseWriter: w, status: 200}
		r.answer(n, rw)
		r.mu.Lock()
		r.reqs[n-1].status = rw.status
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

func (r *receiver) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// delivered is the bodies answered 2xx, in order.
func (r *receiver) delivered() [][]byte {
	var out [][]byte
	for _, q := range r.requests() {
		if q.status/100 == 2 {
			out = append(out, q.body)
		}
	}
	return out
}

// waits records the sink's waits between attempts instead of sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

func TestHTTPSink500Then200(t *testing.T) {
	w := newWorld(t)
	for range 5 {
		w.publish("conversation.closed")
	}
	rcv := newReceiver(t, func(n int, rw http.ResponseWriter) {
		if n <= 3 {
			rw.WriteHeader(http.StatusInternalServerError)
		}
	})
	var ws waits
	sink, err := replay.NewHTTPSink(rcv.URL+"/events", replay.WithBackoff(time.Millisecond, 10*time.Millisecond), replay.WithSleep(ws.sleep))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := replay.Run(ctx(t), w.js, streamName, replay.Range{}, sink, replay.Options{})
	if err != nil || sum.Sent != 5 || sum.Failed != 0 {
		t.Fatalf("Run = %+v, %v", sum, err)
	}
	got := rcv.delivered()
	want := w.stored(1, 5, nil)
	if len(got) != len(want) {
		t.Fatalf("%d delivered, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i].Data) {
			t.Fatalf("delivery %d = %q, want the stored bytes %q", i, got[i], want[i].Data)
		}
	}
	for _, q := range rcv.requests() {
		if ct := q.header.Get("Content-Type"); ct != "application/cloudevents+json" {
			t.Fatalf("Content-Type %q", ct)
		}
		if !strings.HasPrefix(q.header.Get(replay.HeaderReplayOf), streamName+":") {
			t.Fatalf("no %s header: %v", replay.HeaderReplayOf, q.header)
		}
		if q.header.Get("Authorization") != "" || q.header.Get(replay.HeaderWebhookSignature) != "" {
			t.Fatalf("unexpected credentials or signature: %v", q.header)
		}
	}
	if d := ws.all(); len(d) != 3 || d[0] != time.Millisecond || d[1] != 2*time.Millisecond || d[2] != 4*time.Millisecond {
		t.Fatalf("waits %v, want [1ms 2ms 4ms] (exponential backoff)", d)
	}
}

func TestHTTPSinkAlwaysFailing(t *testing.T) {
	w := newWorld(t)
	for range 3 {
		w.publish("conversation.closed")
	}
	rcv := newReceiver(t, func(_ int, rw http.ResponseWriter) { rw.WriteHeader(http.StatusBadGateway) })
	var ws waits
	sink, err := replay.NewHTTPSink(rcv.URL, replay.WithMaxAttempts(3), replay.WithBackoff(time.Millisecond, time.Millisecond), replay.WithSleep(ws.sleep))
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	sum, err := replay.Run(ctx(t), w.js, streamName, replay.Range{}, sink, replay.Options{Progress: &progress})
	if err != nil {
		t.Fatalf("Run: %v (a failing receiver is counted, not a stop)", err)
	}
	if sum.Sent != 0 || sum.Failed != 3 || sum.Matched != 3 {
		t.Fatalf("summary %+v, want 3 failed", sum)
	}
	if n := len(rcv.requests()); n != 9 {
		t.Fatalf("%d requests, want 3 events × 3 attempts", n)
	}
	if c := strings.Count(progress.String(), "not delivered"); c != 3 || !strings.Contains(progress.String(), "answered 502") {
		t.Fatalf("progress output:\n%s", progress.String())
	}
	if !strings.Contains(sum.String(), "0 sent, 3 failed") {
		t.Fatalf("summary %q", sum)
	}
}

func TestHTTPSinkRetryAfter(t *testing.T) {
	w := newWorld(t)
	w.publish("conversation.closed")
	rcv := newReceiver(t, func(n int, rw http.ResponseWriter) {
		switch n {
		case 1:
			rw.Header().Set("Retry-After", "7")
			rw.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			rw.Header().Set("Retry-After", "100000") // capped
			rw.WriteHeader(http.StatusTooManyRequests)
		case 3, 4:
			rw.WriteHeader(http.StatusInternalServerError)
		}
	})
	var ws waits
	sink, err := replay.NewHTTPSink(rcv.URL, replay.WithBackoff(100*time.Millisecond, 250*time.Millisecond), replay.WithSleep(ws.sleep))
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := replay.Run(ctx(t), w.js, streamName, replay.Range{}, sink, replay.Options{}); err != nil || sum.Sent != 1 {
		t.Fatalf("Run = %+v, %v", sum, err)
	}
	want := []time.Duration{7 * time.Second, replay.MaxRetryAfter, 250 * time.Millisecond, 250 * time.Millisecond}
	if got := ws.all(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("waits %v, want %v (Retry-After honoured and capped, backoff capped)", got, want)
	}
}

func TestHTTPSinkFinalAnswers(t *testing.T) {
	target := newReceiver(t, func(int, http.ResponseWriter) {})
	for _, tt := range []struct {
		name   string
		answer func(rw http.ResponseWriter)
		want   string
	}{
		{"302 is not followed", func(rw http.ResponseWriter) {
			rw.Header().Set("Location", target.URL)
			rw.WriteHeader(http.StatusFound)
		}, "answered 302"},
		{"307 is not followed", func(rw http.ResponseWriter) {
			rw.Header().Set("Location", target.URL)
			rw.WriteHeader(http.StatusTemporaryRedirect)
		}, "answered 307"},
		{"400 is final", func(rw http.ResponseWriter) { rw.WriteHeader(http.StatusBadRequest) }, "answered 400"},
		{"410 is final", func(rw http.ResponseWriter) { rw.WriteHeader(http.StatusGone) }, "answered 410"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, func(_ int, rw http.ResponseWriter) { tt.answer(rw) })
			var ws waits
			sink, err := replay.NewHTTPSink(rcv.URL, replay.WithSleep(ws.sleep))
			if err != nil {
				t.Fatal(err)
			}
			err = sink.Send(ctx(t), replay.Msg{Stream: streamName, Seq: 1, Data: []byte(`{"id":"x"}`)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Send = %v, want %q", err, tt.want)
			}
			if n := len(rcv.requests()); n != 1 || len(ws.all()) != 0 {
				t.Fatalf("%d requests and waits %v, want one attempt", n, ws.all())
			}
		})
	}
	if n := len(target.requests()); n != 0 {
		t.Fatalf("the redirect target got %d requests", n)
	}
}

func TestBlocked(t *testing.T) {
	for addr, want := range map[string]bool{
		"169.254.169.254":          true,
		"169.254.0.1":              true,
		"::ffff:169.254.169.254":   true,
		"fe80::1":                  true,
		"fe80::1%eth0":             true,
		"febf::1":                  true,
		"fd00:ec2::254":            true,
		"64:ff9b::a9fe:a9fe":       true, // NAT64 of 169.254.169.254
		"64:ff9b::169.254.169.254": true,
		"2002:a9fe:a9fe::1":        true, // 6to4 of 169.254.169.254
		"127.0.0.1":                false,
		"::1":                      false,
		"10.0.0.1":                 false,
		"172.16.3.4":               false,
		"192.168.1.1":              false,
		"fd00::1":                  false,
		"fd00:ec2::253":            false,
		"8.8.8.8":                  false,
		"64:ff9b::a00:1":           false, // NAT64 of 10.0.0.1
		"2002:a00:1::1":            false, // 6to4 of 10.0.0.1
		"fec0::1":                  false,
	} {
		if got := replay.Blocked(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Blocked(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestHTTPSinkRefusesMetadataAtDial: the refusal happens when connecting,
// on the resolved address, so a literal address in any form and a host
// name that resolves to one are refused alike, without a retry.
func TestHTTPSinkRefusesMetadataAtDial(t *testing.T) {
	rcv := newReceiver(t, func(int, http.ResponseWriter) {})
	_, port, err := net.SplitHostPort(rcv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	resolver := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "metadata.test":
			return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
		case "mapped.test":
			return []netip.Addr{netip.MustParseAddr("::ffff:169.254.169.254")}, nil
		case "receiver.test":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return nil, errors.New("no such host")
	}
	for _, u := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://[::ffff:169.254.169.254]/",
		"http://[fe80::1]:" + port + "/",
		"http://[fd00:ec2::254]/",
		"http://[64:ff9b::a9fe:a9fe]/",
		"http://[2002:a9fe:a9fe::1]/",
		"http://metadata.test:" + port + "/",
		"http://mapped.test/",
	} {
		t.Run(u, func(t *testing.T) {
			var ws waits
			sink, err := replay.NewHTTPSink(u, replay.WithResolver(resolver), replay.WithSleep(ws.sleep))
			if err != nil {
				t.Fatal(err)
			}
			err = sink.Send(ctx(t), replay.Msg{Stream: streamName, Seq: 1, Data: []byte(`{}`)})
			if !errors.Is(err, replay.ErrBlockedAddress) {
				t.Fatalf("Send = %v, want ErrBlockedAddress", err)
			}
			if len(ws.all()) != 0 {
				t.Fatalf("a refused address was retried: waits %v", ws.all())
			}
		})
	}
	// Loopback through a name is allowed (operator-run CLI).
	sink, err := replay.NewHTTPSink("http://receiver.test:"+port+"/", replay.WithResolver(resolver))
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Send(ctx(t), replay.Msg{Stream: streamName, Seq: 1, Data: []byte(`{}`)}); err != nil {
		t.Fatalf("Send to loopback by name: %v", err)
	}
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("receiver got %d requests, want 1", n)
	}
}

// TestHTTPSinkSigns checks the Standard Webhooks headers with an
// independent verification: HMAC-SHA256 over "id.timestamp.body".
func TestHTTPSinkSigns(t *testing.T) {
	w := newWorld(t)
	w.publish("conversation.closed")
	w.publish("conversation.closed")
	key := bytes.Repeat([]byte{7}, 32)
	rcv := newReceiver(t, func(n int, rw http.ResponseWriter) {
		if n == 1 {
			rw.WriteHeader(http.StatusInternalServerError) // the retry is signed too
		}
	})
	signer, err := replay.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := replay.NewHTTPSink(rcv.URL, replay.WithSigner(signer), replay.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := replay.Run(ctx(t), w.js, streamName, replay.Range{}, sink, replay.Options{}); err != nil || sum.Sent != 2 {
		t.Fatalf("Run = %+v, %v", sum, err)
	}
	reqs := rcv.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, q := range reqs {
		var ev struct{ ID string }
		if err := json.Unmarshal(q.body, &ev); err != nil {
			t.Fatal(err)
		}
		id, ts, sig := q.header.Get("webhook-id"), q.header.Get("webhook-timestamp"), q.header.Get("webhook-signature")
		if id != ev.ID {
			t.Fatalf("request %d: webhook-id %q, want the event id %q", i, id, ev.ID)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + ts + "."))
		mac.Write(q.body)
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(sig), []byte(want)) {
			t.Fatalf("request %d: signature %q, want %q", i, sig, want)
		}
		var unix int64
		if _, err := fmt.Sscan(ts, &unix); err != nil || time.Since(time.Unix(unix, 0)).Abs() > 5*time.Minute {
			t.Fatalf("request %d: webhook-timestamp %q is not a current unix time", i, ts)
		}
	}
	if reqs[0].header.Get("webhook-id") != reqs[1].header.Get("webhook-id") {
		t.Fatal("the retry changed webhook-id; it must stay the idempotency key")
	}
}

func TestNewHTTPSinkRejects(t *testing.T) {
	for _, u := range []string{"ftp://x/", "/relative", "http://", "nats://x"} {
		if _, err := replay.NewHTTPSink(u); err == nil {
			t.Errorf("NewHTTPSink(%q) succeeded", u)
		}
	}
	if _, err := replay.NewHTTPSink("http://x/", replay.WithMaxAttempts(0)); err == nil {
		t.Error("0 attempts accepted")
	}
	if s, err := replay.NewHTTPSink("https://user:pw@example.com/hook"); err != nil || strings.Contains(s.URL(), "pw") {
		t.Errorf("URL() = %q, %v; want the password redacted", s.URL(), err)
	}
}
