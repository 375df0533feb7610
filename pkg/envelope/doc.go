// Package envelope holds the dtbridge envelope: a CloudEvents 1.0 event in
// structured JSON mode, as a plain value type with a [Event.Validate] that
// names every bad attribute, and a JSON codec that writes `data` verbatim so
// the delivery kept in `data.raw` is byte-for-byte what was received.
//
// The envelope's shape is part of dtbridge's external contract (v1): a change
// here is a breaking change and needs a new event type version.
//
// This package imports only the standard library and github.com/google/uuid.
// It must never import Echo, NATS or any transport.
package envelope
