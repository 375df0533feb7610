package bridge_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
)

// The ingress benchmarks compare, on the same in-process server and at the
// same parallelism, the whole 202 path (HTTP, auth, body, normalization,
// envelope, publish, ack) with a bare JetStream publish of an envelope of
// the same size. Run both with and without fsync on every write:
//
//	go test -run '^$' -bench 'Ingress|BarePublish' -benchmem ./pkg/bridge
func BenchmarkIngress(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("sync_always=%v", sync), func(b *testing.B) {
			base, _ := benchBridge(b, sync)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					body := fmt.Appendf(nil, `{"to":"+919000000000","customerName":"Rohan Mehta","customerPhone":"+919111222333","from":"+919111222333","dtCustomerId":"customer_%d","closeConversation":true}`, n.Add(1))
					resp, err := client.Post(base+"/v1/webhooks/doubletick/CLOSE_CONVERSATION?token="+testToken, "application/json", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}

func BenchmarkBarePublish(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("sync_always=%v", sync), func(b *testing.B) {
			_, srv := benchBridge(b, sync)
			js, err := jetstream.New(srv.Conn(b))
			if err != nil {
				b.Fatal(err)
			}
			envelope := bytes.Repeat([]byte("x"), 800) // about one conversation envelope
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if _, err := js.Publish(context.Background(), "doubletick.whatsapp.bench", envelope,
						jetstream.WithMsgID(fmt.Sprint("bench-", i))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// benchBridge runs a bridge against a fresh server and returns its base URL.
func benchBridge(b *testing.B, syncAlways bool) (string, *bridgetest.Server) {
	b.Helper()
	opts := []bridgetest.Option{bridgetest.WithMaxPayload(8 << 20)}
	if syncAlways {
		opts = append(opts, bridgetest.WithSyncAlways())
	}
	srv := bridgetest.RunServer(b, opts...)
	br := run(b, testConfig(b, srv.URL()), zap.NewNop())
	return "http://" + br.Addr().String(), srv
}
