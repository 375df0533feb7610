// Package loadgen drives HTTP load at a webhook endpoint and measures it:
// POSTs of real DoubleTick fixtures, each made unique so the bridge stores
// every one (nothing deduplicates), at a fixed concurrency (closed loop) or
// a fixed rate (open loop, latency measured from the scheduled send time so
// a stalled server cannot hide its queueing), for a fixed duration. It
// reports requests per second, latency percentiles and every kind of error.
//
// It is the load half of `make bench` (package bench) and of cmd/dtload. It
// imports neither Echo nor NATS.
package loadgen
