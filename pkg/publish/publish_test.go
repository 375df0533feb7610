package publish

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
)

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nats.ErrNoResponders, true},
		{jetstream.ErrNoStreamResponse, true},
		{context.DeadlineExceeded, true},
		{nats.ErrTimeout, true},
		{nats.ErrConnectionReconnecting, true},
		{nats.ErrReconnectBufExceeded, true},
		{fmt.Errorf("wrapped: %w", nats.ErrNoResponders), true},
		{&jetstream.APIError{Code: 400, ErrorCode: 10158, Description: "duplicate message id is in process"}, true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "jetstream temporarily unavailable"}, true},
		{&jetstream.APIError{Code: 400, ErrorCode: 10060, Description: "expected stream does not match"}, false},
		{nats.ErrMaxPayload, false},
		{nats.ErrConnectionClosed, false},
		{errors.New("something else"), false},
	} {
		if got := retryable(tc.err); got != tc.want {
			t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func newPublisher(t *testing.T, srv *bridgetest.Server, opts ...Option) *Publisher {
	t.Helper()
	nc := srv.Conn(t)
	if err := EnsureStream(context.Background(), nc, StreamConfig{
		Name: "TEST", Subjects: []string{"test.>"}, MaxAge: time.Hour, MaxBytes: -1, Replicas: 1, Duplicates: time.Minute,
	}, true); err != nil {
		t.Fatal(err)
	}
	p, err := New(nc, "TEST", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPublishDeduplicates: the same ID is stored once and acknowledged as a
// duplicate with the first seq; headers are set on the stored message.
func TestPublishDeduplicates(t *testing.T) {
	srv := bridgetest.RunServer(t)
	p := newPublisher(t, srv)
	ctx := context.Background()
	m := Msg{Subject: "test.a", ID: "id-1", Data: []byte(`{"id":"ev-1"}`), ContentType: "application/cloudevents+json"}
	first, err := p.Publish(ctx, m)
	if err != nil || first.Duplicate || first.Seq != 1 || first.Stream != "TEST" {
		t.Fatalf("first: %+v %v", first, err)
	}
	m.Data = []byte(`{"id":"ev-2"}`) // the server checks only the ID
	second, err := p.Publish(ctx, m)
	if err != nil || !second.Duplicate || second.Seq != 1 {
		t.Fatalf("second: %+v %v", second, err)
	}
	if id, err := p.StoredID(ctx, 1); err != nil || id != "ev-1" {
		t.Errorf("StoredID = %q, %v", id, err)
	}
	s, _ := srv.JetStream(t).Stream(ctx, "TEST")
	stored, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Header.Get(jetstream.MsgIDHeader) != "id-1" || stored.Header.Get("Content-Type") != "application/cloudevents+json" {
		t.Errorf("headers %v", stored.Header)
	}
}

// TestPublishWrongStream: a subject another stream captures is refused at
// once (Nats-Expected-Stream), not retried until the budget runs out.
func TestPublishWrongStream(t *testing.T) {
	srv := bridgetest.RunServer(t)
	p := newPublisher(t, srv, WithBudget(10*time.Second))
	if _, err := srv.JetStream(t).CreateStream(context.Background(), jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err := p.Publish(context.Background(), Msg{Subject: "other.x", ID: "x", Data: []byte("{}")})
	var be *BrokerError
	if !errors.As(err, &be) || be.Attempts != 1 {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("took %v: a permanent error was retried", took)
	}
}

// TestPublishTooLarge: a message over the server's max payload is refused
// before sending.
func TestPublishTooLarge(t *testing.T) {
	srv := bridgetest.RunServer(t, bridgetest.WithMaxPayload(1024))
	p := newPublisher(t, srv)
	_, err := p.Publish(context.Background(), Msg{Subject: "test.big", ID: "big", Data: make([]byte, 2048)})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

// TestPublishBudget: with the server gone, Publish gives up with a
// BrokerError after retrying within its budget.
func TestPublishBudget(t *testing.T) {
	srv := bridgetest.RunServer(t)
	const budget = time.Second
	p := newPublisher(t, srv, WithBudget(budget), WithAttemptTimeout(200*time.Millisecond))
	srv.Shutdown()
	began := time.Now()
	_, err := p.Publish(context.Background(), Msg{Subject: "test.a", ID: "id", Data: []byte("{}")})
	took := time.Since(began)
	var be *BrokerError
	if !errors.As(err, &be) || be.Attempts < 2 {
		t.Fatalf("err = %v (want a BrokerError after several attempts)", err)
	}
	if took > budget+time.Second {
		t.Errorf("gave up after %v, budget %v", took, budget)
	}
}
