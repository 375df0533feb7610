// Package bridgetest owns the test helpers dtbridge packages use to run a
// real nats-server with JetStream in-process, in the spirit of
// net/http/httptest.
//
// RunServer starts a server on 127.0.0.1 with a random port and a
// t.TempDir() store, registers its shutdown with t.Cleanup, and fails the
// test if it is not ready within 10 seconds. Server.Shutdown and
// Server.Restart simulate an outage: Restart brings the server back with the
// same options, the same port and the same store, so clients reconnect and
// JetStream state survives.
//
// WaitFor is the waiting primitive for tests: poll a condition until it holds
// or a deadline passes. Tests must not use time.Sleep for synchronization.
//
// SelfSignedCert writes an ECDSA certificate for 127.0.0.1/localhost for TLS
// tests.
//
// Nothing in this package is meant for production code.
package bridgetest
