package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dtbridge/dtbridge/pkg/bridge"
	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/cli"
	"github.com/dtbridge/dtbridge/pkg/config"
)

const closePath = "/v1/webhooks/doubletick/CLOSE_CONVERSATION"

// TestOversizedBodiesBounded is checklist H1: bodies far over
// limits.max_body, with Content-Length and chunked, get 413, store
// nothing, and cost the server far less memory than their size: the
// bridge never buffers past the limit.
func TestOversizedBodiesBounded(t *testing.T) {
	const maxBody = 64 << 10
	const size, n = 16 << 20, 8 // 8 concurrent 16 MiB bodies per mode: 256 MiB in all
	h := start(t, nil, func(c *config.Config) { c.Limits.MaxBody = maxBody })
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, chunked := range []bool{false, true} {
		statuses := make(chan int, n)
		for range n {
			go func() {
				s, err := bridgetest.PostOversized(h.b.Addr().String(), closePath+"?token="+testToken, size, chunked,
					"Content-Type: application/json")
				if err != nil {
					t.Error(err)
				}
				statuses <- s
			}()
		}
		for range n {
			if s := <-statuses; s != http.StatusRequestEntityTooLarge {
				t.Errorf("chunked=%v: status %d, want 413", chunked, s)
			}
		}
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d MiB sent, %d KiB allocated in this process meanwhile", 2*n*size>>20, alloc>>10)
	if limit := uint64(2 * n * 4 * maxBody); alloc > limit+8<<20 {
		t.Errorf("allocated %d bytes for %d oversized requests: more than a few times max_body each", alloc, 2*n)
	}
	if m := h.msgs(); m != 0 {
		t.Errorf("%d stored, want none", m)
	}
}

func multipartBody(t *testing.T, parts int, pad int) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.WriteField("closeConversation", "true")
	for i := 1; i < parts; i++ {
		_ = w.WriteField(fmt.Sprintf("f%d", i), strings.Repeat("v", pad))
	}
	_ = w.Close()
	return w.FormDataContentType(), b.Bytes()
}

// TestFormLimits is checklist H2: the body limit holds on the form paths
// too (urlencoded and multipart, with and without Content-Length), and
// limits.max_parts bounds the number of multipart parts; 413 stores
// nothing.
func TestFormLimits(t *testing.T) {
	const maxBody, maxParts = 4096, 10
	h := start(t, nil, func(c *config.Config) { c.Limits.MaxBody, c.Limits.MaxParts = maxBody, maxParts })
	bigForm := []byte("closeConversation=true&pad=" + strings.Repeat("p", 2*maxBody))
	mpBigType, mpBig := multipartBody(t, 2, 2*maxBody)
	mpManyType, mpMany := multipartBody(t, maxParts+1, 1)
	mpOKType, mpOK := multipartBody(t, maxParts, 1)
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		chunked           bool
		status            int
	}{
		{"urlencoded over the limit", "application/x-www-form-urlencoded", bigForm, false, 413},
		{"urlencoded over the limit, chunked", "application/x-www-form-urlencoded", bigForm, true, 413},
		{"multipart over the limit", mpBigType, mpBig, false, 413},
		{"multipart over the limit, chunked", mpBigType, mpBig, true, 413},
		{"multipart with max_parts+1 parts", mpManyType, mpMany, false, 413},
		{"multipart with max_parts parts", mpOKType, mpOK, false, 202},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.msgs()
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.chunked {
				body = struct{ io.Reader }{body}
			}
			req, _ := http.NewRequest(http.MethodPost, h.base+closePath+"?token="+testToken, body)
			req.Header.Set("Content-Type", tc.contentType)
			r := h.do(req)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			grew := h.msgs() - before
			if (tc.status == 413) != (grew == 0) {
				t.Errorf("stream grew by %d", grew)
			}
		})
	}
}

// TestContentTypes is checklist H3: media types are parsed, not compared
// as strings.
func TestContentTypes(t *testing.T) {
	h := start(t, nil, nil)
	for i, tc := range []struct {
		contentType string
		body        string
		status      int
	}{
		{"application/json; charset=utf-8", `{"closeConversation":true,"n":1}`, 202},
		{"APPLICATION/JSON", `{"closeConversation":true,"n":2}`, 202},
		{"", `{"closeConversation":true,"n":3}`, 202},
		{"text/plain", `{"closeConversation":true,"n":4}`, 202}, // a JSON object is JSON, whatever the label
		{"text/plain", `closed!`, 415},
		{"application/json", `closed!`, 400},
	} {
		if r := h.post(closePath, tc.contentType, []byte(tc.body)); r.status != tc.status {
			t.Errorf("%d: %q %q: status %d, want %d", i, tc.contentType, tc.body, r.status, tc.status)
		}
	}
}

// TestSlowHeaderClient is checklist H4: a client that sends its headers a
// byte at a time is cut off by http.read_header_timeout, and the
// goroutines it cost come back.
func TestSlowHeaderClient(t *testing.T) {
	const timeout = 500 * time.Millisecond
	h := start(t, nil, func(c *config.Config) { c.HTTP.ReadHeaderTimeout = timeout })
	if r := h.get("/healthz"); r.status != 200 {
		t.Fatal(r.status)
	}
	h.client.CloseIdleConnections()
	baseline := runtime.NumGoroutine()

	conn, err := net.Dial("tcp", h.b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := make(chan time.Time, 1)
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the server closes
		closed <- time.Now()
	}()
	began := time.Now()
	request := []byte("POST " + closePath + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: " + strings.Repeat("s", 1000))
	tick := time.NewTicker(100 * time.Millisecond) // the attack: one byte per tick
	defer tick.Stop()
	var at time.Time
loop:
	for _, c := range request {
		select {
		case at = <-closed:
			break loop
		case <-tick.C:
			if _, err := conn.Write([]byte{c}); err != nil {
				at = <-closed
				break loop
			}
		}
	}
	if at.IsZero() {
		t.Fatal("the server read 1000 header bytes at one a tick without closing the connection")
	}
	if took := at.Sub(began); took > timeout+2*time.Second {
		t.Errorf("connection closed after %v, read_header_timeout is %v", took, timeout)
	}
	bridgetest.WaitFor(t, 5*time.Second, "goroutines back to the baseline", func() error {
		if n := runtime.NumGoroutine(); n > baseline {
			return fmt.Errorf("%d goroutines, baseline %d", n, baseline)
		}
		return nil
	})
	if h.msgs() != 0 {
		t.Error("something was stored")
	}
}

var (
	codeRE   = regexp.MustCompile(`^[a-z_]+$`)
	leakedRE = regexp.MustCompile(`(?i)goroutine|\.go:\d|panic|127\.0\.0\.1|nats:|runtime error|0x[0-9a-f]{6}`)
)

// TestErrorBodiesAndHeaders is checklist H5: every non-2xx a sender can
// provoke (and /readyz while the broker is down) is the error shape with a
// stable code and a message free of Go error text, stack traces and
// internal addresses; every response, 2xx included, carries nosniff and
// no-store.
func TestErrorBodiesAndHeaders(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
	h := start(t, srv, func(c *config.Config) {
		c.Limits.MaxBody = 1024
		c.Limits.Rate, c.Limits.Burst = 0.001, 12
		c.Publish.Timeout, c.Publish.AttemptTimeout = time.Second, 500*time.Millisecond
	})
	ok := h.post(closePath, "application/json", []byte(`{"closeConversation":true}`))
	var replies []reply
	replies = append(replies,
		ok, h.get("/healthz"), h.get("/readyz"), h.get("/metrics"), h.get("/v1/schemas/doubletick.conversation.closed.v1"),
		h.post(closePath, "application/json", []byte(`{"to":`)),
		h.post(closePath+"?token=nope", "application/json", []byte(`{}`)),
		h.post("/v1/webhooks/doubletick/NOPE", "application/json", []byte(`{"a":1}`)),
		h.post(closePath, "application/json", bytes.Repeat([]byte("x"), 2048)),
		h.post(closePath, "text/plain", []byte("hello")),
		h.post(closePath, "application/json", []byte("{\"a\":\"\xff\"}")),
		h.get(closePath),
		h.get("/nowhere"),
		h.get("/v1/schemas/none"),
	)
	for range 12 {
		replies = append(replies, h.post(closePath, "application/json", []byte(`{"closeConversation":true,"r":1}`)))
	}
	srv.Shutdown()
	bridgetest.WaitFor(t, 5*time.Second, "readyz 503", func() error {
		if r := h.get("/readyz"); r.status != 503 {
			return fmt.Errorf("%d", r.status)
		}
		return nil
	})
	replies = append(replies, h.get("/readyz"))
	// The limiter allowed 12; this one is answered 429 before the broker is asked.
	replies = append(replies, h.post(closePath, "application/json", []byte(`{"closeConversation":true,"r":2}`)))
	seen := map[int]bool{}
	for _, r := range replies {
		seen[r.status] = true
		checkSecurityHeaders(t, r)
		if r.status < 400 {
			continue
		}
		e := r.err.Error
		if !codeRE.MatchString(e.Code) || e.Message == "" || e.ID == "" {
			t.Errorf("%d: error %+v", r.status, e)
		}
		if r.status != 503 || e.Code != "not_ready" { // readiness reasons are for operators
			if leakedRE.MatchString(e.Message) {
				t.Errorf("%d %s: message leaks internals: %q", r.status, e.Code, e.Message)
			}
		}
		if r.status == 429 && r.header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
	}
	for _, s := range []int{202, 400, 401, 404, 405, 413, 415, 429, 503} {
		if !seen[s] {
			t.Errorf("no %d among the answers checked", s)
		}
	}
}

// TestBrokerDownErrorBody: the 503 of a delivery that could not be stored
// (part of H5): shape, Retry-After, no internals.
func TestBrokerDownErrorBody(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
	h := start(t, srv, func(c *config.Config) {
		c.Publish.Timeout, c.Publish.AttemptTimeout = time.Second, 500*time.Millisecond
	})
	srv.Shutdown()
	r := h.post(closePath, "application/json", []byte(`{"closeConversation":true}`))
	if r.status != 503 || r.err.Error.Code != "broker_unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("%d %s %v", r.status, r.body, r.header)
	}
	checkSecurityHeaders(t, r)
	if leakedRE.MatchString(r.err.Error.Message) {
		t.Errorf("message leaks internals: %q", r.err.Error.Message)
	}
}

// TestAuthRejects is checklist S1's negative half (the accepted forms and
// rotation are TestAuthForms): wrong, empty and prefix-of-valid
// credentials in every position get 401 and store nothing. That secrets
// are compared in constant time over SHA-256 digests is checked in
// pkg/auth (TestNoSecretEquality, and here: the comparison code calls
// subtle.ConstantTimeCompare).
func TestAuthRejects(t *testing.T) {
	h := start(t, nil, func(c *config.Config) {
		c.Auth.Basic = []string{"doubletick:pa:ss:word"}
		c.Auth.Header = "X-Dtbridge-Token"
	})
	prefix := testToken[:len(testToken)-1]
	for i, set := range []func(*http.Request){
		func(r *http.Request) {},
		func(r *http.Request) { r.URL.RawQuery = "token=" },
		func(r *http.Request) { r.URL.RawQuery = "token=" + prefix },
		func(r *http.Request) { r.URL.RawQuery = "token=" + testToken + "x" },
		func(r *http.Request) { r.URL.RawQuery = "token=" + strings.ToUpper(testToken) },
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") },
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+prefix) },
		func(r *http.Request) { r.Header.Set("Authorization", testToken) }, // no scheme
		func(r *http.Request) { r.SetBasicAuth("doubletick", "pa:ss") },
		func(r *http.Request) { r.SetBasicAuth("doubletick", "") },
		func(r *http.Request) { r.SetBasicAuth("", "pa:ss:word") },
		func(r *http.Request) { r.Header.Set("X-Dtbridge-Token", "") },
		func(r *http.Request) { r.Header.Set("X-Dtbridge-Token", prefix) },
		func(r *http.Request) { r.Header.Set("X-Other-Token", testToken) },
	} {
		req, _ := http.NewRequest(http.MethodPost, h.base+closePath, strings.NewReader(`{"closeConversation":true}`))
		set(req)
		if r := h.do(req); r.status != 401 || r.err.Error.Code != "unauthenticated" {
			t.Errorf("credential %d: %d %s", i, r.status, r.body)
		}
	}
	if n := h.msgs(); n != 0 {
		t.Errorf("%d stored, want none", n)
	}
	src, err := os.ReadFile("../auth/auth.go")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(src), "subtle.ConstantTimeCompare("); n < 2 {
		t.Errorf("pkg/auth calls subtle.ConstantTimeCompare %d times; tokens and basic credentials must both use it", n)
	}
}

// TestSecretsNeverLeak is checklist S2: a load with known secrets in the
// query, in Bearer, in Basic and in a custom header, including wrong
// credentials that contain a real one, leaves no trace of any of them in
// the stream (events and quarantine), the logs (every field, debug level),
// /metrics, error bodies or `dtbridge config` output.
func TestSecretsNeverLeak(t *testing.T) {
	const (
		bearer = "bearer-secret-abcdefghijklmnopqrstuv"
		header = "header-secret-abcdefghijklmnopqrstuv"
		pass   = "basic-pass:with:colons-0123456789"
	)
	secrets := []string{testToken, bearer, header, pass}
	h := start(t, nil, func(c *config.Config) {
		c.Auth.Tokens = []string{testToken, bearer, header}
		c.Auth.Basic = []string{"dt:" + pass}
		c.Auth.Header = "X-Dtbridge-Token"
	})
	var bodies [][]byte
	for i, path := range []string{closePath, "/v1/webhooks/doubletick", "/v1/webhooks/doubletick/NOPE"} {
		for j, body := range []string{
			fmt.Sprintf(`{"closeConversation":true,"dtCustomerId":"c%d"}`, i),
			fmt.Sprintf(`{"mystery":%d}`, i),
			fmt.Sprintf(`{"broken":%d`, i),
		} {
			for k, set := range []func(*http.Request){
				func(r *http.Request) { r.URL.RawQuery = "token=" + testToken + "&channel=instagram" },
				func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+bearer) },
				func(r *http.Request) { r.SetBasicAuth("dt", pass) },
				func(r *http.Request) { r.Header.Set("X-Dtbridge-Token", header) },
				func(r *http.Request) { r.URL.RawQuery = "token=" + testToken + "WRONG" },
				func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+bearer+"x") },
			} {
				req, _ := http.NewRequest(http.MethodPost, h.base+path, strings.NewReader(body[:len(body)-1]+fmt.Sprintf(`,"k":%d}`, k)))
				if j == 2 {
					req, _ = http.NewRequest(http.MethodPost, h.base+path, strings.NewReader(body+fmt.Sprint(k)))
				}
				req.Header.Set("Content-Type", "application/json")
				set(req)
				bodies = append(bodies, h.do(req).body)
			}
		}
	}
	check := func(where string, b []byte) {
		t.Helper()
		for _, s := range secrets {
			if n := bytes.Count(b, []byte(s)); n != 0 {
				t.Errorf("%s contains a secret %d time(s)", where, n)
			}
		}
	}
	for _, b := range bodies {
		check("an answer body", b)
	}
	msgs, _, err := bridgetest.ReadStream(context.Background(), h.js, "DOUBLETICK")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) < 10 {
		t.Fatalf("only %d messages stored; the load did not run", len(msgs))
	}
	quarantined := 0
	for _, m := range msgs {
		check("stored message "+m.Subject, m.Data)
		hb, _ := json.Marshal(m.Header)
		check("stored headers", hb)
		if strings.Contains(m.Subject, ".quarantine.") {
			quarantined++
		}
	}
	if quarantined == 0 {
		t.Error("no quarantine message was checked")
	}
	for _, e := range h.logs.All() {
		line, _ := json.Marshal(map[string]any{"msg": e.Message, "fields": e.ContextMap()})
		check("log line", line)
	}
	check("/metrics", h.get("/metrics").body)

	var out, errOut bytes.Buffer
	args := []string{"config", "--auth.tokens", strings.Join([]string{testToken, bearer, header}, ","), "--auth.basic", "dt:" + pass}
	if code := cli.Run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("dtbridge config exited %d: %s", code, errOut.String())
	}
	check("dtbridge config output", append(out.Bytes(), errOut.Bytes()...))
}

// TestAuthDisabledWarns is checklist S4: with auth.disabled the bridge
// accepts deliveries without credentials, warns at start and again on a
// timer while it runs, and `dtbridge config` shows the setting.
func TestAuthDisabledWarns(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
	cfg := testConfig(t, srv.URL())
	cfg.Auth.Tokens, cfg.Auth.Disabled = nil, true
	core, logs := observer.New(zap.InfoLevel)
	b, err := bridge.Start(context.Background(), cfg, zap.New(core), bridge.WithAuthDisabledWarnEvery(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- b.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	}()
	resp, err := http.Post("http://"+b.Addr().String()+closePath, "application/json", strings.NewReader(`{"closeConversation":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("delivery without credentials: %d", resp.StatusCode)
	}
	bridgetest.WaitFor(t, 5*time.Second, "the start warning and two timed ones", func() error {
		n := 0
		for _, e := range logs.FilterLevelExact(zap.WarnLevel).All() {
			if strings.Contains(e.Message, "auth.disabled") {
				n++
			}
		}
		if n < 3 {
			return fmt.Errorf("%d warnings", n)
		}
		return nil
	})
	var out bytes.Buffer
	if code := cli.Run(context.Background(), []string{"config", "--auth.disabled"}, &out, io.Discard); code != 0 {
		t.Fatalf("config exited %d", code)
	}
	if !regexp.MustCompile(`(?m)^\s+disabled: true$`).Match(out.Bytes()) {
		t.Errorf("config output does not show auth.disabled:\n%s", out.String())
	}
}

// TestAllowListAndForwardedFor is checklist S5: outside auth.allow_cidrs is
// 403 with nothing stored; X-Forwarded-For is believed only from a peer in
// auth.trusted_proxies (the test's peer is 127.0.0.1).
func TestAllowListAndForwardedFor(t *testing.T) {
	for _, tc := range []struct {
		name           string
		allow, trusted []string
		xff            string
		status         int
	}{
		{"peer inside the list", []string{"127.0.0.0/8"}, nil, "", 202},
		{"peer outside the list", []string{"10.0.0.0/8"}, nil, "", 403},
		{"spoofed X-Forwarded-For from an untrusted peer", []string{"10.0.0.0/8"}, nil, "10.1.2.3", 403},
		{"X-Forwarded-For from a trusted proxy, client inside", []string{"10.0.0.0/8"}, []string{"127.0.0.1"}, "10.1.2.3", 202},
		{"X-Forwarded-For from a trusted proxy, client outside", []string{"10.0.0.0/8"}, []string{"127.0.0.1"}, "8.8.8.8", 403},
		{"client-supplied hop before the real one is ignored", []string{"10.0.0.0/8"}, []string{"127.0.0.1"}, "10.1.2.3, 8.8.8.8", 403},
		{"allowed peer, spoofed outside X-Forwarded-For, untrusted", []string{"127.0.0.0/8"}, nil, "8.8.8.8", 202},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, nil, func(c *config.Config) { c.Auth.AllowCIDRs, c.Auth.TrustedProxies = tc.allow, tc.trusted })
			req, _ := http.NewRequest(http.MethodPost, h.base+closePath+"?token="+testToken, strings.NewReader(`{"closeConversation":true}`))
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			r := h.do(req)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
			if want := uint64(map[bool]int{true: 1}[tc.status == 202]); h.msgs() != want {
				t.Errorf("%d stored, want %d", h.msgs(), want)
			}
		})
	}
}

// TestHostilePayloads: subject injection through payload values and the
// channel hint (checklist S8, end to end; FuzzSubjectToken is the unit
// half), deep nesting and invalid UTF-8 are answered with a 2xx or a 4xx,
// never a 5xx, and every stored subject has exactly the template's tokens.
func TestHostilePayloads(t *testing.T) {
	h := start(t, nil, func(c *config.Config) { c.Subject.Template = "{prefix}.{channel}.{account}.{type}" })
	subjectRE := regexp.MustCompile(`^doubletick\.([a-z0-9_-]+\.[a-z0-9_-]+\.conversation\.closed|quarantine\.[a-z_]+)$`)
	deep := func(n int) []byte {
		return []byte(`{"closeConversation":true,"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
	}
	for i, tc := range []struct {
		query string
		body  []byte
	}{
		{"", []byte(`{"closeConversation":true,"to":"evil.handle.*.>","channelType":"WHATSAPP"}`)},
		{"", []byte(`{"closeConversation":true,"to":"a b\tc\u0000d","channelType":"IN.STA>GRAM"}`)},
		{"&channel=whats.app.>", []byte(`{"closeConversation":true,"to":">"}`)},
		{"&channel=*", []byte(`{"closeConversation":true,"to":"*","from":"."}`)},
		{"", []byte(`{"closeConversation":true,"to":"` + strings.Repeat(".", 300) + `"}`)},
		{"", deep(5000)},
		{"", deep(20000)},
		{"", []byte("{\"closeConversation\":true,\"to\":\"\xff\xfe\"}")},
		{"", []byte("{\"closeConversation\":true,\"to\":\"\\ud800\"}")},
	} {
		req, _ := http.NewRequest(http.MethodPost, h.base+closePath+"?token="+testToken+tc.query, bytes.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		r := h.do(req)
		if r.status >= 500 || r.status == 0 {
			t.Errorf("%d: status %d: %s", i, r.status, r.body)
		}
	}
	if r := h.get("/healthz"); r.status != 200 {
		t.Fatalf("bridge unhealthy after hostile payloads: %d", r.status)
	}
	msgs, _, err := bridgetest.ReadStream(context.Background(), h.js, "DOUBLETICK")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if !subjectRE.MatchString(m.Subject) {
			t.Errorf("stored on %q: extra tokens or wildcards", m.Subject)
		}
		if m.Header.Get(jetstream.MsgIDHeader) == "" {
			t.Errorf("seq %d has no Nats-Msg-Id", m.Seq)
		}
	}
	if len(msgs) < 5 {
		t.Errorf("only %d stored", len(msgs))
	}
}
