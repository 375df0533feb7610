// Package natsconn owns how dtbridge connects to an external NATS server:
// URL list, authentication, TLS, and the reconnect and liveness policy.
//
// The policy is built for a bridge that answers an HTTP request only after
// NATS has acknowledged the message:
//
//   - Reconnect forever (MaxReconnects -1) every 250ms plus jitter, so an
//     outage of any length heals without a restart.
//   - Fail the initial connect instead of retrying in the background
//     (RetryOnFailedConnect false), so a bad URL or bad credentials surface
//     at startup.
//   - No reconnect buffer (ReconnectBufSize -1). While disconnected, every
//     publish fails at once with nats.ErrReconnectBufExceeded. With a buffer,
//     a publish made during an outage would be queued and sent after
//     reconnecting, possibly long after the bridge answered the webhook with
//     503 and DoubleTick retried it, producing unaccounted duplicates and
//     hiding the outage from the publish path.
//   - Ping every 2s and declare the connection stale after 2 unanswered
//     pings, so a silently dead server or network path is detected within
//     about 6s (a closed socket is detected immediately).
//
// Disconnect, reconnect and error handlers are not set here; callers pass
// them to Connect as extra options.
package natsconn
