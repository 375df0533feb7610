// Package bench is `make bench`: one run that measures, side by side on the
// same machine and under the same load, the hardware ceilings and the
// bridge, and prints the issue-6 targets T1–T5 as ratios with pass/fail.
//
// Processes (so each one's CPU and memory are its own, as in production):
//   - the load generator and the bare-publish client: this process;
//   - a broker per fsync mode: this binary's `broker` subcommand (the
//     embedded nats-server of package embedded, JetStream on disk, fsync on
//     every write or on the server's interval);
//   - the no-op HTTP ceiling: this binary's `noop` subcommand (an Echo
//     handler that reads the body and answers 202);
//   - the bridge per fsync mode: bin/dtbridge serve against that broker
//     (an external broker, so the bridge's RSS is the bridge's alone).
//
// Measurements, each repeated for every round (medians are reported):
//   - H: the no-op handler at the load's concurrency.
//   - J: the better of sync and async JetStream publish of the same envelope
//     bytes the bridge stores, at the same concurrency, fsync on interval.
//   - J1: the same with fsync on every write.
//   - the bridge, closed loop at the same concurrency, per fsync mode;
//     then open loop at half its own rate for the latency target.
//   - T4: the bridge processes' peak RSS (VmHWM).
//   - T5: the pure path (classify, normalize, envelope) per fixture, with
//     Go's benchmark machinery.
//
// It imports Echo and NATS: it is a tool, not a domain package.
package bench
