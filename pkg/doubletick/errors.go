package doubletick

import "errors"

// ErrUnknownEvent means the event named in the URL is not in the event table.
var ErrUnknownEvent = errors.New("unknown event")

// ErrUnclassified means a delivery on the inferred route could not be
// attributed to exactly one event type. Such a delivery is quarantined, never
// guessed: a wrong type is worse than quarantine.
var ErrUnclassified = errors.New("event could not be classified")

// MalformedError means the delivery is not something DoubleTick sends (not a
// JSON object). Reason is safe to show to the sender.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return "malformed delivery: " + e.Reason }
