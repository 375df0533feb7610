package bridgetest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
)

func TestRestartKeepsPortAndStream(t *testing.T) {
	s := bridgetest.RunServer(t)
	port := s.Port()
	if port <= 0 {
		t.Fatalf("Port() = %d, want > 0", port)
	}
	if want := fmt.Sprintf("nats://127.0.0.1:%d", port); s.URL() != want {
		t.Fatalf("URL() = %q, want %q", s.URL(), want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js := s.JetStream(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     "EVENTS",
		Subjects: []string{"events.>"},
		Storage:  jetstream.FileStorage,
	}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, "events.x", fmt.Appendf(nil, "msg-%d", i)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}

	// A client that reconnects forever, to show it finds the server again.
	reconnected := make(chan struct{}, 1)
	nc := s.Conn(t, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) {
			select {
			case reconnected <- struct{}{}:
			default:
			}
		}))

	s.Restart(t)
	if got := s.Port(); got != port {
		t.Fatalf("port after restart = %d, want %d", got, port)
	}

	select {
	case <-reconnected:
	case <-ctx.Done():
		t.Fatalf("client did not reconnect after restart: %v", ctx.Err())
	}

	js2, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	var stream jetstream.Stream
	bridgetest.WaitFor(t, 10*time.Second, "stream EVENTS recovered", func() error {
		var err error
		stream, err = js2.Stream(ctx, "EVENTS")
		return err
	})
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if info.State.Msgs != 3 {
		t.Fatalf("messages after restart = %d, want 3", info.State.Msgs)
	}
	msg, err := stream.GetMsg(ctx, 2)
	if err != nil {
		t.Fatalf("get msg 2: %v", err)
	}
	if string(msg.Data) != "msg-1" {
		t.Fatalf("msg 2 data = %q, want %q", msg.Data, "msg-1")
	}
}

func TestShutdownIdempotentAndRestartAfterShutdown(t *testing.T) {
	s := bridgetest.RunServer(t)
	port := s.Port()
	s.Shutdown()
	s.Shutdown()
	if s.NATS().Running() {
		t.Fatal("server still running after Shutdown")
	}
	s.Restart(t)
	if s.Port() != port || !s.NATS().Running() {
		t.Fatalf("after restart: port %d running %v, want port %d running", s.Port(), s.NATS().Running(), port)
	}
	s.Conn(t)
}

func TestOptionsApplied(t *testing.T) {
	s := bridgetest.RunServer(t, bridgetest.WithSyncAlways(), bridgetest.WithMaxPayload(4<<20))
	if cfg := s.NATS().JetStreamConfig(); cfg == nil || !cfg.SyncAlways {
		t.Fatalf("JetStream SyncAlways not set: %+v", cfg)
	}
	if got := s.Conn(t).MaxPayload(); got != 4<<20 {
		t.Fatalf("MaxPayload = %d, want %d", got, 4<<20)
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key, ca := bridgetest.SelfSignedCert(t, dir)
	s := bridgetest.RunServer(t, bridgetest.WithTLS(cert, key))
	nc := s.Conn(t, nats.RootCAs(ca))
	if !nc.TLSRequired() {
		t.Fatal("TLS not required by server")
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}

	// The CA file really is what makes verification pass.
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("ca.pem holds no certificate")
	}
	_, err = nats.Connect(s.URL(), nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12}), nats.MaxReconnects(0))
	if err == nil {
		t.Fatal("connect without the CA succeeded, want verification error")
	}
}

func TestWaitForReturnsOnSuccess(t *testing.T) {
	n := 0
	bridgetest.WaitFor(t, time.Second, "third poll", func() error {
		n++
		if n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 3 {
		t.Fatalf("polled %d times, want 3", n)
	}
}

// fatalRecorder captures Fatalf instead of failing the real test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestWaitForTimesOutWithLastError(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		bridgetest.WaitFor(rec, 60*time.Millisecond, "the impossible", func() error {
			return errors.New("still false")
		})
	}()
	<-done
	for _, want := range []string{"the impossible", "still false"} {
		if !strings.Contains(rec.msg, want) {
			t.Fatalf("fatal message %q does not contain %q", rec.msg, want)
		}
	}
}
