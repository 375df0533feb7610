package replay_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/replay"
)

func TestNATSSinkRefusesCapturedPrefix(t *testing.T) {
	w := newWorld(t)
	for _, tt := range []struct{ prefix, filter string }{
		{"doubletick", "doubletick.>"},
		{"doubletick", ""},
		{"doubletick.replay", "doubletick.*.conversation.closed"},
	} {
		_, err := replay.NewNATSSink(ctx(t), w.nc, w.js, w.info(), tt.filter, tt.prefix)
		if !errors.Is(err, replay.ErrCapturedPrefix) {
			t.Errorf("prefix %q filter %q: err = %v, want ErrCapturedPrefix", tt.prefix, tt.filter, err)
		}
	}
	for _, bad := range []string{"", "a.*", "a.>", "a..b", ".a", "a b"} {
		if _, err := replay.NewNATSSink(ctx(t), w.nc, w.js, w.info(), "doubletick.>", bad); err == nil {
			t.Errorf("prefix %q accepted", bad)
		}
	}
}

// TestNATSSinkCoreNATS: with no stream on the prefix the copies go to live
// subscribers, each with Dtbridge-Replay-Of, and the source stream does not
// grow.
func TestNATSSinkCoreNATS(t *testing.T) {
	w := newWorld(t)
	for i := range 6 {
		w.publish([]string{"conversation.closed", "conversation.opened"}[i%2])
	}
	subConn := w.srv.Conn(t)
	sub, err := subConn.SubscribeSync("replay.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := subConn.Flush(); err != nil {
		t.Fatal(err)
	}
	sink, err := replay.NewNATSSink(ctx(t), w.nc, w.js, w.info(), "doubletick.>", "replay")
	if err != nil {
		t.Fatal(err)
	}
	if sink.Stream() != "" {
		t.Fatalf("sink stores in %q, want core NATS", sink.Stream())
	}
	// A context without a deadline, as the CLI's signal context is.
	sum, err := replay.Run(context.Background(), w.js, streamName, replay.Range{Filter: "doubletick.>"}, sink, replay.Options{})
	if err != nil || sum.Sent != 6 || sum.Failed != 0 {
		t.Fatalf("Run = %+v, %v", sum, err)
	}
	want := w.stored(1, 6, nil)
	for i, m := range want {
		got, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("copy %d: %v", i, err)
		}
		checkCopy(t, got, m)
	}
	if n := w.streamMsgs(); n != 6 {
		t.Fatalf("source stream holds %d messages after the replay, want 6", n)
	}
}

func checkCopy(t *testing.T, got *nats.Msg, orig *jetstream.RawStreamMsg) {
	t.Helper()
	if got.Subject != "replay."+orig.Subject || string(got.Data) != string(orig.Data) {
		t.Fatalf("copy %s %q, want replay.%s with the stored bytes", got.Subject, got.Data, orig.Subject)
	}
	if h := got.Header.Get(replay.HeaderReplayOf); h != streamName+":"+itoa(orig.Sequence) {
		t.Fatalf("%s = %q, want %s:%d", replay.HeaderReplayOf, h, streamName, orig.Sequence)
	}
	if got.Header.Get("Content-Type") != "application/cloudevents+json" {
		t.Fatalf("Content-Type = %q", got.Header.Get("Content-Type"))
	}
}

// TestNATSSinkJetStream: when a stream captures the prefix the copies are
// stored there, acknowledged; replaying again within its duplicate window
// is acknowledged as duplicates, not stored twice.
func TestNATSSinkJetStream(t *testing.T) {
	w := newWorld(t)
	for range 4 {
		w.publish("conversation.closed")
	}
	if _, err := w.js.CreateStream(ctx(t), jetstream.StreamConfig{Name: "REPLAY", Subjects: []string{"replay.>"}}); err != nil {
		t.Fatal(err)
	}
	for run, wantDups := range []int64{0, 4} {
		sink, err := replay.NewNATSSink(ctx(t), w.nc, w.js, w.info(), "doubletick.*.conversation.closed", "replay")
		if err != nil {
			t.Fatal(err)
		}
		if sink.Stream() != "REPLAY" {
			t.Fatalf("sink stream = %q, want REPLAY", sink.Stream())
		}
		sum, err := replay.Run(ctx(t), w.js, streamName, replay.Range{Filter: "doubletick.*.conversation.closed"}, sink, replay.Options{})
		if err != nil || sum.Sent != 4 {
			t.Fatalf("run %d: %+v, %v", run, sum, err)
		}
		if sink.Duplicates() != wantDups {
			t.Fatalf("run %d: %d duplicates, want %d", run, sink.Duplicates(), wantDups)
		}
	}
	rs, err := w.js.Stream(ctx(t), "REPLAY")
	if err != nil {
		t.Fatal(err)
	}
	for i, orig := range w.stored(1, 4, nil) {
		m, err := rs.GetMsg(ctx(t), uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		checkCopy(t, &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}, orig)
	}
	if n := w.streamMsgs(); n != 4 {
		t.Fatalf("source stream holds %d, want 4", n)
	}
}

func TestFollow(t *testing.T) {
	w := newWorld(t)
	for i := range 7 {
		w.publish([]string{"conversation.closed", "conversation.opened"}[i%2])
	}
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	var mu sync.Mutex
	var got []replay.Msg
	done := make(chan error, 1)
	go func() {
		done <- replay.Follow(c, w.js, streamName, "doubletick.*.conversation.closed", 2, func(m replay.Msg) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, m)
			return nil
		})
	}()
	// The last 2 closed events are seqs 5 and 7; then live ones follow.
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	bridgetest.WaitFor(t, 5*time.Second, "the last 2 stored events", func() error {
		if n := count(); n < 2 {
			return fmt.Errorf("got %d", n)
		}
		return nil
	})
	w.publish("conversation.opened")
	live := w.publish("conversation.closed")
	bridgetest.WaitFor(t, 5*time.Second, "the live event", func() error {
		if n := count(); n < 3 {
			return fmt.Errorf("got %d", n)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Follow: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if s := seqsOf(got); len(s) != 3 || s[0] != 5 || s[1] != 7 || s[2] != live {
		t.Fatalf("followed seqs %v, want [5 7 %d]", s, live)
	}
}

func TestFollowLastMoreThanStored(t *testing.T) {
	w := newWorld(t)
	w.publish("conversation.closed")
	w.publish("conversation.opened")
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	got := make(chan uint64, 10)
	go func() {
		_ = replay.Follow(c, w.js, streamName, "", 100, func(m replay.Msg) error { got <- m.Seq; return nil })
	}()
	for want := uint64(1); want <= 2; want++ {
		select {
		case seq := <-got:
			if seq != want {
				t.Fatalf("seq %d, want %d", seq, want)
			}
		case <-c.Done():
			t.Fatal("nothing followed")
		}
	}
}

func itoa(n uint64) string { return fmt.Sprint(n) }
