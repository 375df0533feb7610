package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dtbridge/dtbridge/pkg/bridge"
	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/bridgetest/inprocess"
	"github.com/dtbridge/dtbridge/pkg/config"
	"github.com/dtbridge/dtbridge/pkg/ingress"
)

const (
	token       = "faulttest-token-0123456789abcdefghij"
	stream      = "DOUBLETICK"
	webhookPath = "/v1/webhooks/doubletick/CLOSE_CONVERSATION"
	keyField    = "dtCustomerId"
)

// eventBody is a CLOSE_CONVERSATION delivery whose customer id is key: the
// key makes it unique (its dedup key is a hash of the body) and lets the
// checker find it in the stream.
func eventBody(key string) []byte {
	return fmt.Appendf(nil, `{"closeConversation":true,"channelType":"WHATSAPP","to":"+919000000000","dtCustomerId":%q,"customerName":"Fault Test"}`, key)
}

// malformedBody is an authenticated delivery that is not JSON: the bridge
// must keep it in quarantine before answering 400.
func malformedBody(key string) []byte {
	return fmt.Appendf(nil, `{"closeConversation":true,"dtCustomerId":%q,`, key)
}

// freeAddr is a loopback address that was free a moment ago, so a
// restarted bridge listens where the senders already send.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startBridge runs an in-process bridge against natsURL with the test
// token, and shuts it down when the test ends. mutate adjusts the config.
func startBridge(t *testing.T, natsURL string, mutate func(*config.Config)) (*bridge.Bridge, string, *observer.ObservedLogs) {
	t.Helper()
	cfg := inprocess.Config(t, natsURL, token)
	if mutate != nil {
		mutate(&cfg)
	}
	core, logs := observer.New(zap.DebugLevel)
	b := inprocess.Start(t, cfg, zap.New(core))
	return b, "http://" + b.Addr().String(), logs
}

// load sends deliveries the way DoubleTick would, from many clients, and
// keeps the history in a checker. A delivery is resent, after a short
// pause, until it gets its wanted status: every answer without it (no
// answer at all, a 503) is "unknown" until then.
type load struct {
	t      *testing.T
	ck     *bridgetest.Checker
	client *http.Client
	base   atomic.Pointer[string]
	// genMu orders sends against restarts: a send holds it for reading
	// while it reads gen and talks to the bridge; a restart holds it for
	// writing while it bumps gen and starts the new process. So an attempt
	// tagged gen g was answered (if at all) by run g.
	genMu sync.RWMutex
	gen   int
	// completed counts deliveries that got their wanted status.
	completed atomic.Int64
	// retryWait is the pause between two sends of the same delivery.
	retryWait time.Duration
	// stopResending, when set, makes deliver give up after one attempt
	// that gets no answer (used to observe a stop without resending into
	// it).
	stopResending atomic.Bool
}

func newLoad(t *testing.T, base string, clients int) *load {
	l := &load{
		t:  t,
		ck: bridgetest.NewChecker(),
		client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: 0},
		},
		retryWait: 50 * time.Millisecond,
	}
	l.base.Store(&base)
	t.Cleanup(l.client.CloseIdleConnections)
	return l
}

// add registers n deliveries keyed prefix-000000…; every malformedEvery-th
// (0: none) is a malformed body that must be kept in quarantine (400).
func (l *load) add(prefix string, n, malformedEvery int) []string {
	keys := make([]string, n)
	for i := range n {
		k := fmt.Sprintf("%s-%06d", prefix, i)
		keys[i] = k
		if malformedEvery > 0 && i%malformedEvery == malformedEvery-1 {
			l.ck.Add(k, malformedBody(k), http.StatusBadRequest)
		} else {
			l.ck.Add(k, eventBody(k), http.StatusAccepted)
		}
	}
	return keys
}

// restart runs start as generation gen+1, with no send in progress.
func (l *load) restart(start func()) {
	l.genMu.Lock()
	defer l.genMu.Unlock()
	l.gen++
	start()
}

// attempt sends key once and records the outcome.
func (l *load) attempt(ctx context.Context, key string) bridgetest.Attempt {
	op := l.ck.Op(key)
	l.genMu.RLock()
	a := bridgetest.Attempt{Gen: l.gen, Sent: time.Now()}
	status, hdr, body, err := l.post(ctx, *l.base.Load()+webhookPath+"?token="+token, op.Body)
	l.genMu.RUnlock()
	a.Took = time.Since(a.Sent)
	a.Status = status
	a.RetryAfter = hdr.Get("Retry-After")
	switch {
	case err != nil:
		a.Err = err.Error()
	case status == http.StatusAccepted:
		var ack ingress.Ack
		if err := json.Unmarshal(body, &ack); err != nil {
			l.t.Errorf("%s: 202 body %q: %v", key, body, err)
		}
		a.Seq, a.Duplicate = ack.Seq, ack.Duplicate
	default:
		var eb struct {
			Error struct{ Code string } `json:"error"`
		}
		if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code == "" {
			l.t.Errorf("%s: %d body is not the error shape: %q", key, status, body)
		}
		a.Code = eb.Error.Code
	}
	l.ck.Record(key, a)
	return a
}

func (l *load) post(ctx context.Context, url string, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, http.Header{}, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, http.Header{}, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, http.Header{}, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

// deliver sends key until it gets its wanted status (or ctx ends). A
// status that is neither wanted nor retryable (5xx, no answer) fails the
// test: it would mean the bridge answered something false.
func (l *load) deliver(ctx context.Context, key string) {
	want := l.ck.Op(key).Want
	for ctx.Err() == nil {
		a := l.attempt(ctx, key)
		switch {
		case a.Status == want:
			l.completed.Add(1)
			return
		case a.Status == 0 && l.stopResending.Load():
			return
		case a.Status == 0, a.Status >= 500:
		default:
			l.t.Errorf("%s: answered %d %s, want %d", key, a.Status, a.Code, want)
			return
		}
		pause(ctx, l.retryWait)
	}
}

// run delivers keys from clients concurrent senders and returns when every
// delivery is done or ctx ends.
func (l *load) run(ctx context.Context, keys []string, clients int) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for k := range work {
				l.deliver(ctx, k)
			}
		})
	}
	for _, k := range keys {
		select {
		case work <- k:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
}

// pause waits d or until ctx ends: a sender's backoff, not synchronization.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// waitProgress waits until at least n deliveries are done.
func (l *load) waitProgress(t *testing.T, n int64, timeout time.Duration) {
	t.Helper()
	bridgetest.WaitFor(t, timeout, fmt.Sprintf("%d deliveries done", n), func() error {
		if got := l.completed.Load(); got < n {
			return fmt.Errorf("%d done", got)
		}
		return nil
	})
}

// scrape reads base's /metrics into series → value ("name{labels}" as
// printed, and the bare name summed over its labels).
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		series := line[:i]
		out[series] = v
		name, _, _ := strings.Cut(series, "{")
		if name != series {
			out[name] += v
		}
	}
	return out
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
