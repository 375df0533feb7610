package replay_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
	"github.com/dtbridge/dtbridge/pkg/envelope"
	"github.com/dtbridge/dtbridge/pkg/replay"
)

const streamName = "DOUBLETICK"

// world is a real nats-server with the bridge's stream.
type world struct {
	t   *testing.T
	srv *bridgetest.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	n   int // events published so far
}

func newWorld(t *testing.T) *world {
	t.Helper()
	srv := bridgetest.RunServer(t)
	nc := srv.Conn(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx(t), jetstream.StreamConfig{
		Name: streamName, Subjects: []string{"doubletick.>"}, Duplicates: 2 * time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, srv: srv, nc: nc, js: js}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// publish stores one envelope of type typ ("conversation.closed") on
// doubletick.instagram.<typ> and returns its sequence. Its data holds a
// pretty-printed raw body, as real deliveries often do.
func (w *world) publish(typ string) uint64 {
	w.t.Helper()
	w.n++
	ev := envelope.New()
	ev.ID = fmt.Sprintf("evt-%04d", w.n)
	ev.Source = "doubletick/instagram/biz"
	ev.Type = envelope.TypePrefix + typ + ".v1"
	ev.Subject = fmt.Sprintf("customer_%d", w.n)
	ev.Time = time.Now()
	ev.ReceivedAt = ev.Time
	ev.DataSchema = "urn:dtbridge:schema:doubletick." + typ + ".v1"
	ev.Channel = "instagram"
	ev.DedupKey = fmt.Sprintf("key-%d", w.n)
	ev.Data = []byte(fmt.Sprintf("{\"channel\":\"instagram\",\"customer\":{\"id\":\"customer_%d\",\"name\":\"N%d\"},\"raw\":{\n  \"n\": %d\n}}", w.n, w.n, w.n))
	body, err := ev.MarshalJSON()
	if err != nil {
		w.t.Fatal(err)
	}
	m := nats.NewMsg("doubletick.instagram." + typ)
	m.Header.Set("Content-Type", envelope.ContentType)
	m.Header.Set(jetstream.MsgIDHeader, ev.DedupKey)
	m.Data = body
	ack, err := w.js.PublishMsg(ctx(w.t), m)
	if err != nil {
		w.t.Fatal(err)
	}
	return ack.Sequence
}

// stored walks the stream with GetMsg from seq first to last, keeping the
// messages that match keep.
func (w *world) stored(first, last uint64, keep func(*jetstream.RawStreamMsg) bool) []*jetstream.RawStreamMsg {
	w.t.Helper()
	s, err := w.js.Stream(ctx(w.t), streamName)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := first; seq <= last; seq++ {
		m, err := s.GetMsg(ctx(w.t), seq)
		if err != nil {
			w.t.Fatalf("GetMsg %d: %v", seq, err)
		}
		if keep == nil || keep(m) {
			out = append(out, m)
		}
	}
	return out
}

func (w *world) streamMsgs() uint64 {
	w.t.Helper()
	s, err := w.js.Stream(ctx(w.t), streamName)
	if err != nil {
		w.t.Fatal(err)
	}
	info, err := s.Info(ctx(w.t))
	if err != nil {
		w.t.Fatal(err)
	}
	return info.State.Msgs
}

func (w *world) info() *jetstream.StreamInfo {
	w.t.Helper()
	s, err := w.js.Stream(ctx(w.t), streamName)
	if err != nil {
		w.t.Fatal(err)
	}
	info, err := s.Info(ctx(w.t))
	if err != nil {
		w.t.Fatal(err)
	}
	return info
}

// read collects what replay.Read returns for r.
func (w *world) read(r replay.Range) []replay.Msg {
	w.t.Helper()
	var got []replay.Msg
	if err := replay.Read(ctx(w.t), w.js, streamName, r, func(m replay.Msg) error {
		got = append(got, m)
		return nil
	}); err != nil {
		w.t.Fatalf("Read(%+v): %v", r, err)
	}
	return got
}

// sameMessages fails unless got equals want: same sequences, subjects, data
// and headers, in order.
func sameMessages(t *testing.T, got []replay.Msg, want []*jetstream.RawStreamMsg) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d messages (%v), stream walk has %d (%v)", len(got), seqsOf(got), len(want), rawSeqs(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Seq != w.Sequence || g.Subject != w.Subject || string(g.Data) != string(w.Data) || !g.Time.Equal(w.Time) {
			t.Fatalf("message %d: got seq %d %s %q, stored seq %d %s %q", i, g.Seq, g.Subject, g.Data, w.Sequence, w.Subject, w.Data)
		}
		if g.Header.Get(jetstream.MsgIDHeader) != w.Header.Get(jetstream.MsgIDHeader) || g.Header.Get("Content-Type") != envelope.ContentType {
			t.Fatalf("message %d: headers %v, stored %v", i, g.Header, w.Header)
		}
	}
}

func seqsOf(ms []replay.Msg) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func rawSeqs(ms []*jetstream.RawStreamMsg) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.Sequence
	}
	return out
}

type rawMsg = jetstream.RawStreamMsg

func isType(typ string) func(*jetstream.RawStreamMsg) bool {
	return func(m *jetstream.RawStreamMsg) bool { return m.Subject == "doubletick.instagram."+typ }
}
