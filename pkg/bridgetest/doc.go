// Package bridgetest owns the test helpers dtbridge packages use to run
// real parts — nats-servers with JetStream, clusters of them, the dtbridge
// binary — in the spirit of net/http/httptest, and to judge what happened.
//
//   - RunServer starts one in-process server on 127.0.0.1 with a random
//     port and a t.TempDir() store, registers its shutdown with t.Cleanup,
//     and fails the test if it is not ready within 10 seconds.
//     Server.Shutdown and Server.Restart simulate an outage: Restart brings
//     the server back with the same options, port and store.
//   - RunCluster starts an n-node in-process JetStream cluster (routes
//     through proxies, so a node can be cut off): StreamLeader,
//     StepdownStream (the $JS.API.STREAM.LEADER.STEPDOWN path),
//     HardStopServer (routes cut, then stopped: no leadership handover),
//     RestartServer (same name, ports and store), and CheckReplicas
//     (nats-server's checkState: every replica equals the leader).
//   - BuildBinary and StartProcess run the dtbridge command as a real
//     process: Kill (SIGKILL), Stop (SIGTERM), Restart on the same
//     arguments, WaitReady (/readyz 200), with its output in Lines.
//   - Checker is a Jepsen-style history: every delivery's attempts, then
//     the whole stream read through its leader, classified ok / lost /
//     unknown / duplicated.
//
// WaitFor is the waiting primitive for tests: poll a condition until it
// holds or a deadline passes. Tests must not use time.Sleep for
// synchronization.
//
// SelfSignedCert writes an ECDSA certificate for 127.0.0.1/localhost for TLS
// tests.
//
// Nothing in this package is meant for production code.
package bridgetest
