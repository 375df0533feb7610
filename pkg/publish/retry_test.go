package publish

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
)

// TestRetryAfterLostAckReusesID is checklist X6, "a timeout is not proof
// of absence": the server stores the first attempt but its acknowledgement
// is held back (a proxy between client and server stops forwarding
// server→client bytes), so the attempt times out and Publish retries. The
// retry carries the same Nats-Msg-Id, so when the acknowledgements flow
// again the answer is Duplicate:true at the first store's seq, and the
// stream holds one message although the server received it at least twice.
func TestRetryAfterLostAckReusesID(t *testing.T) {
	srv := bridgetest.RunServer(t)
	px := newGateProxy(t, srv.URL())
	nc, err := nats.Connect(px.url(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := EnsureStream(context.Background(), nc, StreamConfig{
		Name: "TEST", Subjects: []string{"test.>"}, MaxAge: time.Hour, MaxBytes: -1, Replicas: 1, Duplicates: time.Minute,
	}, true); err != nil {
		t.Fatal(err)
	}
	p, err := New(nc, "TEST", WithBudget(20*time.Second), WithAttemptTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}

	// A direct subscriber counts the copies that reach the server.
	var copies atomic.Int64
	var idsMu sync.Mutex
	var ids []string
	if _, err := srv.Conn(t).Subscribe("test.>", func(m *nats.Msg) {
		idsMu.Lock()
		ids = append(ids, m.Header.Get(jetstream.MsgIDHeader))
		idsMu.Unlock()
		copies.Add(1)
	}); err != nil {
		t.Fatal(err)
	}

	px.hold()
	done := make(chan struct{})
	var rcpt Receipt
	var perr error
	go func() {
		defer close(done)
		rcpt, perr = p.Publish(context.Background(), Msg{Subject: "test.x6", ID: "x6-id", Data: []byte(`{"id":"ev"}`)})
	}()
	bridgetest.WaitFor(t, 10*time.Second, "the server to receive the message twice", func() error {
		if n := copies.Load(); n < 2 {
			return fmt.Errorf("%d copies", n)
		}
		return nil
	})
	px.release()
	<-done
	if perr != nil {
		t.Fatalf("publish: %v", perr)
	}
	if !rcpt.Duplicate || rcpt.Seq != 1 {
		t.Fatalf("receipt %+v, want Duplicate at seq 1 (the first attempt was stored, its ack lost)", rcpt)
	}
	idsMu.Lock()
	defer idsMu.Unlock()
	for _, id := range ids {
		if id != "x6-id" {
			t.Errorf("a retry carried Nats-Msg-Id %q, want x6-id", id)
		}
	}
	s, err := srv.JetStream(t).Stream(context.Background(), "TEST")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().State.Msgs; got != 1 {
		t.Fatalf("stream holds %d messages after %d copies reached the server, want 1", got, copies.Load())
	}
}

// gateProxy forwards one NATS client's TCP connection to a server, and can
// hold back what the server sends (acks included) until released.
type gateProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	held   bool
	cond   *sync.Cond
}

func newGateProxy(t *testing.T, serverURL string) *gateProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px := &gateProxy{ln: ln, target: strings.TrimPrefix(serverURL, "nats://")}
	px.cond = sync.NewCond(&px.mu)
	var conns sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		px.release()
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", px.target)
			if err != nil {
				in.Close()
				continue
			}
			conns.Add(2)
			go func() { defer conns.Done(); _, _ = io.Copy(out, in); out.Close() }()
			go func() { defer conns.Done(); px.copyGated(in, out); in.Close() }()
		}
	}()
	return px
}

func (px *gateProxy) url() string { return "nats://" + px.ln.Addr().String() }

func (px *gateProxy) hold() {
	px.mu.Lock()
	px.held = true
	px.mu.Unlock()
}

func (px *gateProxy) release() {
	px.mu.Lock()
	px.held = false
	px.mu.Unlock()
	px.cond.Broadcast()
}

// copyGated copies src to dst, waiting before each write while held.
func (px *gateProxy) copyGated(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			px.mu.Lock()
			for px.held {
				px.cond.Wait()
			}
			px.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
