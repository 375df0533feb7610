package bridgetest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
)

// TestCluster is the narrative the fault tests build on: a 3-node cluster
// forms, an R3 stream gets a leader, a graceful stepdown moves the
// leadership, a hard stop of the leader elects another, and after the
// restart every replica holds the same messages.
func TestCluster(t *testing.T) {
	c := bridgetest.RunCluster(t, 3)
	nc := c.Conn(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if _, err := js.Publish(ctx, "r3.x", fmt.Appendf(nil, "m%d", i), jetstream.WithMsgID(fmt.Sprint(i)),
				jetstream.WithRetryAttempts(60), jetstream.WithRetryWait(250*time.Millisecond)); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
	}
	leader := c.WaitForStreamLeader(t, "R3", 20*time.Second)
	publish(0, 10)

	if next := c.StepdownStream(t, nc, "R3"); next == leader {
		t.Fatalf("leader still %s after stepdown", c.Name(next))
	}
	publish(10, 20)

	leader = c.WaitForStreamLeader(t, "R3", 20*time.Second)
	c.StopServer(leader)
	next := c.WaitForStreamLeader(t, "R3", 30*time.Second)
	if next == leader {
		t.Fatalf("stopped node %s still leads", c.Name(leader))
	}
	publish(20, 30)
	c.RestartServer(t, leader)
	c.WaitForCurrent(t, leader, "R3", 30*time.Second)
	bridgetest.WaitFor(t, 30*time.Second, "replicas equal", func() error { return c.CheckReplicas("R3", 3) })
	states, err := c.StreamStates("R3")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.Msgs != 30 || s.LastSeq != 30 {
			t.Errorf("%s: %+v, want 30 messages", s.Server, s)
		}
	}
}
