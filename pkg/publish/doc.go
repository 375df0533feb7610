// Package publish stores dtbridge messages in JetStream and says, for each,
// whether it is stored: [Publisher.Publish] returns a [Receipt] only when
// the stream has acknowledged the write (fresh or as a duplicate of an
// earlier write with the same Nats-Msg-Id), and an error otherwise.
//
// It also creates or checks the stream ([EnsureStream]) and tracks the
// connection state for readiness ([ConnState]).
//
// What a Receipt guarantees is what JetStream's PubAck guarantees: the stream
// leader (and, on R>1, a quorum) stored the message; whether it survives a
// power loss depends on the server's sync policy (the embedded server syncs
// every write by default). What an error means: the message may or may not be
// stored — a timeout is not proof of absence — so the sender must retry with
// the same Nats-Msg-Id, which the stream deduplicates within its window.
package publish
