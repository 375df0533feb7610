// Package inprocess runs a dtbridge bridge inside the test process, on
// loopback ports, for tests of the packages built on top of it (the CLI,
// replay, the fault tests, the examples). It is separate from bridgetest
// because it imports pkg/bridge, which packages below the bridge (publish)
// cannot import from their tests.
package inprocess

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/dtbridge/dtbridge/pkg/bridge"
	"github.com/dtbridge/dtbridge/pkg/config"
)

// Config is a valid configuration for a bridge on a random loopback
// port, with its data in a temporary directory and token as its one webhook
// token. natsURL "" means an embedded server (on a random loopback port too).
func Config(tb testing.TB, natsURL, token string) config.Config {
	tb.Helper()
	cfg := config.Default()
	cfg.NATS.URL = natsURL
	cfg.Embedded.Listen = "127.0.0.1:0"
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Data.Dir = tb.TempDir()
	cfg.Auth.Tokens = []string{token}
	return cfg
}

// Start validates cfg, starts a bridge in-process and serves it; when
// the test ends it shuts the bridge down and checks that Serve returned
// cleanly. Failures call tb.Fatal (start) or tb.Error (stop).
func Start(tb testing.TB, cfg config.Config, logger *zap.Logger) *bridge.Bridge {
	tb.Helper()
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("inprocess: config: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := bridge.Start(ctx, cfg, logger)
	if err != nil {
		tb.Fatalf("inprocess: start bridge: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve() }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			tb.Errorf("inprocess: shutdown: %v", err)
		}
		if err := <-served; err != nil {
			tb.Errorf("inprocess: serve: %v", err)
		}
	})
	return b
}
