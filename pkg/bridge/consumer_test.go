package bridge_test

import (
	"context"
	"testing"
	"time"

	cejs "github.com/cloudevents/sdk-go/protocol/nats_jetstream/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestREADMEConsumer runs the README's "Subscribe from a service" snippet:
// a durable JetStream consumer on doubletick.*.conversation.closed decodes
// the stored event with the CloudEvents SDK and reads the customer.
func TestREADMEConsumer(t *testing.T) {
	h := start(t, nil, nil)
	if r := h.post("/v1/webhooks/doubletick/CLOSE_CONVERSATION", "application/json", fixture(t, "CLOSE_CONVERSATION", "instagram")); r.status != 202 {
		t.Fatalf("delivery: %d", r.status)
	}
	if r := h.post("/v1/webhooks/doubletick/CONVERSATION_OPENED", "application/json", fixture(t, "CONVERSATION_OPENED", "whatsapp")); r.status != 202 {
		t.Fatalf("delivery: %d", r.status)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js := h.js
	cons, err := js.CreateOrUpdateConsumer(ctx, "DOUBLETICK", jetstream.ConsumerConfig{
		Durable:       "crm-sync",
		FilterSubject: "doubletick.*.conversation.closed",
		AckPolicy:     jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	type closed struct{ id, name string }
	got := make(chan closed, 4)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		ev, err := binding.ToEvent(ctx, cejs.NewMessage(&nats.Msg{
			Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}))
		if err != nil {
			t.Errorf("not a CloudEvent: %v", err)
			_ = m.Term()
			return
		}
		var data struct {
			Customer struct{ ID, Name string }
		}
		if err := ev.DataAs(&data); err != nil {
			t.Errorf("data: %v", err)
		}
		got <- closed{data.Customer.ID, data.Customer.Name}
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	select {
	case c := <-got:
		if c.id != "customer_Ehrc3Ls7kS" || c.name != "Abhishek" {
			t.Errorf("consumer read %+v", c)
		}
	case <-ctx.Done():
		t.Fatal("consumer received nothing")
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != 0 {
		t.Errorf("%d closed events still pending; the opened event must not match the filter", info.NumPending)
	}
}
