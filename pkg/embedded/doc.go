// Package embedded owns the nats-server that dtbridge runs in-process when no
// external NATS URL is configured.
//
// Start runs a single, non-clustered nats-server with JetStream file storage,
// no signal handling and no HTTP monitoring port, and returns once it accepts
// connections. The bridge itself connects without TCP through
// Server.InProcessOption; other processes (consumers, the nats CLI) use
// Server.ClientURL. The server's log lines go to a zap.Logger.
//
// Durability is what Options.SyncAlways says it is: with SyncAlways a
// JetStream PubAck means the message was fsynced; without it a PubAck means
// the message was written to the store files, which the server fsyncs
// periodically (every 2 minutes by default), so a machine crash (not a
// process crash) can lose recently acknowledged messages. Server.SyncAlways
// reports the setting the running server actually uses.
package embedded
