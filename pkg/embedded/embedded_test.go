package embedded_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dtbridge/dtbridge/pkg/embedded"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T, o embedded.Options) *embedded.Server {
	t.Helper()
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	s, err := embedded.Start(testCtx(t), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func jsOf(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

func createStream(t *testing.T, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	st, err := js.CreateStream(testCtx(t), jetstream.StreamConfig{
		Name:     "DT",
		Subjects: []string{"dt.>"},
		Storage:  jetstream.FileStorage,
	})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	return st
}

func TestStartInProcessAndTCP(t *testing.T) {
	s := start(t, embedded.Options{})
	ctx := testCtx(t)

	url := s.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":0") || strings.HasSuffix(url, ":4222") {
		t.Fatalf("ClientURL = %q, want nats://127.0.0.1:<random port>", url)
	}

	inproc := connect(t, "", s.InProcessOption())
	tcp := connect(t, url)
	if addr := tcp.ConnectedAddr(); addr == "" {
		t.Fatal("TCP connection has no remote address")
	}

	st := createStream(t, jsOf(t, inproc))
	for i, nc := range []*nats.Conn{inproc, tcp} {
		ack, err := jsOf(t, nc).Publish(ctx, "dt.event", []byte("hello"))
		if err != nil {
			t.Fatalf("publish via conn %d: %v", i, err)
		}
		if ack.Stream != "DT" || ack.Sequence != uint64(i+1) {
			t.Fatalf("PubAck = %+v, want stream DT seq %d", ack, i+1)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream has %d messages, want 2", info.State.Msgs)
	}
	if got := s.Server().Name(); got != embedded.DefaultServerName {
		t.Fatalf("server name = %q, want %q", got, embedded.DefaultServerName)
	}
}

func TestSyncAlwaysFromRunningServer(t *testing.T) {
	for _, want := range []bool{true, false} {
		t.Run(fmt.Sprint(want), func(t *testing.T) {
			s := start(t, embedded.Options{SyncAlways: want})
			if got := s.SyncAlways(); got != want {
				t.Fatalf("SyncAlways() = %v, want %v", got, want)
			}
			cfg := s.Server().JetStreamConfig()
			if cfg == nil || cfg.SyncAlways != want {
				t.Fatalf("running JetStream config %+v, want SyncAlways %v", cfg, want)
			}
		})
	}
}

func TestMaxPayload(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		s := start(t, embedded.Options{})
		if got := s.MaxPayload(); got != 1<<20 {
			t.Fatalf("MaxPayload() = %d, want default %d", got, 1<<20)
		}
	})

	t.Run("configured", func(t *testing.T) {
		const maxPayload = 4 << 20
		s := start(t, embedded.Options{MaxPayload: maxPayload})
		if got := s.MaxPayload(); got != maxPayload {
			t.Fatalf("MaxPayload() = %d, want %d", got, maxPayload)
		}
		nc := connect(t, "", s.InProcessOption())
		if got := nc.MaxPayload(); got != maxPayload {
			t.Fatalf("client sees max payload %d, want %d", got, maxPayload)
		}
		js := jsOf(t, nc)
		st := createStream(t, js)
		big := bytes.Repeat([]byte("x"), 3<<20) // > 1 MiB default, < configured
		ctx := testCtx(t)
		if _, err := js.Publish(ctx, "dt.big", big); err != nil {
			t.Fatalf("publish 3 MiB: %v", err)
		}
		msg, err := st.GetMsg(ctx, 1)
		if err != nil {
			t.Fatalf("get msg: %v", err)
		}
		if len(msg.Data) != len(big) {
			t.Fatalf("stored %d bytes, want %d", len(msg.Data), len(big))
		}
		if err := nc.Publish("dt.too-big", make([]byte, maxPayload+1)); !errors.Is(err, nats.ErrMaxPayload) {
			t.Fatalf("publish over max payload: err = %v, want ErrMaxPayload", err)
		}
	})

	t.Run("64MiB accepted", func(t *testing.T) {
		s := start(t, embedded.Options{MaxPayload: 64 << 20})
		if got := s.MaxPayload(); got != 64<<20 {
			t.Fatalf("MaxPayload() = %d, want %d", got, 64<<20)
		}
	})

	for _, bad := range []int32{64<<20 + 1, -1} {
		t.Run(fmt.Sprintf("reject %d", bad), func(t *testing.T) {
			s, err := embedded.Start(testCtx(t), embedded.Options{
				Listen: "127.0.0.1:0", StoreDir: t.TempDir(), MaxPayload: bad,
			})
			if err == nil {
				s.Shutdown()
				t.Fatal("Start succeeded, want error")
			}
			if !strings.Contains(err.Error(), "MaxPayload") {
				t.Fatalf("error %q does not mention MaxPayload", err)
			}
		})
	}
}

func TestRestartSameStoreDirKeepsStream(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet", "there")
	ctx := testCtx(t)

	s1, err := embedded.Start(ctx, embedded.Options{Listen: "127.0.0.1:0", StoreDir: dir, SyncAlways: true})
	if err != nil {
		t.Fatalf("first Start: %v", err)
	}
	t.Cleanup(s1.Shutdown)
	nc := connect(t, "", s1.InProcessOption())
	js := jsOf(t, nc)
	createStream(t, js)
	for i := range 5 {
		if _, err := js.Publish(ctx, "dt.e", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	nc.Close()
	s1.Shutdown()

	s2 := start(t, embedded.Options{StoreDir: dir})
	st, err := jsOf(t, connect(t, "", s2.InProcessOption())).Stream(ctx, "DT")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if info.State.Msgs != 5 {
		t.Fatalf("messages after restart = %d, want 5", info.State.Msgs)
	}
	last, err := st.GetMsg(ctx, 5)
	if err != nil {
		t.Fatalf("get msg 5: %v", err)
	}
	if string(last.Data) != "m4" {
		t.Fatalf("msg 5 = %q, want m4", last.Data)
	}
}

func TestShutdownIdempotent(t *testing.T) {
	s := start(t, embedded.Options{})
	nc := connect(t, s.ClientURL(), nats.NoReconnect())
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(s.Shutdown)
	}
	wg.Wait()
	s.Shutdown()

	if s.Server().Running() {
		t.Fatal("server running after Shutdown")
	}
	select {
	case <-closed:
	case <-testCtx(t).Done():
		t.Fatal("client was not disconnected by Shutdown")
	}
}

func TestStartErrors(t *testing.T) {
	t.Run("no store dir", func(t *testing.T) {
		if _, err := embedded.Start(testCtx(t), embedded.Options{Listen: "127.0.0.1:0"}); err == nil {
			t.Fatal("Start without StoreDir succeeded")
		}
	})
	t.Run("bad listen", func(t *testing.T) {
		if _, err := embedded.Start(testCtx(t), embedded.Options{Listen: "localhost", StoreDir: t.TempDir()}); err == nil {
			t.Fatal("Start with Listen without port succeeded")
		}
	})
	t.Run("port in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		began := time.Now()
		_, err = embedded.Start(testCtx(t), embedded.Options{Listen: ln.Addr().String(), StoreDir: t.TempDir()})
		if err == nil {
			t.Fatal("Start on a busy port succeeded")
		}
		if !strings.Contains(err.Error(), "listen") {
			t.Fatalf("error %q does not explain the listen failure", err)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Fatalf("Start took %s to fail, want fast failure", d)
		}
	})
	t.Run("ctx done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := embedded.Start(ctx, embedded.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Start with cancelled ctx: err = %v, want context.Canceled", err)
		}
	})
}

func TestLoggerReceivesServerLogs(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	start(t, embedded.Options{Logger: zap.New(core)})
	if logs.FilterMessageSnippet("Starting nats-server").Len() == 0 {
		t.Fatalf("no startup notice logged; got %d entries", logs.Len())
	}
	for _, e := range logs.All() {
		if e.ContextMap()["component"] != "nats-server" {
			t.Fatalf("log entry %q lacks component=nats-server", e.Message)
		}
	}
}
