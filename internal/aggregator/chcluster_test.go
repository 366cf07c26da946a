package aggregator_test

// The aggregator writing to a ClickHouse cluster (store cluster mode: 2
// shards × 2 replicas, inserts through the Distributed table with
// insert_distributed_sync) while one replica is killed with SIGKILL and
// started again: every event JetStream acknowledged is stored exactly once
// once the replica has caught up.

import (
	"context"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/chcluster"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
)

// chClusterStore opens the store in cluster mode on c (node 0 first) and
// migrates it.
func chClusterStore(t *testing.T, c *chcluster.Cluster) *store.Store {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.Addrs, cfg.Database, cfg.Cluster = c.Addrs(), "cspwatch", c.Name
	cfg.DialTimeout = time.Second
	cfg.ReadTimeout = 20 * time.Second
	ctx := context.Background()
	st, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open cluster store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate on the cluster: %v", err)
	}
	return st
}

func TestChClusterReplicaKilledExactlyOnce(t *testing.T) {
	c := chcluster.Start(t, chcluster.Options{Shards: 2, Replicas: 2})
	st := chClusterStore(t, c)
	ns := natstest.Start(t)
	ns.InstallStream()
	js := ns.JetStream()
	r := startAggregator(t, "A", ns.Conn(), st, faultConfig())
	pub := startPublisher(t, js, 1000)
	pub.waitAcked(t, 1000, "1000 events acknowledged before the kill")

	// A replica of shard 2: the Distributed INSERT from node 0 sends shard
	// 2's rows to one of its replicas, and must fail over from this one.
	victim := c.At(2, 1)
	victim.Kill()
	t.Logf("killed %s (pid gone) with %d events acknowledged", victim.ReplicaName(), pub.ackedCount())
	pub.waitAcked(t, 1500, "1500 more events acknowledged with the replica down")
	start := time.Now()
	if err := victim.Start(); err != nil { // waits for its old ZooKeeper session to expire
		t.Fatal(err)
	}
	t.Logf("%s started again in %v", victim.ReplicaName(), time.Since(start).Round(time.Millisecond))
	pub.waitAcked(t, 500, "500 more events acknowledged after the restart")
	acked := pub.finish(t)
	waitDrained(t, js, 60*time.Second)
	logAggregator(t, "A", r)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start = time.Now()
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatalf("replicas did not catch up: %v", err)
	}
	t.Logf("every replica caught up %v after the drain", time.Since(start).Round(time.Millisecond))
	checkAcked(t, st, acked)

	// The restarted replica alone holds its shard's every event: read it
	// there and on its peer.
	var counts [2]uint64
	for i, n := range []*chcluster.Node{c.At(2, 1), c.At(2, 2)} {
		conn, err := n.Open("cspwatch")
		if err != nil {
			t.Fatal(err)
		}
		err = conn.QueryRow(ctx, "SELECT count() FROM install_events_local FINAL").Scan(&counts[i])
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if counts[0] != counts[1] || counts[0] == 0 {
		t.Fatalf("shard 2: restarted replica holds %d events, its peer %d", counts[0], counts[1])
	}
	t.Logf("%d acknowledged events stored once each; shard 2 holds %d on both replicas", len(acked), counts[0])
}
