package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dtbridge/dtbridge/pkg/doubletick"
	"github.com/dtbridge/dtbridge/pkg/envelope"
)

// Type is the CloudEvents type of a DoubleTick event: Type("conversation.closed", 1)
// is "io.doubletick.conversation.closed.v1".
func Type(event string, version int) string {
	return fmt.Sprintf("%s%s.v%d", envelope.TypePrefix, event, version)
}

// Event types with typed helpers.
var (
	TypeConversationClosed = Type("conversation.closed", 1)
	TypeConversationOpened = Type("conversation.opened", 1)
)

// Handle registers fn for eventType with the event's data decoded into T
// (unknown fields ignored). Data that does not decode is a [Permanent]
// error: the event is dead-lettered at once.
func Handle[T any](c *Consumer, eventType string, fn func(ctx context.Context, ev envelope.Event, data T) error) {
	c.On(eventType, func(ctx context.Context, ev envelope.Event) error {
		var data T
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			return Permanent(fmt.Errorf("decode data of %s %s: %w", ev.Type, ev.ID, err))
		}
		return fn(ctx, ev, data)
	})
}

// OnConversationClosed handles io.doubletick.conversation.closed.v1.
func (c *Consumer) OnConversationClosed(fn func(ctx context.Context, ev envelope.Event, conv doubletick.Conversation) error) {
	Handle(c, TypeConversationClosed, fn)
}

// OnConversationOpened handles io.doubletick.conversation.opened.v1.
func (c *Consumer) OnConversationOpened(fn func(ctx context.Context, ev envelope.Event, conv doubletick.Conversation) error) {
	Handle(c, TypeConversationOpened, fn)
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix: the event is
// dead-lettered without further deliveries. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err was marked with [Permanent].
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Delivery describes the message a handler is running for.
type Delivery struct {
	Stream  string
	Seq     uint64 // stream sequence
	Subject string
	Attempt int // 1 on the first delivery
}

type deliveryKey struct{}

func withDelivery(ctx context.Context, d Delivery) context.Context {
	return context.WithValue(ctx, deliveryKey{}, d)
}

// DeliveryFrom returns the delivery a handler's context belongs to.
func DeliveryFrom(ctx context.Context) (Delivery, bool) {
	d, ok := ctx.Value(deliveryKey{}).(Delivery)
	return d, ok
}
