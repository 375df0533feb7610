// Package consumer is how a downstream Go service consumes dtbridge events:
// typed handlers per event type on a durable JetStream pull consumer.
//
//	c, err := consumer.New(js, "DOUBLETICK", "crm-sync",
//		consumer.WithFilter("doubletick.*.conversation.closed"),
//		consumer.WithConcurrency(4))
//	c.OnConversationClosed(func(ctx context.Context, ev envelope.Event, conv doubletick.Conversation) error {
//		return crm.Close(ctx, *conv.Customer.ID)
//	})
//	err = c.Run(ctx) // until ctx ends, then drains
//
// Delivery semantics (at least once):
//
//   - A message is acknowledged (and the ack confirmed by the server) only
//     after its handler returned nil. A crash or a lost ack means the event
//     comes again: handlers must be idempotent; the envelope's id and
//     dedupkey are the keys to deduplicate on.
//   - A handler error negatively acknowledges the message with a delay from
//     the backoff schedule ([WithBackoff]); the server redelivers it then.
//   - After [WithMaxDeliver] deliveries (or at once for a [Permanent] error
//     or a message that is not a dtbridge CloudEvent) the message is
//     published to the dead-letter subject {prefix}.{consumer}.{original
//     subject} (default prefix "deadletter", outside the bridge's
//     "doubletick.>" stream) with the error in the Dtbridge-Dead-Letter-Error
//     header, and only then terminated. If that publish fails, the message is
//     kept and retried later: nothing is dropped.
//   - Events whose type has no handler are acknowledged and skipped (see
//     [Consumer.OnOther]).
//   - A durable consumer remembers its position: the start position
//     ([WithStart]) applies only when the consumer is created.
//   - When the context passed to [Consumer.Run] ends, it stops fetching,
//     hands back buffered messages (immediate redelivery to another
//     instance), lets handlers in flight finish (their context stays alive
//     for [WithDrainTimeout]) and acknowledges them, then returns.
//
// Decoding is CloudEvents structured JSON, exactly the bytes the bridge
// stores (see [envelope.Event.UnmarshalJSON]); any CloudEvents SDK reads the
// same messages. The package depends on the envelope and DoubleTick types
// and on nats.go; it does not import Echo or the bridge.
package consumer
