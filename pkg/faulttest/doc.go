// Package faulttest holds dtbridge's fault-injection tests: the bridge as a
// real process killed with SIGKILL and stopped with SIGTERM under load,
// external brokers hard-stopped and restarted, 3-node JetStream clusters
// with forced leader stepdowns and hard leader loss, redeliveries across
// restarts and outside the duplicate window. Every load test records a
// Jepsen-style history with [bridgetest.Checker] and requires lost = 0 and
// duplicated = 0.
//
// The package has no non-test code. checklist_test.go maps every item of
// the reliability checklist (D, X, H, S, R, C, O) to the test that proves
// it, wherever it lives, or states why it does not apply; a test keeps that
// table honest.
//
// Sizes: the default sizes run in `make test` within the CI budget. Set
// DTBRIDGE_SOAK=1 (`make soak`) for the long variants (more deliveries,
// more kills and stepdowns); they are the same tests, larger.
package faulttest
