// Package replay reads events back from a JetStream stream and hands them to
// a [Sink]: standard output (one CloudEvent per line), a NATS subject prefix
// ([NATSSink]) or an HTTP(S) endpoint ([HTTPSink]). It is the engine of the
// `dtbridge replay` and `dtbridge tail` commands.
//
// Reading ([Read], [Follow]) uses an ordered consumer: it is ephemeral, so a
// replay leaves no durable state behind, and it delivers in stream order.
// [Read] stops at the last message that matched the filter when it began, so
// a replay of a busy stream terminates.
//
// The HTTP sink is built for an operator-run CLI pointed at a URL that came
// from a human: it never follows redirects (a 3xx is a failure), refuses to
// dial cloud-metadata and link-local addresses at dial time (after DNS, so a
// hostname that resolves to one is refused too), retries with capped
// exponential backoff honouring Retry-After, can sign with Standard Webhooks,
// and never sends the bridge's own credentials.
//
// It depends on nats.go and the envelope types; it does not import Echo.
package replay
