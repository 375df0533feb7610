package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"
)

// DefaultProgressEvery is how often progress lines are written when the
// progress writer is not a terminal.
const DefaultProgressEvery = 5 * time.Second

// Options tunes [Run].
type Options struct {
	// Rate caps events per second (0 = as fast as the sink takes them).
	Rate float64
	// DryRun counts the events in range without sending any.
	DryRun bool
	// Progress receives progress and one line per failed event (nil =
	// none). The summary is not written; see [Summary.String].
	Progress io.Writer
	// Terminal draws progress as one redrawn line (a bar) instead of
	// periodic lines.
	Terminal bool
	// ProgressEvery is the interval of periodic lines (default
	// DefaultProgressEvery) or bar redraws (default 100ms).
	ProgressEvery time.Duration
}

// Summary counts what a replay did.
type Summary struct {
	Matched  int // events read in range
	Sent     int // delivered to the sink
	Failed   int // not delivered
	FirstSeq uint64
	LastSeq  uint64
	DryRun   bool
	Elapsed  time.Duration
}

// String is the one-line summary, e.g.
// "replay: 12 events (seq 3..40), 11 sent, 1 failed, in 1.2s".
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "replay: %d events", s.Matched)
	if s.Matched > 0 {
		fmt.Fprintf(&b, " (seq %d..%d)", s.FirstSeq, s.LastSeq)
	}
	if s.DryRun {
		b.WriteString(", dry run: nothing sent")
	} else {
		fmt.Fprintf(&b, ", %d sent, %d failed", s.Sent, s.Failed)
	}
	fmt.Fprintf(&b, ", in %s", s.Elapsed.Round(time.Millisecond))
	return b.String()
}

// Run reads the range r of stream (see [Read]) and sends each event to sink,
// in order, at most o.Rate per second. A message the sink cannot deliver is
// counted as failed, reported on o.Progress, and the replay goes on; an
// error wrapping [ErrStop], a read error or the end of ctx ends it and is
// returned with the summary so far. Callers treat Summary.Failed > 0 as a
// failure too.
func Run(ctx context.Context, js jetstream.JetStream, stream string, r Range, sink Sink, o Options) (Summary, error) {
	began := time.Now()
	sum := Summary{DryRun: o.DryRun}
	var lim *rate.Limiter
	if o.Rate > 0 && !o.DryRun {
		lim = rate.NewLimiter(rate.Limit(o.Rate), 1)
	}
	p := newProgress(o, began)
	err := Read(ctx, js, stream, r, func(m Msg) error {
		if sum.Matched == 0 {
			sum.FirstSeq = m.Seq
		}
		sum.Matched++
		sum.LastSeq = m.Seq
		if o.DryRun {
			return nil
		}
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				sum.Matched-- // not attempted
				return err
			}
		}
		if err := sink.Send(ctx, m); err != nil {
			sum.Failed++
			if errors.Is(err, ErrStop) {
				return err
			}
			p.failure(m, err)
		} else {
			sum.Sent++
		}
		p.update(sum, m.Pending)
		return nil
	})
	if !o.DryRun {
		if ferr := sink.Flush(ctx); ferr != nil && err == nil {
			// Unflushed output is undelivered output.
			sum.Failed += sum.Sent
			sum.Sent = 0
			err = ferr
		}
	}
	sum.Elapsed = time.Since(began)
	p.finish()
	return sum, err
}

// progress writes progress to o.Progress.
type progress struct {
	w     io.Writer
	term  bool
	every time.Duration
	last  time.Time
	drawn bool
}

func newProgress(o Options, now time.Time) *progress {
	every := o.ProgressEvery
	switch {
	case every > 0:
	case o.Terminal:
		every = 100 * time.Millisecond // redraw the bar
	default:
		every = DefaultProgressEvery
	}
	return &progress{w: o.Progress, term: o.Terminal, every: every, last: now}
}

func (p *progress) failure(m Msg, err error) {
	if p.w == nil {
		return
	}
	p.clear()
	fmt.Fprintf(p.w, "replay: seq %d (%s) not delivered: %v\n", m.Seq, m.Subject, err)
}

func (p *progress) update(s Summary, pending uint64) {
	if p.w == nil || time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	done := s.Sent + s.Failed
	total := done + int(pending)
	if !p.term {
		fmt.Fprintf(p.w, "replay: %d/%d events, %d sent, %d failed\n", done, total, s.Sent, s.Failed)
		return
	}
	const width = 30
	filled := width
	if total > 0 {
		filled = done * width / total
	}
	fmt.Fprintf(p.w, "\rreplay [%s%s] %d/%d sent %d failed %d ", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, s.Sent, s.Failed)
	p.drawn = true
}

// clear ends a drawn progress bar line so the next output starts on its own line.
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\n")
		p.drawn = false
	}
}

func (p *progress) finish() {
	if p.w != nil {
		p.clear()
	}
}
