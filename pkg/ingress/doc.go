// Package ingress is dtbridge's HTTP side, built on Echo: the webhook routes
// of contract §2, authentication and rate limiting, body reading, the
// health, readiness, metrics and schema endpoints, and the one place where
// errors become HTTP status codes ([errorResponse]).
//
// The webhook handler answers 202 in exactly one place, [Server.accept],
// which is reached only with a JetStream acknowledgement in hand. Every other
// exit goes through the error mapper. Authenticated deliveries that cannot be
// turned into events are stored in quarantine before the error is sent.
//
// Transport only: the domain (what an event is) lives in packages delivery,
// doubletick and envelope; storing lives in package publish.
package ingress
