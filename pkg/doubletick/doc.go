// Package doubletick knows DoubleTick's webhooks: the event table (one row
// per DoubleTick event: path names, dtbridge type and version, classification
// evidence, normalization, natural dedup key, JSON Schema), classification of
// deliveries whose event is not named in the URL, and normalization of a
// delivery into the `data` object of the envelope.
//
// Everything here is a pure function of the delivery bytes and a few hints.
// This package imports only the standard library; it must never import Echo,
// NATS or any transport.
package doubletick
