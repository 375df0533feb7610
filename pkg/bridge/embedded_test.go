package bridge_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/dtbridge/dtbridge/pkg/bridge"
	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/config"
)

// TestEmbeddedServer: with no nats.url the bridge runs its own JetStream,
// which fsyncs every write before the ack by default (read from the running
// server), and whose max payload fits the envelope of a body of exactly
// limits.max_body bytes.
func TestEmbeddedServer(t *testing.T) {
	cfg := testConfig(t, "")
	b := run(t, cfg, zap.NewNop())
	if !b.Embedded().SyncAlways() {
		t.Error("embedded server does not fsync every write (embedded.sync: always is the default)")
	}

	// A JSON object of exactly limits.max_body bytes.
	head, tail := `{"closeConversation":true,"dtCustomerId":"customer_big","pad":"`, `"}`
	body := head + strings.Repeat("x", int(cfg.Limits.MaxBody)-len(head)-len(tail)) + tail
	if len(body) != int(cfg.Limits.MaxBody) {
		t.Fatalf("body is %d bytes", len(body))
	}
	resp, err := http.Post("http://"+b.Addr().String()+"/v1/webhooks/doubletick/CLOSE_CONVERSATION?token="+testToken,
		"application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("max_body delivery: %d", resp.StatusCode)
	}
}

// TestEmbeddedSyncInterval: the documented opt-out takes effect.
func TestEmbeddedSyncInterval(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Embedded.Sync = config.SyncInterval
	b := run(t, cfg, zap.NewNop())
	if b.Embedded().SyncAlways() {
		t.Error("embedded.sync: interval still fsyncs every write")
	}
}

// TestStreamNotManaged: with stream.manage false the bridge only checks the
// stream: it refuses to start without one, and uses an existing one that
// captures the prefix as it is.
func TestStreamNotManaged(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
	cfg := testConfig(t, srv.URL())
	cfg.Stream.Manage = false
	if _, err := bridge.Start(context.Background(), cfg, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("start without a stream: %v", err)
	}
	js := srv.JetStream(t)
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: "DOUBLETICK", Subjects: []string{"doubletick.>"}, MaxAge: time.Hour,
	}); err != nil {
		t.Fatal(err)
	}
	b, err := bridge.Start(context.Background(), cfg, zap.NewNop())
	if err != nil {
		t.Fatalf("start with an operator-made stream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	s, err := js.Stream(context.Background(), "DOUBLETICK")
	if err != nil {
		t.Fatal(err)
	}
	if s.CachedInfo().Config.MaxAge != time.Hour {
		t.Error("the bridge changed a stream it does not manage")
	}
}

// TestStartFailsOnBusyAddress: a taken http.addr fails Start with the key's
// name, and releases the broker connection it had made.
func TestStartFailsOnBusyAddress(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(8<<20))
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := testConfig(t, srv.URL())
	cfg.HTTP.Addr = taken.Addr().String()
	_, err = bridge.Start(context.Background(), cfg, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "http.addr") {
		t.Fatalf("err = %v, want one naming http.addr", err)
	}
	bridgetest.WaitFor(t, 5*time.Second, "the failed bridge's NATS connection to close", func() error {
		if n := srv.NATS().NumClients(); n != 0 {
			return fmt.Errorf("%d clients still connected", n)
		}
		return nil
	})
}
