package bridge_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dtbridge/dtbridge/pkg/bridge"
)

// TestGracefulStopLogs: a clean stop is not reported as a broker failure.
// The bridge drains its NATS connection on purpose, so the log says the
// connection was closed (info) and carries no "nats disconnected" warning,
// which operators alert on. (Before the fix the bridge replaced the
// connection state's closed handler while draining, and the drain was
// logged as a disconnect.)
func TestGracefulStopLogs(t *testing.T) {
	for _, embedded := range []bool{true, false} {
		url := ""
		if !embedded {
			url = startServer(t).URL()
		}
		core, logs := observer.New(zap.InfoLevel)
		b, err := bridge.Start(context.Background(), testConfig(t, url), zap.New(core))
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- b.Serve() }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := b.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		if n := logs.FilterMessage("nats disconnected").Len(); n != 0 {
			t.Errorf("embedded=%v: a graceful stop logged %d \"nats disconnected\" warning(s)", embedded, n)
		}
		if n := logs.FilterMessage("nats connection closed").Len(); n != 1 {
			t.Errorf("embedded=%v: \"nats connection closed\" logged %d times, want 1", embedded, n)
		}
	}
}
