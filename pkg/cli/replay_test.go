package cli_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/dtbridge/dtbridge/pkg/bridge"
	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/bridgetest/inprocess"
	"github.com/dtbridge/dtbridge/pkg/cli"
	"github.com/dtbridge/dtbridge/pkg/replay"
)

const (
	bridgeToken = "bridge-token-0123456789-abcdefghij"
	natsToken   = "nats-token-0123456789-abcdefghijk"
)

// fixturesDir is resolved before any test changes directory (isolate).
var fixturesDir, _ = filepath.Abs(filepath.Join("..", "..", "testdata", "fixtures"))

// running is a bridge with its embedded JetStream on a random loopback
// port, as `make run` starts it.
type running struct {
	t      *testing.T
	b      *bridge.Bridge
	base   string
	natsAt string // host:port of the embedded server (embedded.listen for replay)
	js     jetstream.JetStream
	n      int
}

func startBridge(t *testing.T) *running {
	t.Helper()
	b := inprocess.Start(t, inprocess.Config(t, "", bridgeToken), zap.NewNop())
	r := &running{t: t, b: b, base: "http://" + b.Addr().String(),
		natsAt: strings.TrimPrefix(b.Embedded().ClientURL(), "nats://")}
	var err2 error
	if r.js, err2 = jetstream.New(b.Conn()); err2 != nil {
		t.Fatal(err2)
	}
	return r
}

// deliver POSTs a DoubleTick fixture, made unique, and returns the seq.
func (r *running) deliver(event, fixture string) uint64 {
	r.t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixturesDir, event, fixture+".json"))
	if err != nil {
		r.t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		r.t.Fatal(err)
	}
	r.n++
	body["customerName"] = fmt.Sprintf("Customer %d", r.n) // a distinct event each time
	b, _ := json.Marshal(body)
	resp, err := http.Post(r.base+"/v1/webhooks/doubletick/"+event+"?token="+bridgeToken, "application/json", bytes.NewReader(b))
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var ack struct{ Seq uint64 }
	if err := json.NewDecoder(resp.Body).Decode(&ack); err != nil || resp.StatusCode != http.StatusAccepted {
		r.t.Fatalf("delivery: %d %v", resp.StatusCode, err)
	}
	return ack.Seq
}

func (r *running) stored(seq uint64) *jetstream.RawStreamMsg {
	r.t.Helper()
	s, err := r.js.Stream(context.Background(), "DOUBLETICK")
	if err != nil {
		r.t.Fatal(err)
	}
	m, err := s.GetMsg(context.Background(), seq)
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

func (r *running) msgs() uint64 {
	r.t.Helper()
	s, err := r.js.Stream(context.Background(), "DOUBLETICK")
	if err != nil {
		r.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return info.State.Msgs
}

// replay runs `dtbridge replay` against the bridge's embedded server
// (nats.url empty: embedded.listen is where it connects).
func (r *running) replay(args ...string) (int, string, string) {
	r.t.Helper()
	// No deadline: the shell's context has none either.
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), append([]string{"replay", "--embedded.listen", r.natsAt}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestReplayCLIStdout(t *testing.T) {
	isolate(t)
	r := startBridge(t)
	var closed []uint64
	for i := range 6 {
		if i%3 == 1 {
			r.deliver("CONVERSATION_OPENED", "whatsapp")
			continue
		}
		closed = append(closed, r.deliver("CLOSE_CONVERSATION", []string{"instagram", "whatsapp"}[i%2]))
	}
	wantLines := func(seqs []uint64) string {
		var b strings.Builder
		for _, s := range seqs {
			b.Write(replay.Line(r.stored(s).Data))
			b.WriteByte('\n')
		}
		return b.String()
	}
	tests := []struct {
		name string
		args []string
		want []uint64
	}{
		{"filter closed", []string{"--filter", "doubletick.*.conversation.closed"}, closed},
		{"from seq", []string{"--from-seq", "5"}, []uint64{5, 6}},
		{"since a duration", []string{"--since", "1h", "--filter", "doubletick.*.conversation.closed"}, closed},
		{"since the future", []string{"--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, nil},
		{"until the past", []string{"--until", "1h"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := r.replay(tt.args...)
			if code != cli.ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if stdout != wantLines(tt.want) {
				t.Fatalf("stdout:\n%s\nwant the stored envelopes of %v:\n%s", stdout, tt.want, wantLines(tt.want))
			}
			if !strings.Contains(stderr, fmt.Sprintf("replay: %d events", len(tt.want))) {
				t.Fatalf("stderr lacks the summary:\n%s", stderr)
			}
		})
	}
	t.Run("dry run", func(t *testing.T) {
		code, stdout, stderr := r.replay("--dry-run", "--filter", "doubletick.*.conversation.closed")
		if code != cli.ExitOK || stdout != "" || !strings.Contains(stderr, fmt.Sprintf("replay: %d events", len(closed))) || !strings.Contains(stderr, "dry run") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
}

func TestReplayCLIUsageErrors(t *testing.T) {
	isolate(t)
	r := startBridge(t)
	r.deliver("CLOSE_CONVERSATION", "instagram")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "ftp://x"}, "--to"},
		{[]string{"--since", "yesterday"}, "--since"},
		{[]string{"--since", "1h", "--from-seq", "2"}, "alternatives"},
		{[]string{"--rate", "-1"}, "--rate"},
		{[]string{"--to", "nats:doubletick"}, "captures"},
		{[]string{"--to", "nats:doubletick", "--filter", "doubletick.*.conversation.closed"}, "captures"},
		{[]string{"--dry-run", "--to", "nats:doubletick"}, "captures"},
		{[]string{"--replay.webhook_secret", "whsec_short"}, "replay.webhook_secret"},
	} {
		code, stdout, stderr := r.replay(tt.args...)
		if code != cli.ExitConfig || !strings.Contains(stderr, tt.want) || stdout != "" {
			t.Errorf("replay %v: exit %d, stderr %q; want exit 2 naming %q", tt.args, code, stderr, tt.want)
		}
	}
	if n := r.msgs(); n != 1 {
		t.Fatalf("stream holds %d messages, want 1", n)
	}
	// No server at the address: a runtime failure that says where it looked.
	var stderr bytes.Buffer
	if code := cli.Run(context.Background(), []string{"replay", "--embedded.listen", "127.0.0.1:1"}, io.Discard, &stderr); code != cli.ExitFailure || !strings.Contains(stderr.String(), "embedded.listen") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestReplayCLIToNATS(t *testing.T) {
	isolate(t)
	r := startBridge(t)
	for range 3 {
		r.deliver("CLOSE_CONVERSATION", "instagram")
	}
	nc, err := nats.Connect("nats://" + r.natsAt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sub, err := nc.SubscribeSync("replay.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := r.replay("--to", "nats:replay")
	if code != cli.ExitOK || stdout != "" || !strings.Contains(stderr, "3 sent, 0 failed") || !strings.Contains(stderr, "core NATS") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		orig := r.stored(seq)
		if m.Subject != "replay."+orig.Subject || !bytes.Equal(m.Data, orig.Data) || m.Header.Get("Dtbridge-Replay-Of") != fmt.Sprintf("DOUBLETICK:%d", seq) {
			t.Fatalf("copy %s %v, want replay.%s with Dtbridge-Replay-Of DOUBLETICK:%d", m.Subject, m.Header, orig.Subject, seq)
		}
	}
	if n := r.msgs(); n != 3 {
		t.Fatalf("source stream grew to %d", n)
	}
}

// hook is a receiving service: it fails the first `fail` requests with 500,
// verifies Standard Webhooks signatures with key (when set), and records
// every request.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
	ok     [][]byte
}

func newHook(t *testing.T, fail int, key []byte) *hook {
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.reqs = append(h.reqs, req)
		h.bodies = append(h.bodies, body)
		if key != nil {
			mac := hmac.New(sha256.New, key)
			fmt.Fprintf(mac, "%s.%s.", req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"))
			mac.Write(body)
			if !hmac.Equal([]byte(req.Header.Get("webhook-signature")), []byte("v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))) {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		if fail < 0 || len(h.reqs) <= fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		h.ok = append(h.ok, body)
	}))
	t.Cleanup(h.Close)
	return h
}

func TestReplayCLIToHTTP(t *testing.T) {
	isolate(t)
	r := startBridge(t)
	for range 4 {
		r.deliver("CLOSE_CONVERSATION", "whatsapp")
	}
	key := bytes.Repeat([]byte{0x42}, 32)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)

	t.Run("500 then 200 delivers everything, signed, without the bridge's tokens", func(t *testing.T) {
		h := newHook(t, 2, key)
		code, _, stderr := r.replay("--to", h.URL+"/events", "--replay.webhook_secret", secret,
			"--auth.tokens", bridgeToken, "--nats.name", "x")
		if code != cli.ExitOK || !strings.Contains(stderr, "4 sent, 0 failed") {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.ok) != 4 {
			t.Fatalf("%d delivered, want 4", len(h.ok))
		}
		for i, b := range h.ok {
			if !bytes.Equal(b, r.stored(uint64(i+1)).Data) {
				t.Fatalf("delivery %d is not the stored envelope", i)
			}
		}
		for i, req := range h.reqs {
			dump := fmt.Sprint(req.URL, req.Header) + string(h.bodies[i])
			if strings.Contains(dump, bridgeToken) || strings.Contains(dump, secret[6:]) {
				t.Fatalf("request %d carries a secret: %s", i, dump)
			}
		}
		if strings.Contains(stderr, secret[6:]) {
			t.Fatal("stderr shows the signing secret")
		}
	})
	t.Run("always failing exits non-zero with a summary", func(t *testing.T) {
		h := newHook(t, -1, nil)
		code, _, stderr := r.replay("--to", h.URL, "--max-attempts", "1")
		if code != cli.ExitFailure || !strings.Contains(stderr, "0 sent, 4 failed") || !strings.Contains(stderr, "4 of 4 events were not delivered") {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
	})
	t.Run("cloud metadata refused", func(t *testing.T) {
		code, _, stderr := r.replay("--to", "http://169.254.169.254/latest/meta-data/", "--max-attempts", "1")
		if code != cli.ExitFailure || !strings.Contains(stderr, "cloud-metadata") {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
	})
}

// syncBuffer is a bytes.Buffer safe to write from the command's goroutine
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestTailCLI(t *testing.T) {
	isolate(t)
	r := startBridge(t)
	r.deliver("CLOSE_CONVERSATION", "instagram")
	r.deliver("CONVERSATION_OPENED", "instagram")
	lastClosed := r.deliver("CLOSE_CONVERSATION", "whatsapp")

	for _, format := range []string{"json", "pretty"} {
		t.Run(format, func(t *testing.T) {
			second := lastClosed
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- cli.Run(ctx, []string{"tail", "--embedded.listen", r.natsAt, "--last", "1",
					"--filter", "doubletick.*.conversation.closed", "--format", format}, &stdout, &stderr)
			}()
			line := func(seq uint64) string { // what the line of seq holds
				if format == "json" {
					return string(replay.Line(r.stored(seq).Data))
				}
				return fmt.Sprintf("#%-6d doubletick.whatsapp.conversation.closed  io.doubletick.conversation.closed.v1", seq)
			}
			bridgetest.WaitFor(t, 10*time.Second, "the last stored event", func() error {
				if !strings.Contains(stdout.String(), line(second)) {
					return fmt.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
				}
				return nil
			})
			r.deliver("CONVERSATION_OPENED", "whatsapp")
			live := r.deliver("CLOSE_CONVERSATION", "whatsapp")
			lastClosed = live
			bridgetest.WaitFor(t, 10*time.Second, "the live event", func() error {
				if n := strings.Count(stdout.String(), "\n"); n < 2 {
					return fmt.Errorf("%d lines: %q", n, stdout.String())
				}
				return nil
			})
			cancel()
			if code := <-done; code != cli.ExitOK {
				t.Fatalf("tail exit %d: %s", code, stderr.String())
			}
			lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("tail printed %d lines, want 2 (the last stored closed event, then the live one):\n%s", len(lines), stdout.String())
			}
			for i, seq := range []uint64{second, live} {
				if format == "json" && lines[i] != line(seq) || !strings.Contains(lines[i], line(seq)) {
					t.Fatalf("line %d = %q, want %q", i, lines[i], line(seq))
				}
			}
		})
	}
	var stderr bytes.Buffer
	if code := cli.Run(context.Background(), []string{"tail", "--format", "xml"}, io.Discard, &stderr); code != cli.ExitConfig {
		t.Fatalf("--format xml: exit %d", code)
	}
}
