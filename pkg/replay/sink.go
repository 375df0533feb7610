package replay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/envelope"
	"github.com/dtbridge/dtbridge/pkg/subject"
)

// HeaderReplayOf names the header every re-published or re-delivered event
// carries: "<stream>:<seq>" of the stored original.
const HeaderReplayOf = "Dtbridge-Replay-Of"

// Sink receives replayed messages, one at a time, in stream order.
type Sink interface {
	// Send delivers m or says why it could not. An error wrapping [ErrStop]
	// ends the whole replay; any other error counts m as not delivered and
	// the replay goes on with the next message.
	Send(ctx context.Context, m Msg) error
	// Flush delivers anything buffered. It is called once, at the end.
	Flush(ctx context.Context) error
}

// ErrStop marks a sink error after which sending more is pointless (the
// output is closed, the context ended).
var ErrStop = errors.New("replay stopped")

// ReplayOf is the [HeaderReplayOf] value for m.
func ReplayOf(m Msg) string { return m.Stream + ":" + strconv.FormatUint(m.Seq, 10) }

// Line returns the stored bytes as one line of JSON: exactly data when it
// holds no line break, otherwise data with each CR and LF replaced by a
// space. Valid JSON can only hold raw line breaks as insignificant
// whitespace (inside strings they are escaped), so the result is the same
// JSON value; the stored `raw` delivery is often pretty-printed.
func Line(data []byte) []byte {
	if !bytes.ContainsAny(data, "\r\n") {
		return data
	}
	out := make([]byte, len(data))
	for i, c := range data {
		if c == '\n' || c == '\r' {
			c = ' '
		}
		out[i] = c
	}
	return out
}

// LineSink writes each event as one line of JSON ([Line]) to a writer. It
// buffers; Flush writes the buffer out. It is not safe for concurrent use.
type LineSink struct {
	w *bufio.Writer
}

// NewLineSink returns a LineSink writing to w.
func NewLineSink(w io.Writer) *LineSink { return &LineSink{w: bufio.NewWriterSize(w, 64<<10)} }

// Send writes m's line. A write error wraps [ErrStop].
func (s *LineSink) Send(_ context.Context, m Msg) error {
	_, _ = s.w.Write(Line(m.Data))
	if err := s.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("write: %w: %w", ErrStop, err)
	}
	return nil
}

// Flush writes out buffered lines. A write error wraps [ErrStop].
func (s *LineSink) Flush(context.Context) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write: %w: %w", ErrStop, err)
	}
	return nil
}

// ErrCapturedPrefix is returned (wrapped) by [NewNATSSink] when the source
// stream would capture the re-published copies.
var ErrCapturedPrefix = errors.New("the source stream captures this prefix")

// NATSSink re-publishes each event under PREFIX.<original subject> with the
// stored headers (Content-Type, Nats-Msg-Id) plus [HeaderReplayOf]. When a
// stream captures the target subjects it publishes through JetStream and a
// message counts as sent only once acknowledged (a copy the target stream
// already held within its duplicate window is acknowledged as a duplicate
// and counted in [NATSSink.Duplicates]). Otherwise it publishes on core
// NATS, reaching only live subscribers, and Flush waits for the server to
// have received everything.
type NATSSink struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	prefix string
	stream string // the stream that stores the copies, "" for core NATS
	dups   atomic.Int64
}

// NewNATSSink checks prefix against source, the stream being replayed:
// when any of its subjects overlaps PREFIX.<filter> it returns an error
// wrapping [ErrCapturedPrefix], since the copies would land back in the
// source stream (and be dropped as duplicates, or loop). filter is the
// replay's subject filter ("" = every subject).
func NewNATSSink(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, source *jetstream.StreamInfo, filter, prefix string) (*NATSSink, error) {
	if prefix == "" || strings.ContainsAny(prefix, "*> \t\r\n") || strings.HasPrefix(prefix, ".") || strings.HasSuffix(prefix, ".") || strings.Contains(prefix, "..") {
		return nil, fmt.Errorf("nats prefix %q: must be one or more literal subject tokens", prefix)
	}
	if filter == "" {
		filter = ">"
	}
	target := prefix + "." + filter
	for _, s := range source.Config.Subjects {
		if subject.Overlap(s, target) {
			return nil, fmt.Errorf("nats:%s: %w: stream %s stores %q, which matches the copies' subjects %q; choose a prefix outside it, e.g. nats:replay",
				prefix, ErrCapturedPrefix, source.Config.Name, s, target)
		}
	}
	sink := &NATSSink{nc: nc, js: js, prefix: prefix}
	name, err := js.StreamNameBySubject(ctx, target)
	switch {
	case err == nil:
		sink.stream = name
	case errors.Is(err, jetstream.ErrStreamNotFound):
	default:
		return nil, fmt.Errorf("nats:%s: look up a stream for %s: %w", prefix, target, err)
	}
	return sink, nil
}

// Stream is the stream that stores the copies, or "" when they are
// published on core NATS.
func (s *NATSSink) Stream() string { return s.stream }

// Duplicates counts copies the target stream acknowledged as duplicates.
func (s *NATSSink) Duplicates() int64 { return s.dups.Load() }

// Send publishes m's copy.
func (s *NATSSink) Send(ctx context.Context, m Msg) error {
	out := nats.NewMsg(s.prefix + "." + m.Subject)
	for k, v := range m.Header {
		out.Header[k] = append([]string(nil), v...)
	}
	if out.Header.Get("Content-Type") == "" {
		out.Header.Set("Content-Type", envelope.ContentType)
	}
	out.Header.Set(HeaderReplayOf, ReplayOf(m))
	out.Data = m.Data
	if s.stream == "" {
		if err := s.nc.PublishMsg(out); err != nil {
			return fmt.Errorf("publish %s: %w", out.Subject, err)
		}
		return nil
	}
	ack, err := s.js.PublishMsg(ctx, out)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("publish %s: %w: %w", out.Subject, ErrStop, err)
		}
		return fmt.Errorf("publish %s: %w", out.Subject, err)
	}
	if ack.Duplicate {
		s.dups.Add(1)
	}
	return nil
}

// FlushTimeout bounds [NATSSink.Flush] when its context has no deadline.
const FlushTimeout = 30 * time.Second

// Flush waits until the server has received every core NATS publish, at
// most FlushTimeout when ctx has no deadline.
func (s *NATSSink) Flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, FlushTimeout)
		defer cancel()
	}
	if err := s.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}

var (
	_ Sink = (*LineSink)(nil)
	_ Sink = (*NATSSink)(nil)
	_ Sink = (*HTTPSink)(nil)
)
