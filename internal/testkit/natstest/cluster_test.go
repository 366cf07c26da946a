package natstest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
)

// A 3-node cluster holds a 3-replica stream; its leader stopped, another
// node leads and publishes go on; restarted, the node catches up.
func TestClusterLeaderFailover(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	js := c.JetStream()
	cfg := bus.DefaultStreamConfig()
	cfg.Replicas = 3
	natstest.EnsureStream(t, js, cfg, 30*time.Second)
	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			m := nats.NewMsg(event.SubjectPrefix + "t.msi.succeeded")
			m.Data = []byte("x")
			m.Header.Set(bus.MsgIDHeader, fmt.Sprint(i))
			deadline := time.Now().Add(30 * time.Second)
			for { // a publish during an election may time out
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := js.PublishMsg(ctx, m)
				cancel()
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("publish %d: %v", i, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	publish(0, 100)
	leader := natstest.WaitStreamLeader(t, js, bus.StreamName, 30*time.Second)
	i := c.Spec.Index(leader)
	if i < 0 {
		t.Fatalf("leader %q is no node of %+v", leader, c.Spec)
	}
	c.Stop(i)
	publish(100, 200) // and a retry of one stored before: a duplicate
	publish(50, 51)
	var next string
	deadline := time.Now().Add(30 * time.Second)
	for next = natstest.WaitStreamLeader(t, js, bus.StreamName, 30*time.Second); next == leader; next = natstest.WaitStreamLeader(t, js, bus.StreamName, 30*time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("stream still led by stopped node %s", leader)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("leader %s stopped; %s leads", leader, next)
	c.Restart(i)
	// The restarted node catches up: its own view of the stream holds 200.
	deadline = time.Now().Add(30 * time.Second)
	for {
		var msgs uint64
		if jsz, err := c.Node(i).Server().Jsz(&server.JSzOptions{}); err == nil {
			msgs = jsz.Messages
		}
		if msgs == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted node %s holds %d messages, want 200", leader, msgs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, bus.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 200 || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream: %d messages, %d followers; want 200 and 2", info.State.Msgs, len(info.Cluster.Replicas))
	}
}
