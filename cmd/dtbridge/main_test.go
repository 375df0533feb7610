package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/ingress"
)

// binary is the dtbridge executable built once by TestMain.
var binary string

func TestMain(m *testing.M) { os.Exit(bridgetest.MainWithBinary(m, &binary)) }

const (
	startTimeout = 20 * time.Second
	exitTimeout  = 20 * time.Second
	seedURLPath  = "/v1/webhooks/doubletick/CLOSE_CONVERSATION"
	seedSubject  = "doubletick.instagram.conversation.closed"
	seedType     = "io.doubletick.conversation.closed.v1"
)

// proc is a running dtbridge (see bridgetest.Process).
type proc struct{ *bridgetest.Process }

// start runs the binary with args in an empty working directory, with no
// DTBRIDGE_* variables, and kills it in cleanup if it is still running.
func start(t *testing.T, args ...string) proc {
	t.Helper()
	return proc{bridgetest.StartProcess(t, binary, nil, args...)}
}

// listenAddr waits for the "dtbridge listening" log line and returns its addr.
func (p proc) listenAddr(t *testing.T) string {
	t.Helper()
	return p.Addr(t, startTimeout)
}

// stop sends SIGTERM and requires exit code 0 within exitTimeout.
func (p proc) stop(t *testing.T) {
	t.Helper()
	if code := p.Stop(t, exitTimeout); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0; stderr:\n%s", code, p.Stderr().String())
	}
}

var client = &http.Client{Timeout: 15 * time.Second}

func seed(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", "CLOSE_CONVERSATION", "instagram.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// do sends a request and returns the status and body.
func do(t *testing.T, method, url string, body []byte, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, b
}

// postSeed POSTs the seed fixture and requires a 202 with the seed's subject
// and type, stream DOUBLETICK and the given seq and duplicate flag.
func postSeed(t *testing.T, url string, header http.Header, wantSeq uint64, wantDup bool) {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	for k, vs := range header {
		h[k] = vs
	}
	status, body := do(t, http.MethodPost, url, seed(t), h)
	if status != http.StatusAccepted {
		t.Fatalf("POST seed: status %d, want 202; body %s", status, body)
	}
	var a ingress.Ack
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("POST seed: body %s: %v", body, err)
	}
	if a.Subject != seedSubject || a.Type != seedType || a.Stream != "DOUBLETICK" || a.ID == "" ||
		a.Seq != wantSeq || a.Duplicate != wantDup {
		t.Fatalf("POST seed: ack %+v, want subject %s type %s stream DOUBLETICK non-empty id seq %d duplicate %v",
			a, seedSubject, seedType, wantSeq, wantDup)
	}
}

func readToken(t *testing.T, dataDir string) string {
	t.Helper()
	path := filepath.Join(dataDir, "auth.token")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("token file mode = %04o, want 0600", perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		t.Fatal("token file is empty")
	}
	return tok
}

func TestServeEmbeddedSeedDelivery(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	args := []string{"serve", "--data.dir", dataDir, "--http.addr", "127.0.0.1:0", "--embedded.listen", "127.0.0.1:0"}

	p := start(t, args...)
	addr := p.listenAddr(t)
	token := readToken(t, dataDir)
	wantURL := "http://" + addr + seedURLPath + "?token=" + token
	banner := p.Stdout().WaitLine(t, startTimeout, "banner URL", func(s string) bool {
		return strings.Contains(s, "CLOSE_CONVERSATION?token=")
	})
	if !strings.Contains(banner, wantURL) {
		t.Fatalf("banner line %q does not contain %q", banner, wantURL)
	}
	if strings.Contains(p.Stderr().String(), token) {
		t.Fatal("the generated token appears in the logs")
	}

	base := "http://" + addr
	postSeed(t, base+seedURLPath+"?token="+token, nil, 1, false)
	postSeed(t, base+seedURLPath+"?token="+token, nil, 1, true)

	status, body := do(t, http.MethodPost, base+seedURLPath, seed(t), http.Header{"Content-Type": {"application/json"}})
	var eb struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if status != http.StatusUnauthorized || json.Unmarshal(body, &eb) != nil || eb.Error.Code != "unauthenticated" {
		t.Fatalf("POST without token: status %d body %s, want 401 with error code unauthenticated", status, body)
	}

	if status, body := do(t, http.MethodGet, base+"/readyz", nil, nil); status != http.StatusOK {
		t.Fatalf("GET /readyz: status %d body %s, want 200", status, body)
	}
	status, body = do(t, http.MethodGet, base+"/metrics", nil, nil)
	if status != http.StatusOK || !bytes.Contains(body, []byte("dtbridge_events_total")) {
		t.Fatalf("GET /metrics: status %d, want 200 with dtbridge_events_total; body:\n%s", status, body)
	}
	p.stop(t)

	// Restart on the same data dir: same token, and the JetStream state
	// (message and dedup window) survived.
	p2 := start(t, args...)
	addr2 := p2.listenAddr(t)
	if tok2 := readToken(t, dataDir); tok2 != token {
		t.Fatalf("token changed across restart: %q, want %q", tok2, token)
	}
	postSeed(t, "http://"+addr2+seedURLPath+"?token="+token, nil, 1, true)
	p2.stop(t)
}

func TestServeExternalNATS(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
	const token = "external-nats-token-0123456789ab" // 32 characters
	dataDir := filepath.Join(t.TempDir(), "data")

	p := start(t, "serve", "--nats.url", srv.URL(), "--auth.tokens", token,
		"--http.addr", "127.0.0.1:0", "--data.dir", dataDir)
	addr := p.listenAddr(t)
	postSeed(t, "http://"+addr+seedURLPath, http.Header{"Authorization": {"Bearer " + token}}, 1, false)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := srv.JetStream(t).Stream(ctx, "DOUBLETICK")
	if err != nil {
		t.Fatalf("stream DOUBLETICK: %v", err)
	}
	msg, err := stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("get msg 1: %v", err)
	}
	if msg.Subject != seedSubject {
		t.Errorf("stored subject = %q, want %q", msg.Subject, seedSubject)
	}
	var env struct {
		DedupKey string `json:"dedupkey"`
	}
	if err := json.Unmarshal(msg.Data, &env); err != nil {
		t.Fatalf("stored envelope is not JSON: %v\n%s", err, msg.Data)
	}
	if id := msg.Header.Get("Nats-Msg-Id"); id == "" || id != env.DedupKey {
		t.Errorf("Nats-Msg-Id = %q, want non-empty and equal to the envelope dedupkey %q", id, env.DedupKey)
	}
	if ct := msg.Header.Get("Content-Type"); ct != "application/cloudevents+json" {
		t.Errorf("Content-Type header = %q, want application/cloudevents+json", ct)
	}
	for k := range msg.Header {
		if strings.HasPrefix(strings.ToLower(k), "ce-") {
			t.Errorf("stored message has binary-mode CloudEvents header %q", k)
		}
	}
	p.stop(t)
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(binary, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("dtbridge version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "dtbridge") {
		t.Fatalf("version output %q does not contain dtbridge", out)
	}
}
