package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dtbridge/dtbridge/pkg/bridge"
	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/bridgetest/inprocess"
	"github.com/dtbridge/dtbridge/pkg/config"
	"github.com/dtbridge/dtbridge/pkg/ingress"
)

const testToken = "test-token-0123456789abcdefghijklmnop"

// harness is a bridge on a loopback port in front of a real in-process
// nats-server, with a JetStream client to look at what was stored.
type harness struct {
	t      *testing.T
	srv    *bridgetest.Server
	b      *bridge.Bridge
	base   string // http://127.0.0.1:PORT
	js     jetstream.JetStream
	logs   *observer.ObservedLogs
	client *http.Client
}

// start runs a bridge against srv (a new server when nil) with the test
// token configured; mutate adjusts the config first.
func start(t *testing.T, srv *bridgetest.Server, mutate func(*config.Config)) *harness {
	t.Helper()
	if srv == nil {
		srv = bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
	}
	cfg := testConfig(t, srv.URL())
	if mutate != nil {
		mutate(&cfg)
	}
	core, logs := observer.New(zap.DebugLevel)
	b := run(t, cfg, zap.New(core))
	return &harness{
		t: t, srv: srv, b: b, base: "http://" + b.Addr().String(), js: srv.JetStream(t), logs: logs,
		client: &http.Client{Timeout: 30 * time.Second},
	}
}

// testConfig is a valid configuration for a bridge on a loopback port with
// the test token, its own data dir, and natsURL ("" = an embedded server on
// a random loopback port).
func testConfig(tb testing.TB, natsURL string) config.Config {
	return inprocess.Config(tb, natsURL, testToken)
}

// run starts and serves a bridge, and shuts it down when the test ends.
func run(tb testing.TB, cfg config.Config, logger *zap.Logger) *bridge.Bridge {
	tb.Helper()
	return inprocess.Start(tb, cfg, logger)
}

// reply is an HTTP answer with its JSON body decoded.
type reply struct {
	status int
	header http.Header
	body   []byte
	ack    ingress.Ack
	err    struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			ID      string `json:"id"`
		} `json:"error"`
	}
}

// do sends req. It is safe to call from several goroutines: failures are
// reported with Errorf and a reply with status 0, never with Fatal.
func (h *harness) do(req *http.Request) reply {
	h.t.Helper()
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Errorf("%s %s: %v", req.Method, req.URL.Path, err)
		return reply{}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Errorf("%s %s: read body: %v", req.Method, req.URL.Path, err)
		return reply{}
	}
	r := reply{status: resp.StatusCode, header: resp.Header, body: body}
	if resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal(body, &r.ack); err != nil {
			h.t.Errorf("202 body %q: %v", body, err)
		}
	} else if resp.StatusCode >= 400 {
		if err := json.Unmarshal(body, &r.err); err != nil || r.err.Error.Code == "" || r.err.Error.Message == "" {
			h.t.Errorf("%d body is not the contract's error shape: %q", resp.StatusCode, body)
		}
	}
	return r
}

// post sends body to path (query token added unless path has a query)
// with the given Content-Type ("" for none).
func (h *harness) post(path, contentType string, body []byte) reply {
	h.t.Helper()
	if !strings.Contains(path, "?") {
		path += "?token=" + testToken
	}
	req, err := http.NewRequest(http.MethodPost, h.base+path, bytes.NewReader(body))
	if err != nil {
		h.t.Error(err)
		return reply{}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return h.do(req)
}

func (h *harness) get(path string) reply {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.base+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do(req)
}

// msgs is the number of messages in the stream.
func (h *harness) msgs() uint64 {
	h.t.Helper()
	s, err := h.js.Stream(context.Background(), "DOUBLETICK")
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return info.State.Msgs
}

// stored reads message seq from the stream (through the leader).
func (h *harness) stored(seq uint64) *jetstream.RawStreamMsg {
	h.t.Helper()
	s, err := h.js.Stream(context.Background(), "DOUBLETICK")
	if err != nil {
		h.t.Fatal(err)
	}
	m, err := s.GetMsg(context.Background(), seq)
	if err != nil {
		h.t.Fatalf("get seq %d: %v", seq, err)
	}
	return m
}

func fixture(t *testing.T, event, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", event, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func startServer(t *testing.T) *bridgetest.Server {
	t.Helper()
	return bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
}
