package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/bridgetest/inprocess"
	"github.com/dtbridge/dtbridge/pkg/cli"
)

const bridgeToken = "bridge-token-0123456789-abcdefghij"

// dtbridge is the bridge as `make run` starts it (embedded JetStream), on
// random loopback ports.
type dtbridge struct {
	t       *testing.T
	base    string
	natsURL string
	js      jetstream.JetStream
	n       int
}

func startBridge(t *testing.T) *dtbridge {
	t.Helper()
	b := inprocess.Start(t, inprocess.Config(t, "", bridgeToken), zap.NewNop())
	js, err := jetstream.New(b.Conn())
	if err != nil {
		t.Fatal(err)
	}
	return &dtbridge{t: t, base: "http://" + b.Addr().String(), natsURL: b.Embedded().ClientURL(), js: js}
}

// deliver POSTs a DoubleTick fixture to the bridge as DoubleTick would,
// with a distinct customer name so that each delivery is a new event.
func (d *dtbridge) deliver(event, fixture string) string {
	d.t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", event, fixture+".json"))
	if err != nil {
		d.t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		d.t.Fatal(err)
	}
	d.n++
	name := fmt.Sprintf("Customer %d", d.n)
	body["customerName"] = name
	b, _ := json.Marshal(body)
	resp, err := http.Post(d.base+"/v1/webhooks/doubletick/"+event+"?token="+bridgeToken, "application/json", bytes.NewReader(b))
	if err != nil {
		d.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		d.t.Fatalf("delivery answered %d", resp.StatusCode)
	}
	return name
}

// output collects the service's log lines.
type output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) lines(substr string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, l := range strings.Split(o.b.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

func (o *output) waitLines(t *testing.T, substr string, n int) []string {
	t.Helper()
	var got []string
	bridgetest.WaitFor(t, 15*time.Second, fmt.Sprintf("%d lines with %q", n, substr), func() error {
		if got = o.lines(substr); len(got) < n {
			o.mu.Lock()
			defer o.mu.Unlock()
			return fmt.Errorf("output so far:\n%s", o.b.String())
		}
		return nil
	})
	return got
}

// startService runs the example service with args until the test ends.
func startService(t *testing.T, d *dtbridge, durable string, args ...string) *output {
	t.Helper()
	out := &output{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr output
	go func() {
		done <- run(ctx, append([]string{"--nats-url", d.natsURL, "--durable", durable}, args...), out, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("crm-sync exited %d: %s", code, stderr.b.String())
		}
	})
	bridgetest.WaitFor(t, 10*time.Second, "the durable consumer", func() error {
		_, err := d.js.Consumer(context.Background(), "DOUBLETICK", durable)
		return err
	})
	return out
}

func TestServiceReceivesPostedEvent(t *testing.T) {
	d := startBridge(t)
	out := startService(t, d, "crm-sync")
	name := d.deliver("CLOSE_CONVERSATION", "instagram")
	d.deliver("CONVERSATION_OPENED", "instagram") // filtered out
	name2 := d.deliver("CLOSE_CONVERSATION", "whatsapp")
	got := out.waitLines(t, "CRM: mark conversation closed", 2)
	for i, want := range []string{
		fmt.Sprintf("customer=customer_Ehrc3Ls7kS name=%q channel=instagram business=your_business_handle", name),
		fmt.Sprintf("name=%q channel=whatsapp", name2),
	} {
		if !strings.Contains(got[i], want) || !strings.Contains(got[i], "(stream DOUBLETICK seq ") {
			t.Fatalf("line %d = %q, want it to contain %q and the stream position", i, got[i], want)
		}
	}
	if !strings.Contains(got[1], "seq 3)") {
		t.Fatalf("second closed event should be seq 3 (the opened one is seq 2 and filtered): %q", got[1])
	}
}

// TestBackfillWithSince: a new durable consumer started with --since picks
// up events stored before it existed.
func TestBackfillWithSince(t *testing.T) {
	d := startBridge(t)
	d.deliver("CLOSE_CONVERSATION", "instagram")
	d.deliver("CLOSE_CONVERSATION", "whatsapp")
	out := startService(t, d, "crm-backfill", "--since", "24h")
	out.waitLines(t, "CRM: mark conversation closed", 2)
}

// TestReplayYesterdayIntoService is the README walkthrough: events stored
// before the service ran are replayed into it over HTTP, signed.
func TestReplayYesterdayIntoService(t *testing.T) {
	d := startBridge(t)
	var names []string
	for i := range 3 {
		names = append(names, d.deliver("CLOSE_CONVERSATION", []string{"instagram", "whatsapp"}[i%2]))
		d.deliver("CONVERSATION_OPENED", "whatsapp")
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	out := startService(t, d, "crm-sync", "--listen", "127.0.0.1:0", "--webhook-secret", secret)
	addr := regexp.MustCompile(`http://\S+/events`).FindString(strings.Join(out.waitLines(t, "accepting replayed events", 1), ""))
	if addr == "" {
		t.Fatal("the service did not say where it listens")
	}
	natsAt := strings.TrimPrefix(d.natsURL, "nats://")
	replayTo := func(extra ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		args := append([]string{"replay", "--embedded.listen", natsAt, "--since", "24h",
			"--filter", "doubletick.*.conversation.closed", "--to", addr}, extra...)
		code := cli.Run(ctx, args, &stdout, &stderr)
		return code, stderr.String()
	}

	// Unsigned: the service refuses every event (401 is not retried).
	if code, stderr := replayTo("--max-attempts", "1"); code != cli.ExitFailure || !strings.Contains(stderr, "0 sent, 3 failed") {
		t.Fatalf("unsigned replay: exit %d\n%s", code, stderr)
	}
	if code, stderr := replayTo("--replay.webhook_secret", secret); code != cli.ExitOK || !strings.Contains(stderr, "3 sent, 0 failed") {
		t.Fatalf("replay: exit %d\n%s", code, stderr)
	}
	got := out.waitLines(t, "CRM: mark conversation closed", 3)
	for i, name := range names {
		if !strings.Contains(got[i], fmt.Sprintf("name=%q", name)) || !strings.HasSuffix(got[i], "(replay over HTTP)") {
			t.Fatalf("line %d = %q, want %q replayed over HTTP", i, got[i], name)
		}
	}
	// Replaying again is harmless: the service applies each event once.
	if code, stderr := replayTo("--replay.webhook_secret", secret); code != cli.ExitOK {
		t.Fatalf("second replay: exit %d\n%s", code, stderr)
	}
	out.waitLines(t, "already applied", 3)
	if n := len(out.lines("CRM: mark conversation closed")); n != 3 {
		t.Fatalf("%d updates, want 3", n)
	}
}
