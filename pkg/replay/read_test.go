package replay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/replay"
)

func TestReadBySequence(t *testing.T) {
	w := newWorld(t)
	for i := range 12 {
		w.publish([]string{"conversation.closed", "conversation.opened", "message.received"}[i%3])
	}
	tests := []struct {
		name string
		r    replay.Range
		keep func(seq uint64, subject string) bool
	}{
		{"whole stream", replay.Range{Filter: "doubletick.>"}, nil},
		{"from seq 5", replay.Range{Filter: "doubletick.>", FromSeq: 5}, func(seq uint64, _ string) bool { return seq >= 5 }},
		{"from the last seq", replay.Range{Filter: "doubletick.>", FromSeq: 12}, func(seq uint64, _ string) bool { return seq == 12 }},
		{"filter closed from 4", replay.Range{Filter: "doubletick.*.conversation.closed", FromSeq: 4},
			func(seq uint64, s string) bool { return seq >= 4 && strings.HasSuffix(s, ".conversation.closed") }},
		{"filter prefix", replay.Range{Filter: "doubletick.instagram.conversation.>"},
			func(_ uint64, s string) bool { return strings.Contains(s, ".conversation.") }},
		{"no filter", replay.Range{FromSeq: 11}, func(seq uint64, _ string) bool { return seq >= 11 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := w.stored(1, 12, nil)
			if tt.keep != nil {
				want = w.stored(1, 12, func(m *rawMsg) bool { return tt.keep(m.Sequence, m.Subject) })
			}
			sameMessages(t, w.read(tt.r), want)
		})
	}
}

func TestReadNothingInRange(t *testing.T) {
	w := newWorld(t)
	w.publish("conversation.closed")
	w.publish("conversation.closed")
	for name, r := range map[string]replay.Range{
		"seq after the end":      {Filter: "doubletick.>", FromSeq: 3},
		"time after the end":     {Filter: "doubletick.>", Since: time.Now().Add(time.Hour)},
		"filter matches none":    {Filter: "doubletick.*.message.received"},
		"until before the first": {Filter: "doubletick.>", Until: time.Now().Add(-time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			if got := w.read(r); len(got) != 0 {
				t.Fatalf("read %v, want nothing", seqsOf(got))
			}
		})
	}
	t.Run("empty stream", func(t *testing.T) {
		w := newWorld(t)
		if got := w.read(replay.Range{Filter: "doubletick.>"}); len(got) != 0 {
			t.Fatalf("read %v", seqsOf(got))
		}
	})
}

func TestReadRejectsSeqAndTime(t *testing.T) {
	w := newWorld(t)
	err := replay.Read(ctx(t), w.js, streamName, replay.Range{FromSeq: 1, Since: time.Now()}, func(replay.Msg) error { return nil })
	if !errors.Is(err, replay.ErrRange) {
		t.Fatalf("err = %v, want ErrRange", err)
	}
}

// TestReadByTime: batch A, then batch B stored strictly later; --since a
// time between them gives exactly B, --until the last A gives exactly A.
// The times are the stream's own timestamps, not the test's clock.
func TestReadByTime(t *testing.T) {
	w := newWorld(t)
	for range 4 {
		w.publish("conversation.closed")
	}
	w.publish("conversation.opened")
	lastA := w.stored(5, 5, nil)[0].Time
	// B must be stored after lastA: wait until the clock has moved on.
	bridgetest.WaitFor(t, 5*time.Second, "clock past the last A timestamp", func() error {
		if !time.Now().After(lastA) {
			return fmt.Errorf("now %s is not after %s", time.Now().Format(time.RFC3339Nano), lastA.Format(time.RFC3339Nano))
		}
		return nil
	})
	for range 3 {
		w.publish("conversation.closed")
	}
	w.publish("message.received")
	firstB := w.stored(6, 6, nil)[0].Time
	if !firstB.After(lastA) {
		t.Fatalf("stored times do not separate the batches: A ends %s, B starts %s", lastA, firstB)
	}
	between := lastA.Add(firstB.Sub(lastA) / 2)

	tests := []struct {
		name        string
		r           replay.Range
		first, last uint64
		keep        func(*rawMsg) bool
	}{
		{"since between", replay.Range{Filter: "doubletick.>", Since: between}, 6, 9, nil},
		{"since the first B", replay.Range{Filter: "doubletick.>", Since: firstB}, 6, 9, nil},
		{"until the last A", replay.Range{Filter: "doubletick.>", Until: lastA}, 1, 5, nil},
		{"until between", replay.Range{Filter: "doubletick.>", Until: between}, 1, 5, nil},
		{"since and until", replay.Range{Filter: "doubletick.>", Since: lastA, Until: firstB}, 5, 6, nil},
		{"since between, filtered", replay.Range{Filter: "doubletick.*.conversation.closed", Since: between}, 6, 9, isType("conversation.closed")},
		{"from seq, until", replay.Range{Filter: "doubletick.>", FromSeq: 3, Until: between}, 3, 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameMessages(t, w.read(tt.r), w.stored(tt.first, tt.last, tt.keep))
		})
	}
}

// TestReadStopsAtStart: messages stored while a replay runs are not part of
// it, so a replay of a busy stream ends.
func TestReadStopsAtStart(t *testing.T) {
	w := newWorld(t)
	for range 5 {
		w.publish("conversation.closed")
	}
	var got []replay.Msg
	err := replay.Read(ctx(t), w.js, streamName, replay.Range{Filter: "doubletick.>"}, func(m replay.Msg) error {
		if len(got) == 0 {
			for range 3 {
				w.publish("conversation.closed") // arrives during the replay
			}
		}
		got = append(got, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sameMessages(t, got, w.stored(1, 5, nil))
	if n := w.streamMsgs(); n != 8 {
		t.Fatalf("stream holds %d, want 8", n)
	}
}

func TestReadStopsOnCallbackError(t *testing.T) {
	w := newWorld(t)
	for range 3 {
		w.publish("conversation.closed")
	}
	boom := errors.New("boom")
	n := 0
	err := replay.Read(ctx(t), w.js, streamName, replay.Range{}, func(replay.Msg) error { n++; return boom })
	if !errors.Is(err, boom) || n != 1 {
		t.Fatalf("err = %v after %d calls, want boom after 1", err, n)
	}
}

func TestRunDryRunCountsWhatIsSent(t *testing.T) {
	w := newWorld(t)
	for i := range 9 {
		w.publish([]string{"conversation.closed", "conversation.opened", "conversation.closed"}[i%3])
	}
	r := replay.Range{Filter: "doubletick.*.conversation.closed", FromSeq: 2}
	dry, err := replay.Run(ctx(t), w.js, streamName, r, nil, replay.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	real, err := replay.Run(ctx(t), w.js, streamName, r, replay.NewLineSink(&out), replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := w.stored(2, 9, isType("conversation.closed"))
	if dry.Matched != len(want) || real.Sent != len(want) || real.Failed != 0 || dry.Sent != 0 {
		t.Fatalf("dry run %+v, real run %+v, want %d events", dry, real, len(want))
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i, m := range want {
		if lines[i] != string(replay.Line(m.Data)) {
			t.Fatalf("line %d = %q, want the stored envelope %q on one line", i, lines[i], m.Data)
		}
	}
	if !strings.Contains(dry.String(), "dry run") || !strings.Contains(real.String(), fmt.Sprintf("%d sent, 0 failed", len(want))) {
		t.Fatalf("summaries: %q / %q", dry, real)
	}
}

func TestLine(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1}`:                    `{"a":1}`,
		"{\n  \"a\": \"x\\ny\"\r\n}": "{   \"a\": \"x\\ny\"  }",
	} {
		if got := string(replay.Line([]byte(in))); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRunRateLimits(t *testing.T) {
	w := newWorld(t)
	for range 3 {
		w.publish("conversation.closed")
	}
	// A rate so low (one per 100 s) that the second event cannot be sent
	// before ctx ends: the limiter sees that at once and stops the run.
	c, cancel := context.WithTimeout(ctx(t), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	sum, err := replay.Run(c, w.js, streamName, replay.Range{}, replay.NewLineSink(&out), replay.Options{Rate: 0.01})
	if err == nil || sum.Sent != 1 {
		t.Fatalf("Run = %+v, %v; want 1 sent and an error from the rate limit", sum, err)
	}
}

func TestRunProgressLines(t *testing.T) {
	w := newWorld(t)
	for range 3 {
		w.publish("conversation.closed")
	}
	var progress, out bytes.Buffer
	sum, err := replay.Run(ctx(t), w.js, streamName, replay.Range{}, replay.NewLineSink(&out),
		replay.Options{Progress: &progress, ProgressEvery: time.Nanosecond})
	if err != nil || sum.Sent != 3 {
		t.Fatalf("Run = %+v, %v", sum, err)
	}
	for _, want := range []string{"replay: 1/3 events, 1 sent, 0 failed\n", "replay: 3/3 events, 3 sent, 0 failed\n"} {
		if !strings.Contains(progress.String(), want) {
			t.Fatalf("progress lacks %q:\n%s", want, progress.String())
		}
	}
	progress.Reset()
	if _, err := replay.Run(ctx(t), w.js, streamName, replay.Range{}, replay.NewLineSink(&out),
		replay.Options{Progress: &progress, Terminal: true, ProgressEvery: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	if s := progress.String(); !strings.HasPrefix(s, "\rreplay [") || !strings.Contains(s, "\rreplay [##############################] 3/3 sent 3 failed 0 ") || !strings.HasSuffix(s, "\n") {
		t.Fatalf("terminal progress %q: want a redrawn bar ended by a newline", s)
	}
}
