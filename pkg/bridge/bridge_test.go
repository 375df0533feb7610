package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	cejs "github.com/cloudevents/sdk-go/protocol/nats_jetstream/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/nats-io/nats.go"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/config"
)

// TestSeedDelivery: the Instagram close event, posted with the query token,
// is acknowledged with its seq only once stored; the stored message is a
// valid CloudEvent for the SDK's NATS JetStream reader, its data.raw is the
// delivery, and a wildcard subscriber receives it live.
func TestSeedDelivery(t *testing.T) {
	h := start(t, nil, nil)
	nc := h.srv.Conn(t)
	sub, err := nc.SubscribeSync("doubletick.*.conversation.closed")
	if err != nil {
		t.Fatal(err)
	}
	// The server knows of the subscription only after a round trip.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	body := fixture(t, "CLOSE_CONVERSATION", "instagram")

	r := h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json", body)
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if r.ack.Subject != "doubletick.instagram.conversation.closed" || r.ack.Type != "io.doubletick.conversation.closed.v1" ||
		r.ack.Stream != "DOUBLETICK" || r.ack.Seq != 1 || r.ack.Duplicate || r.ack.ID == "" {
		t.Fatalf("ack %+v", r.ack)
	}

	live, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("wildcard subscriber got nothing: %v", err)
	}
	stored := h.stored(r.ack.Seq)
	for name, m := range map[string]*nats.Msg{
		"live":   live,
		"stored": {Subject: stored.Subject, Header: stored.Header, Data: stored.Data},
	} {
		if ct := m.Header.Get("Content-Type"); ct != "application/cloudevents+json" {
			t.Errorf("%s: Content-Type %q", name, ct)
		}
		for k := range m.Header {
			if strings.HasPrefix(strings.ToLower(k), "ce-") {
				t.Errorf("%s: binary-mode header %s present", name, k)
			}
		}
		ev, err := binding.ToEvent(context.Background(), cejs.NewMessage(m))
		if err != nil {
			t.Fatalf("%s: CloudEvents SDK cannot read the message: %v", name, err)
		}
		if err := ev.Validate(); err != nil {
			t.Errorf("%s: invalid CloudEvent: %v", name, err)
		}
		if ev.ID() != r.ack.ID || ev.Type() != r.ack.Type || ev.Subject() != "customer_Ehrc3Ls7kS" ||
			ev.Source() != "doubletick/instagram/your_business_handle" {
			t.Errorf("%s: event %s", name, ev)
		}
		if got := m.Header.Get("Nats-Msg-Id"); got == "" || got != ev.Extensions()["dedupkey"] {
			t.Errorf("%s: Nats-Msg-Id %q, dedupkey %v", name, got, ev.Extensions()["dedupkey"])
		}
		var data struct{ Raw json.RawMessage }
		if err := json.Unmarshal(ev.Data(), &data); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data.Raw, bytes.TrimSpace(body)) {
			t.Errorf("%s: data.raw is not the delivery:\n%s", name, data.Raw)
		}
	}
}

// TestInferredRoute: the same payload without the event in the path gets
// the same type and subject (and, being the same event, deduplicates).
func TestInferredRoute(t *testing.T) {
	h := start(t, nil, nil)
	body := fixture(t, "CLOSE_CONVERSATION", "instagram")
	inferred := h.post("/v1/webhooks/doubletick", "application/json", body)
	explicit := h.post("/v1/webhooks/doubletick/conversation.closed", "application/json", body)
	if inferred.status != 202 || explicit.status != 202 {
		t.Fatalf("statuses %d %d", inferred.status, explicit.status)
	}
	if inferred.ack.Type != explicit.ack.Type || inferred.ack.Subject != explicit.ack.Subject {
		t.Errorf("inferred %+v, explicit %+v", inferred.ack, explicit.ack)
	}
	if !explicit.ack.Duplicate || explicit.ack.Seq != inferred.ack.Seq {
		t.Errorf("same event by both routes was not deduplicated: %+v", explicit.ack)
	}
}

// TestRedelivery: a second identical delivery is acknowledged as a
// duplicate with the original seq, and the stream grows by one.
func TestRedelivery(t *testing.T) {
	h := start(t, nil, nil)
	body := fixture(t, "CONVERSATION_OPENED", "whatsapp")
	first := h.post("/v1/webhooks/doubletick/CONVERSATION_OPENED", "application/json", body)
	second := h.post("/v1/webhooks/doubletick/CONVERSATION_OPENED", "application/json", body)
	if first.status != 202 || second.status != 202 {
		t.Fatalf("statuses %d %d", first.status, second.status)
	}
	if first.ack.Duplicate || !second.ack.Duplicate || second.ack.Seq != first.ack.Seq {
		t.Errorf("first %+v second %+v", first.ack, second.ack)
	}
	if second.ack.ID != first.ack.ID {
		t.Errorf("duplicate ack names event %s, the stored one is %s", second.ack.ID, first.ack.ID)
	}
	if n := h.msgs(); n != 1 {
		t.Errorf("stream has %d messages, want 1", n)
	}
}

// TestUnclassifiedIsQuarantinedAndAccepted: the inferred route cannot tell
// what this is, so it is stored in quarantine and answered 202 with the
// quarantine subject: the sender must not retry.
func TestUnclassifiedIsQuarantinedAndAccepted(t *testing.T) {
	h := start(t, nil, nil)
	body := fixture(t, "CALL_TO_WHATSAPP_MESSAGE_RECEIVED", "default") // never inferred: it is also a MESSAGE_RECEIVED
	r := h.post("/v1/webhooks/doubletick", "application/json", body)
	if r.status != 202 || r.ack.Subject != "doubletick.quarantine.unclassified" || r.ack.Type != "io.dtbridge.quarantine.v1" {
		t.Fatalf("%d %+v", r.status, r.ack)
	}
	m := h.stored(r.ack.Seq)
	var ev struct {
		Data struct {
			Reason     string
			BodyBase64 []byte
		}
	}
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Data.Reason != "unclassified" || !bytes.Equal(ev.Data.BodyBase64, body) {
		t.Errorf("quarantine data reason %q, body kept: %v", ev.Data.Reason, bytes.Equal(ev.Data.BodyBase64, body))
	}
}

// TestErrorStatuses: every error status of the contract table over a real
// socket, each with what was and was not stored.
func TestErrorStatuses(t *testing.T) {
	seed := fixture(t, "CLOSE_CONVERSATION", "instagram")
	big := []byte(`{"closeConversation":true,"pad":"` + strings.Repeat("x", 2048) + `"}`)
	for _, tc := range []struct {
		name       string
		mutate     func(*config.Config)
		prime      func(h *harness) // runs before the stream is measured
		send       func(h *harness) reply
		status     int
		code       string
		quarantine string // subject the body is kept on; "" = nothing stored
		retryAfter bool
	}{
		{
			name: "400 malformed JSON is quarantined",
			send: func(h *harness) reply {
				return h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json", []byte(`{"to":`))
			},
			status: 400, code: "malformed_body", quarantine: "doubletick.quarantine.malformed",
		},
		{
			name: "401 without credentials stores nothing",
			send: func(h *harness) reply {
				return h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION?channel=x", "application/json", seed)
			},
			status: 401, code: "unauthenticated",
		},
		{
			name: "401 with a wrong token stores nothing",
			send: func(h *harness) reply {
				return h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION?token=wrong", "application/json", seed)
			},
			status: 401, code: "unauthenticated",
		},
		{
			name:   "403 outside the allow-list stores nothing",
			mutate: func(c *config.Config) { c.Auth.AllowCIDRs = []string{"10.0.0.0/8"} },
			send: func(h *harness) reply {
				return h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json", seed)
			},
			status: 403, code: "forbidden",
		},
		{
			name: "404 unknown event in the path is quarantined",
			send: func(h *harness) reply {
				return h.post("/v1/webhooks/doubletick/NO_SUCH_EVENT", "application/json", seed)
			},
			status: 404, code: "unknown_event", quarantine: "doubletick.quarantine.unknown_event",
		},
		{
			name:   "413 over the limit stores nothing",
			mutate: func(c *config.Config) { c.Limits.MaxBody = 1024 },
			send: func(h *harness) reply {
				return h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json", big)
			},
			status: 413, code: "body_too_large",
		},
		{
			name: "415 unsupported media type is quarantined",
			send: func(h *harness) reply {
				return h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "text/plain", []byte("closed!"))
			},
			status: 415, code: "unsupported_media_type", quarantine: "doubletick.quarantine.unsupported_media_type",
		},
		{
			name:   "429 past the rate limit",
			mutate: func(c *config.Config) { c.Limits.Rate, c.Limits.Burst = 0.001, 1 },
			prime: func(h *harness) {
				if r := h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json", seed); r.status != 202 {
					h.t.Fatalf("first delivery: %d", r.status)
				}
			},
			send: func(h *harness) reply {
				return h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json", []byte(`{"closeConversation":true,"n":2}`))
			},
			status: 429, code: "rate_limited", retryAfter: true,
		},
		{
			name:   "405 wrong method",
			send:   func(h *harness) reply { return h.get("/v1/webhooks/doubletick/CLOSE_CONVERSATION") },
			status: 405, code: "method_not_allowed",
		},
		{
			name:   "404 unknown route",
			send:   func(h *harness) reply { return h.get("/nope") },
			status: 404, code: "not_found",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, nil, tc.mutate)
			if tc.prime != nil {
				tc.prime(h)
			}
			before := h.msgs()
			r := tc.send(h)
			if r.status != tc.status || r.err.Error.Code != tc.code {
				t.Fatalf("got %d %q, want %d %q: %s", r.status, r.err.Error.Code, tc.status, tc.code, r.body)
			}
			if got := r.header.Get("Retry-After"); tc.retryAfter != (got != "") {
				t.Errorf("Retry-After %q", got)
			}
			checkSecurityHeaders(t, r)
			after := h.msgs()
			if tc.quarantine == "" {
				if after != before {
					t.Errorf("stream grew from %d to %d; nothing should be stored", before, after)
				}
				return
			}
			if after != before+1 {
				t.Fatalf("stream grew from %d to %d; want the body in quarantine", before, after)
			}
			if m := h.stored(after); m.Subject != tc.quarantine {
				t.Errorf("stored on %s, want %s", m.Subject, tc.quarantine)
			}
		})
	}
}

func checkSecurityHeaders(t *testing.T, r reply) {
	t.Helper()
	if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("security headers missing: %v", r.header)
	}
	if r.status >= 400 && !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("error Content-Type %q", r.header.Get("Content-Type"))
	}
}

// TestFormBodies: DoubleTick's FORM_DATA option, urlencoded and multipart,
// becomes a JSON object in data.raw.
func TestFormBodies(t *testing.T) {
	h := start(t, nil, nil)
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	_ = w.WriteField("dtCustomerId", "customer_mp")
	_ = w.WriteField("channelType", "INSTAGRAM")
	_ = w.Close()
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		wantSubject       string
		wantRaw           string
	}{
		{"urlencoded", "application/x-www-form-urlencoded", []byte("dtCustomerId=customer_form&channelType=WHATSAPP&to=%2B91900"),
			"doubletick.whatsapp.conversation.closed", `{"channelType":"WHATSAPP","dtCustomerId":"customer_form","to":"+91900"}`},
		{"multipart", w.FormDataContentType(), mp.Bytes(),
			"doubletick.instagram.conversation.closed", `{"channelType":"INSTAGRAM","dtCustomerId":"customer_mp"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", tc.contentType, tc.body)
			if r.status != 202 || r.ack.Subject != tc.wantSubject {
				t.Fatalf("%d %+v %s", r.status, r.ack, r.body)
			}
			var ev struct{ Data struct{ Raw json.RawMessage } }
			if err := json.Unmarshal(h.stored(r.ack.Seq).Data, &ev); err != nil {
				t.Fatal(err)
			}
			if string(ev.Data.Raw) != tc.wantRaw {
				t.Errorf("raw %s, want %s", ev.Data.Raw, tc.wantRaw)
			}
		})
	}
}

// TestChunkedOverLimit: the limit holds on bytes read, with no
// Content-Length.
func TestChunkedOverLimit(t *testing.T) {
	h := start(t, nil, func(c *config.Config) { c.Limits.MaxBody = 1024 })
	body := strings.NewReader(`{"closeConversation":true,"pad":"` + strings.Repeat("y", 4096) + `"}`)
	req, _ := http.NewRequest(http.MethodPost, h.base+"/v1/webhooks/doubletick/CLOSE_CONVERSATION?token="+testToken, struct{ *strings.Reader }{body})
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "application/json")
	r := h.do(req)
	if r.status != 413 || h.msgs() != 0 {
		t.Fatalf("status %d, %d stored", r.status, h.msgs())
	}
}

// TestAuthForms: every credential form works, and both rotation tokens do.
func TestAuthForms(t *testing.T) {
	const second = "second-rotation-token-abcdefghijklmnop"
	h := start(t, nil, func(c *config.Config) {
		c.Auth.Tokens = []string{testToken, second}
		c.Auth.Basic = []string{"doubletick:pa:ss:word"}
		c.Auth.Header = "X-Dtbridge-Token"
	})
	for i, set := range []func(*http.Request){
		func(r *http.Request) { r.URL.RawQuery = "token=" + testToken },
		func(r *http.Request) { r.URL.RawQuery = "token=" + second },
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+second) },
		func(r *http.Request) { r.SetBasicAuth("doubletick", "pa:ss:word") },
		func(r *http.Request) { r.Header.Set("X-Dtbridge-Token", testToken) },
	} {
		req, _ := http.NewRequest(http.MethodPost, h.base+"/v1/webhooks/doubletick/CLOSE_CONVERSATION",
			strings.NewReader(fmt.Sprintf(`{"closeConversation":true,"dtCustomerId":"c%d"}`, i)))
		set(req)
		if r := h.do(req); r.status != 202 {
			t.Errorf("credential form %d: status %d", i, r.status)
		}
	}
	// No secret reaches the logs, whatever form it came in.
	for _, e := range h.logs.All() {
		line := fmt.Sprint(e.Message, e.ContextMap())
		for _, secret := range []string{testToken, second, "pa:ss:word"} {
			if strings.Contains(line, secret) {
				t.Errorf("log line carries a secret: %s", line)
			}
		}
	}
}

// TestBrokerOutage: with the broker down, deliveries get 503 + Retry-After
// once the publish budget is spent and /readyz says why; after a restart
// deliveries are accepted again, and every acknowledged event is stored.
func TestBrokerOutage(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
	const budget = 2 * time.Second
	h := start(t, srv, func(c *config.Config) {
		c.Publish.Timeout = budget
		c.Publish.AttemptTimeout = 500 * time.Millisecond
	})
	acked := map[uint64]bool{}
	deliver := func(i int) reply {
		r := h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json",
			[]byte(fmt.Sprintf(`{"closeConversation":true,"dtCustomerId":"customer_%d"}`, i)))
		if r.status == 202 {
			acked[r.ack.Seq] = true
		}
		return r
	}
	if r := deliver(0); r.status != 202 {
		t.Fatalf("before outage: %d", r.status)
	}
	if r := h.get("/readyz"); r.status != 200 {
		t.Fatalf("readyz before outage: %d", r.status)
	}

	srv.Shutdown()
	bridgetest.WaitFor(t, 2*time.Second, "/readyz to report the disconnect", func() error {
		if r := h.get("/readyz"); r.status != 503 || r.err.Error.Code != "not_ready" {
			return fmt.Errorf("readyz %d", r.status)
		}
		return nil
	})
	began := time.Now()
	r := deliver(1)
	took := time.Since(began)
	if r.status != 503 || r.err.Error.Code != "broker_unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("during outage: %d %s (Retry-After %q)", r.status, r.body, r.header.Get("Retry-After"))
	}
	if took > budget+time.Second {
		t.Errorf("503 took %v, budget is %v", took, budget)
	}
	// A malformed body cannot be kept in quarantine either: 503, not 400,
	// so the sender retries instead of believing it was kept.
	if r := h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json", []byte(`{"to":`)); r.status != 503 {
		t.Fatalf("malformed during outage: %d %s", r.status, r.body)
	}

	srv.Restart(t)
	bridgetest.WaitFor(t, 10*time.Second, "/readyz after restart", func() error {
		if r := h.get("/readyz"); r.status != 200 {
			return fmt.Errorf("readyz %d: %s", r.status, r.body)
		}
		return nil
	})
	for i := 2; i < 5; i++ {
		if r := deliver(i); r.status != 202 {
			t.Fatalf("after restart: %d %s", r.status, r.body)
		}
	}
	for seq := range acked {
		h.stored(seq) // fails the test if an acknowledged event is missing
	}
}

// TestOperationalEndpoints: health, schemas and metrics.
func TestOperationalEndpoints(t *testing.T) {
	h := start(t, nil, nil)
	if r := h.get("/healthz"); r.status != 200 {
		t.Errorf("healthz %d", r.status)
	}
	r := h.get("/v1/schemas/doubletick.conversation.closed.v1")
	var schema map[string]any
	if r.status != 200 || json.Unmarshal(r.body, &schema) != nil || schema["$schema"] == nil {
		t.Errorf("schema: %d %s", r.status, r.body)
	}
	if r := h.get("/v1/schemas/io.doubletick.conversation.opened.v1"); r.status != 200 {
		t.Errorf("schema by CloudEvents type: %d", r.status)
	}
	if r := h.get("/v1/schemas/dtbridge.quarantine.v1"); r.status != 200 {
		t.Errorf("quarantine schema: %d", r.status)
	}
	if r := h.get("/v1/schemas/doubletick.nope.v1"); r.status != 404 {
		t.Errorf("unknown schema: %d", r.status)
	}
	body := fixture(t, "CLOSE_CONVERSATION", "whatsapp")
	h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json", body)
	h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json", body)
	h.post("/v1/webhooks/doubletick", "application/json", []byte(`{"mystery":true}`))
	h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION?token=bad", "application/json", body)
	m := h.get("/metrics")
	for _, want := range []string{
		`dtbridge_events_total{channel="whatsapp",type="io.doubletick.conversation.closed.v1"} 1`,
		`dtbridge_duplicates_total{type="io.doubletick.conversation.closed.v1"} 1`,
		`dtbridge_quarantined_total{reason="unclassified"} 1`,
		`dtbridge_rejected_total{code="unauthenticated"} 1`,
		`dtbridge_http_requests_total{code="202",route="/v1/webhooks/doubletick/:event"} 2`,
		`dtbridge_publish_duration_seconds_count{outcome="acked"} 3`,
	} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(m.body), testToken) {
		t.Error("/metrics contains the token")
	}
}

// TestGracefulShutdownFinishesInFlight: a delivery waiting for the broker
// when the stop begins still gets its final answer — here a 202, because the
// broker comes back within the budget — while new connections are refused;
// the stop completes after it, and the event is stored.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
	h := start(t, srv, func(c *config.Config) { c.Publish.AttemptTimeout = 500 * time.Millisecond })
	srv.Shutdown()
	bridgetest.WaitFor(t, 2*time.Second, "/readyz to report the disconnect", func() error {
		if r := h.get("/readyz"); r.status != 503 {
			return fmt.Errorf("readyz %d", r.status)
		}
		return nil
	})

	answered := make(chan reply, 1)
	go func() {
		answered <- h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json", []byte(`{"closeConversation":true,"dtCustomerId":"in_flight"}`))
	}()
	bridgetest.WaitFor(t, 5*time.Second, "the delivery to be in flight", func() error {
		if m := h.get("/metrics"); !strings.Contains(string(m.body), "dtbridge_deliveries_in_flight 1") {
			return fmt.Errorf("not in flight yet")
		}
		return nil
	})

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		stopped <- h.b.Shutdown(ctx)
	}()
	bridgetest.WaitFor(t, 5*time.Second, "new connections to be refused", func() error {
		c, err := net.DialTimeout("tcp", h.b.Addr().String(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return fmt.Errorf("still accepting")
		}
		return nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("shutdown returned (%v) while a delivery was in flight", err)
	default:
	}

	srv.Restart(t)
	r := <-answered
	if r.status != 202 {
		t.Fatalf("in-flight delivery answered %d: %s", r.status, r.body)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	h.stored(r.ack.Seq)
}

// TestTraceParent: a well-formed W3C traceparent on the delivery is kept in
// the envelope; a malformed one is dropped.
func TestTraceParent(t *testing.T) {
	h := start(t, nil, nil)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for i, tc := range []struct{ header, want string }{{tp, tp}, {"not-a-trace", ""}} {
		req, _ := http.NewRequest(http.MethodPost, h.base+"/v1/webhooks/doubletick/CLOSE_CONVERSATION?token="+testToken,
			strings.NewReader(fmt.Sprintf(`{"closeConversation":true,"dtCustomerId":"trace_%d"}`, i)))
		req.Header.Set("traceparent", tc.header)
		r := h.do(req)
		if r.status != 202 {
			t.Fatalf("status %d", r.status)
		}
		var ev struct{ TraceParent string }
		if err := json.Unmarshal(h.stored(r.ack.Seq).Data, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.TraceParent != tc.want {
			t.Errorf("traceparent %q stored as %q, want %q", tc.header, ev.TraceParent, tc.want)
		}
	}
}

// TestConcurrentIdenticalDeliveries: DoubleTick may send the same event
// twice at once. 50 identical deliveries in parallel all get 202, all name
// the same seq, and the stream holds one copy.
func TestConcurrentIdenticalDeliveries(t *testing.T) {
	h := start(t, nil, nil)
	body := fixture(t, "CLOSE_CONVERSATION", "whatsapp")
	const n = 50
	replies := make(chan reply, n)
	for range n {
		go func() { replies <- h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json", body) }()
	}
	seqs := map[uint64]int{}
	fresh := 0
	for range n {
		r := <-replies
		if r.status != 202 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		seqs[r.ack.Seq]++
		if !r.ack.Duplicate {
			fresh++
		}
	}
	if len(seqs) != 1 || fresh != 1 || h.msgs() != 1 {
		t.Errorf("seqs %v, %d not duplicates, %d stored; want one of each", seqs, fresh, h.msgs())
	}
}

// TestConcurrentDeliveriesOwnSeq: many different deliveries at once, each
// sent twice, with publish.batch_max on (deliveries coalesced into atomic
// batches) and off. Every 202 names the seq that holds its own event (the
// stored envelope's id is the one the 202 gave), each event is stored
// once, and its two copies name the same seq, one of them as a duplicate.
func TestConcurrentDeliveriesOwnSeq(t *testing.T) {
	for _, batchMax := range []int{64, 0} {
		t.Run(fmt.Sprintf("batch_max=%d", batchMax), func(t *testing.T) {
			srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20), bridgetest.WithSyncAlways())
			h := start(t, srv, func(c *config.Config) { c.Publish.BatchMax = batchMax })
			const n = 60
			type delivery struct {
				i int
				r reply
			}
			replies := make(chan delivery, 2*n)
			for i := range 2 * n {
				body := fmt.Appendf(nil, `{"to":"+919000000000","customerName":"C","customerPhone":"+919111222333","dtCustomerId":"customer_%d","closeConversation":true}`, i%n)
				go func() {
					replies <- delivery{i % n, h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json", body)}
				}()
			}
			seqOf := map[int]uint64{}
			fresh := map[int]int{}
			for range 2 * n {
				d := <-replies
				if d.r.status != 202 {
					t.Fatalf("status %d: %s", d.r.status, d.r.body)
				}
				if s, ok := seqOf[d.i]; ok && s != d.r.ack.Seq {
					t.Errorf("delivery %d: copies got seq %d and %d", d.i, s, d.r.ack.Seq)
				}
				seqOf[d.i] = d.r.ack.Seq
				if !d.r.ack.Duplicate {
					fresh[d.i]++
				}
				var ev struct {
					ID   string `json:"id"`
					Data struct {
						Customer struct {
							ID string `json:"id"`
						} `json:"customer"`
					} `json:"data"`
				}
				if err := json.Unmarshal(h.stored(d.r.ack.Seq).Data, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.ID != d.r.ack.ID || ev.Data.Customer.ID != fmt.Sprintf("customer_%d", d.i) {
					t.Errorf("delivery %d: 202 says id %s seq %d; that seq holds id %s of %s", d.i, d.r.ack.ID, d.r.ack.Seq, ev.ID, ev.Data.Customer.ID)
				}
			}
			for i := range n {
				if fresh[i] != 1 {
					t.Errorf("delivery %d: %d copies answered as new, want 1", i, fresh[i])
				}
			}
			if got := h.msgs(); got != n {
				t.Errorf("%d stored, want %d", got, n)
			}
		})
	}
}
