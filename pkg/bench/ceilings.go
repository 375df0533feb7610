package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/delivery"
	"github.com/dtbridge/dtbridge/pkg/envelope"
	"github.com/dtbridge/dtbridge/pkg/loadgen"
	"github.com/dtbridge/dtbridge/pkg/publish"
)

// bareStream is the stream of the bare-publish ceilings: configured like the
// bridge's (file storage, limits, 2 min dedup window), on its own subjects.
const bareStream = "BARE"

// barePublish is ceiling J (or J1): JetStream publish of the envelopes
// (round robin), each with a unique Nats-Msg-Id and the headers the bridge
// sets, from conc goroutines. Sync: each goroutine waits for every ack.
// Async: each keeps window acks in flight.
func barePublish(ctx context.Context, natsURL string, envelopes [][]byte, conc int, warmup, d time.Duration, async bool, run string) (loadgen.Result, error) {
	nc, err := nats.Connect(natsURL, nats.Name("dtbench"))
	if err != nil {
		return loadgen.Result{}, err
	}
	defer nc.Close()
	if err := publish.EnsureStream(ctx, nc, publish.StreamConfig{
		Name: bareStream, Subjects: []string{"bare.>"}, MaxAge: time.Hour, MaxBytes: -1, Replicas: 1, Duplicates: 2 * time.Minute,
	}, true); err != nil {
		return loadgen.Result{}, err
	}
	const window = 16
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(conc*window*2))
	if err != nil {
		return loadgen.Result{}, err
	}
	var (
		next      atomic.Uint64
		begin     = time.Now()
		measureAt = begin.Add(warmup)
		endAt     = measureAt.Add(d)
		mu        sync.Mutex
		lat       []time.Duration
		accepted  int
		errs      = map[string]int{}
		wg        sync.WaitGroup
	)
	msgFor := func(n uint64) *nats.Msg {
		return &nats.Msg{
			Subject: "bare.whatsapp.conversation.closed",
			Data:    envelopes[int(n%uint64(len(envelopes)))],
			Header: nats.Header{
				jetstream.MsgIDHeader:          []string{"bare-" + run + "-" + strconv.FormatUint(n, 10)},
				jetstream.ExpectedStreamHeader: []string{bareStream},
				publish.HeaderContentType:      []string{envelope.ContentType},
			},
		}
	}
	for range conc {
		wg.Go(func() {
			var (
				my      []time.Duration
				ok      int
				myErrs  = map[string]int{}
				pending []pendingAck
			)
			record := func(sent time.Time, err error) {
				done := time.Now()
				if sent.Before(measureAt) || done.After(endAt) {
					return
				}
				my = append(my, done.Sub(sent))
				if err != nil {
					myErrs[err.Error()]++
					return
				}
				ok++
			}
			wait := func(p pendingAck) {
				select {
				case <-p.f.Ok():
					record(p.sent, nil)
				case err := <-p.f.Err():
					record(p.sent, err)
				case <-time.After(10 * time.Second):
					record(p.sent, fmt.Errorf("no ack in 10s"))
				}
			}
			for time.Now().Before(endAt) && ctx.Err() == nil {
				n := next.Add(1)
				sent := time.Now()
				if !async {
					_, err := js.PublishMsg(ctx, msgFor(n))
					record(sent, err)
					continue
				}
				f, err := js.PublishMsgAsync(msgFor(n))
				if err != nil {
					record(sent, err)
					continue
				}
				pending = append(pending, pendingAck{f, sent})
				if len(pending) >= window {
					wait(pending[0])
					pending = pending[1:]
				}
			}
			for _, p := range pending {
				wait(p)
			}
			mu.Lock()
			lat = append(lat, my...)
			accepted += ok
			for k, v := range myErrs {
				errs[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return summarize(lat, accepted, errs, d), nil
}

type pendingAck struct {
	f    jetstream.PubAckFuture
	sent time.Time
}

func summarize(lat []time.Duration, accepted int, errs map[string]int, d time.Duration) loadgen.Result {
	r := loadgen.Result{Requests: len(lat), Accepted: accepted, Errors: errs, Elapsed: d, RPS: float64(accepted) / d.Seconds()}
	if len(lat) > 0 {
		slices.Sort(lat)
		at := func(p float64) time.Duration { return lat[min(max(int(float64(len(lat))*p+0.5)-1, 0), len(lat)-1)] }
		r.P50, r.P90, r.P99, r.Max = at(0.5), at(0.9), at(0.99), lat[len(lat)-1]
	}
	return r
}

// pureResult is T5 for one fixture.
type pureResult struct {
	Fixture     string
	NsPerOp     float64
	AllocsPerOp int64
	BytesPerOp  int64
}

// purePath measures delivery.Converter.Convert (lookup, parse,
// normalization, dedup key, envelope validation and encoding) per fixture
// with Go's benchmark machinery.
func purePath(conv *delivery.Converter, fixtures []rawFixture) []pureResult {
	var out []pureResult
	for _, fx := range fixtures {
		d := delivery.Delivery{Event: fx.event, Body: fx.body, ReceivedAt: time.Now()}
		r := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := conv.Convert(d); err != nil {
					b.Fatal(err)
				}
			}
		})
		out = append(out, pureResult{
			Fixture: fx.event + "/" + fx.name, NsPerOp: float64(r.T.Nanoseconds()) / float64(max(r.N, 1)),
			AllocsPerOp: r.AllocsPerOp(), BytesPerOp: r.AllocedBytesPerOp(),
		})
	}
	return out
}

type rawFixture struct {
	event, name string
	body        []byte
}
