// Package delivery turns a DoubleTick delivery into the message dtbridge
// stores: it asks [doubletick] for the event and its normalized data, wraps
// them in an [envelope.Event], picks the subject, and encodes the bytes. It
// also builds quarantine messages for authenticated deliveries that cannot be
// classified or parsed (contract §5).
//
// It is transport-free: no Echo, no NATS. The ingress feeds it; the
// publisher stores what it returns.
package delivery
