package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/config"
	"github.com/dtbridge/dtbridge/pkg/consumer"
	"github.com/dtbridge/dtbridge/pkg/doubletick"
	"github.com/dtbridge/dtbridge/pkg/envelope"
	"github.com/dtbridge/dtbridge/pkg/replay"
)

// maxEventBytes bounds an HTTP-delivered event (the bridge's largest
// envelope at its default 1 MiB body limit).
var maxEventBytes = envelope.MaxSize(1 << 20)

// service is the "CRM": it applies each closed conversation once, keyed by
// the CloudEvents id, and logs what it did.
type service struct {
	log     *log.Logger
	mu      sync.Mutex
	applied map[string]bool
}

// conversationClosed is the handler for io.doubletick.conversation.closed.v1,
// whether the event came from the stream or from a replay over HTTP.
func (s *service) conversationClosed(ctx context.Context, ev envelope.Event, conv doubletick.Conversation) error {
	route := "replay over HTTP"
	if d, ok := consumer.DeliveryFrom(ctx); ok {
		route = fmt.Sprintf("stream %s seq %d", d.Stream, d.Seq)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.applied[ev.ID] {
		s.log.Printf("CRM: event %s already applied, skipping (%s)", ev.ID, route)
		return nil
	}
	s.applied[ev.ID] = true
	business := "-"
	if conv.Business.Handle != nil {
		business = *conv.Business.Handle
	} else if conv.Business.Number != nil {
		business = *conv.Business.Number
	}
	s.log.Printf("CRM: mark conversation closed: customer=%s name=%q channel=%s business=%s closed_at=%s event=%s (%s)",
		str(conv.Customer.ID), str(conv.Customer.Name), ev.Channel, business, ev.Time.Format(time.RFC3339), ev.ID, route)
	return nil
}

func str(p *string) string {
	if p == nil {
		return "-"
	}
	return *p
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("crm-sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	natsURL := fs.String("nats-url", "nats://127.0.0.1:4222", "NATS server (the bridge's embedded server by default)")
	stream := fs.String("stream", "DOUBLETICK", "stream the bridge writes to")
	durable := fs.String("durable", "crm-sync", "durable consumer name (its position survives restarts)")
	filter := fs.String("filter", "doubletick.*.conversation.closed", "subject filter")
	since := fs.Duration("since", 0, "when the durable consumer is new: start with events stored this long ago (e.g. 24h); 0 = only new events")
	concurrency := fs.Int("concurrency", 4, "handlers running at once")
	listen := fs.String("listen", "", "also accept events POSTed by `dtbridge replay --to http://ADDR/events` on this address")
	secret := fs.String("webhook-secret", os.Getenv("CRM_SYNC_WEBHOOK_SECRET"), "verify Standard Webhooks signatures on --listen with this whsec_ secret (env CRM_SYNC_WEBHOOK_SECRET)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger := log.New(stdout, "crm-sync: ", log.LstdFlags)
	svc := &service{log: logger, applied: map[string]bool{}}

	nc, err := nats.Connect(*natsURL, nats.Name("crm-sync"), nats.MaxReconnects(-1))
	if err != nil {
		fmt.Fprintf(stderr, "crm-sync: connect to %s: %v\n", *natsURL, err)
		return 1
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintf(stderr, "crm-sync: %v\n", err)
		return 1
	}
	start := consumer.StartNew()
	if *since > 0 {
		start = consumer.StartAtTime(time.Now().Add(-*since))
	}
	c, err := consumer.New(js, *stream, *durable, consumer.WithFilter(*filter), consumer.WithStart(start),
		consumer.WithConcurrency(*concurrency))
	if err != nil {
		fmt.Fprintf(stderr, "crm-sync: %v\n", err)
		return 2
	}
	c.OnConversationClosed(svc.conversationClosed)

	var srv *http.Server
	if *listen != "" {
		var signer *replay.Signer
		if *secret != "" {
			key, err := decodeSecret(*secret)
			if err == nil {
				signer, err = replay.NewSigner(key)
			}
			if err != nil {
				fmt.Fprintf(stderr, "crm-sync: --webhook-secret: %v\n", err)
				return 2
			}
		}
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			fmt.Fprintf(stderr, "crm-sync: %v\n", err)
			return 1
		}
		srv = &http.Server{Handler: eventsHandler(c, signer), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		logger.Printf("accepting replayed events on http://%s/events", ln.Addr())
	}
	logger.Printf("consuming %s from stream %s as %s", *filter, *stream, *durable)
	err = c.Run(ctx)
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "crm-sync: %v\n", err)
		return 1
	}
	logger.Printf("stopped")
	return 0
}

// eventsHandler accepts one CloudEvent per POST (structured JSON, as
// `dtbridge replay --to URL` sends it), verifies its signature when a
// signer is set, and dispatches it to the consumer's handlers. 204 means
// handled; 500 makes replay retry.
func eventsHandler(c *consumer.Consumer, signer *replay.Signer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /events", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEventBytes))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		if signer != nil {
			if err := signer.Verify(r.Header, body, time.Now()); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
		}
		ev, err := consumer.Decode(nats.Header{"Content-Type": {r.Header.Get("Content-Type")}}, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := c.Dispatch(r.Context(), ev); err != nil {
			status := http.StatusInternalServerError
			if consumer.IsPermanent(err) {
				status = http.StatusUnprocessableEntity
			}
			http.Error(w, err.Error(), status)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// decodeSecret reads a whsec_ secret the way dtbridge's
// replay.webhook_secret is read.
func decodeSecret(s string) ([]byte, error) {
	key, err := config.Replay{WebhookSecret: s}.SigningKey()
	if err == nil && key == nil {
		err = errors.New("empty")
	}
	return key, err
}
