package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/attempttest"
	"github.com/cspwatch/cspwatch/internal/testkit/chcluster"
	"github.com/cspwatch/cspwatch/schema"
)

// sortedRows runs admin query name with args and sorts its rows: ties in
// its ORDER BY may come in another order from the shards.
func sortedRows(t *testing.T, s *store.Store, name string, args map[string]string) []string {
	t.Helper()
	rows := runAdminQuery(t, s, name, args)
	slices.Sort(rows)
	return rows
}

// clusterStore opens the store in cluster mode on database db of c, through
// node 0 (the others as fallbacks), and migrates it.
func clusterStore(t testing.TB, c *chcluster.Cluster, db string, tune func(*store.Config)) *store.Store {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.Addrs, cfg.Database, cfg.Cluster = c.Addrs(), db, c.Name
	cfg.ReadTimeout = time.Minute
	if tune != nil {
		tune(&cfg)
	}
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

// clusterSchema is every node's tables of db: name, engine and CREATE.
func clusterSchema(t *testing.T, c *chcluster.Cluster, db string) []string {
	t.Helper()
	var out []string
	for _, n := range c.Nodes() {
		conn, err := n.Open("")
		if err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(context.Background(),
			"SELECT name, engine, create_table_query FROM system.tables WHERE database = ? ORDER BY name", db)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, engine, create string
			if err := rows.Scan(&name, &engine, &create); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s: %s %s %s", n.ReplicaName(), name, engine, create))
		}
		rows.Close()
		conn.Close()
	}
	return out
}

// clusterTally waits for every replica to hold its shard's log and then
// counts through the Distributed tables until want events show exactly
// once, or the deadline passes.
func clusterTally(t *testing.T, c *chcluster.Cluster, s *store.Store, want uint64, deadline time.Duration) store.Tally {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for {
		if err := c.WaitReplicated(ctx); err != nil {
			t.Fatalf("replication: %v", err)
		}
		tl, err := s.Tally(ctx)
		if err == nil && tl.Events == want {
			if ok, why := tl.Exact(); ok {
				return tl
			} else if ctx.Err() != nil {
				t.Fatalf("tally %+v: %s", tl, why)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after %v: tally %+v (err %v), want %d events exactly once", deadline, tl, err, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestCluster runs the store's cluster mode on one cluster of 2 shards × 2
// replicas and one database, migrated once (an ON CLUSTER migration of the
// whole schema takes seconds): the subtests run in order, each adding
// events of its own tenants.
func TestCluster(t *testing.T) {
	c := chcluster.Start(t, chcluster.Options{Shards: 2, Replicas: 2})
	const db = "cw"
	start := time.Now()
	s := clusterStore(t, c, db, nil)
	t.Logf("migrated the cluster in %v", time.Since(start).Round(time.Millisecond))
	// The single server the cluster's figures are compared with.
	single := open(t)

	// Migrating twice changes nothing on any node, and the layout is the
	// replicated tables under Distributed ones with the documented keys.
	t.Run("MigrateTwice", func(t *testing.T) {
		first := clusterSchema(t, c, db)
		res, err := s.Migrate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Applied) != 0 {
			t.Errorf("second migrate applied %v", res.Applied)
		}
		if second := clusterSchema(t, c, db); !reflect.DeepEqual(first, second) {
			t.Errorf("schema changed by the second migrate:\n%s\n---\n%s", strings.Join(first, "\n"), strings.Join(second, "\n"))
		}
		joined := strings.Join(first, "\n")
		for _, n := range c.Nodes() {
			for _, want := range []string{
				n.ReplicaName() + ": install_events Distributed ",
				"Distributed(cspwatch, " + db + ", install_events_local, cityHash64(tenant, device_id))",
				n.ReplicaName() + ": install_events_local ReplicatedReplacingMergeTree ",
				n.ReplicaName() + ": install_state_local ReplicatedAggregatingMergeTree ",
				n.ReplicaName() + ": install_attempts View ",
				n.ReplicaName() + ": schema_migrations Distributed ",
			} {
				if !strings.Contains(joined, want) {
					t.Errorf("no %q in the schema", want)
				}
			}
		}
		// Every node has every column the ALTERs added, locally and
		// through Distributed.
		for _, n := range c.Nodes() {
			conn, err := n.Open(db)
			if err != nil {
				t.Fatal(err)
			}
			var got [4]uint64
			err = conn.QueryRow(context.Background(), `SELECT
				countIf(table = 'install_events_local' AND name = 'office_remove'),
				countIf(table = 'install_events' AND name = 'office_remove'),
				countIf(table = 'alerts_local' AND name = 'device_baseline'),
				countIf(table = 'alerts' AND name = 'device_baseline')
				FROM system.columns WHERE database = ?`, db).Scan(&got[0], &got[1], &got[2], &got[3])
			conn.Close()
			if err != nil || got != [4]uint64{1, 1, 1, 1} {
				t.Errorf("%s: columns added by 005 and 101 (install_events_local, install_events, alerts_local, alerts): %v (%v)", n.ReplicaName(), got, err)
			}
		}
	})

	// N events stored through the store, twice, read exactly N times
	// through the Distributed tables, in every table.
	t.Run("ExactlyOnce", func(t *testing.T) {
		ctx := context.Background()
		at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		evs := tallyFleet(0, 1000, at)
		// A code of their own: install_causes names a code across tenants,
		// and Reads compares it with the single server, which lacks these.
		for i := range evs {
			if evs[i].Code != 0 {
				evs[i].Code = 31999
			}
		}
		for range 2 {
			if err := s.InsertEvents(ctx, evs); err != nil {
				t.Fatal(err)
			}
		}
		tl := clusterTally(t, c, s, 1000, time.Minute)
		// Both shards hold events: the key spreads devices.
		for shard := 1; shard <= 2; shard++ {
			conn, err := c.At(shard, 1).Open(db)
			if err != nil {
				t.Fatal(err)
			}
			var n uint64
			err = conn.QueryRow(ctx, "SELECT count() FROM install_events_local FINAL").Scan(&n)
			conn.Close()
			if err != nil || n == 0 || n == 1000 {
				t.Errorf("shard %d holds %d of the events (%v)", shard, n, err)
			}
		}
		t.Logf("tally %+v", tl)
	})

	// With InsertQuorum 2 an INSERT returns only when both replicas of
	// each shard hold the rows: counted on every replica at once, no wait.
	t.Run("Quorum", func(t *testing.T) {
		q := clusterStore(t, c, db, func(cfg *store.Config) { cfg.InsertQuorum = 2 })
		ctx := context.Background()
		evs := tallyFleet(0, 200, time.Now().UTC().Add(-time.Hour).Truncate(time.Second))
		for i := range evs {
			evs[i].Tenant, evs[i].EventID = "quorum", "q"+evs[i].EventID
			if evs[i].Code != 0 {
				evs[i].Code = 31999 // as in ExactlyOnce
			}
		}
		if err := q.InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		var total uint64
		for shard := 1; shard <= c.Shards; shard++ {
			var counts []uint64
			for r := 1; r <= c.Replicas; r++ {
				conn, err := c.At(shard, r).Open(db)
				if err != nil {
					t.Fatal(err)
				}
				var n uint64
				err = conn.QueryRow(ctx, "SELECT count() FROM install_events_local FINAL WHERE tenant = 'quorum'").Scan(&n)
				conn.Close()
				if err != nil {
					t.Fatal(err)
				}
				counts = append(counts, n)
			}
			if counts[0] != counts[1] {
				t.Errorf("shard %d: replicas hold %v right after the quorum INSERT", shard, counts)
			}
			total += counts[0]
		}
		if total != uint64(len(evs)) {
			t.Errorf("%d events on the shards, want %d", total, len(evs))
		}
	})

	// The report of attempttest's fleet is the single server's.
	t.Run("FleetReport", func(t *testing.T) {
		now := time.Now().UTC().Truncate(time.Second)
		t0 := time.Now()
		cl := s
		before, err := cl.Tally(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// tallyFleet's events are tenant t1's, as are most of the
		// attempt fleet's: move them aside.
		evs := attempttest.Fleet(now)
		for i := range evs {
			evs[i].Tenant, evs[i].EventID = "r"+evs[i].Tenant, "r"+evs[i].EventID
		}
		names := append([]store.AdminProduct(nil), attempttest.FleetNames...)
		for i := range names {
			names[i].Tenant = "r" + names[i].Tenant
		}
		for _, st := range []*store.Store{single, cl} {
			for range 2 {
				if err := st.InsertEvents(context.Background(), evs); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.InsertAdminProducts(context.Background(), names, now); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("stored in %v", time.Since(t0).Round(time.Millisecond))
		clusterTally(t, c, cl, before.Events+uint64(len(evs)), time.Minute)
		t.Logf("tallied in %v", time.Since(t0).Round(time.Millisecond))
		ctx := context.Background()
		for _, tenant := range []string{"rt1", "rt2"} {
			t.Run(tenant, func(t *testing.T) {
				t.Parallel()
				o := store.ReportOptions{Now: now, Since: 24 * time.Hour, Tenant: tenant, StuckAfter: 4 * time.Hour}
				want, err := single.FleetReport(ctx, o)
				if err != nil {
					t.Fatal(err)
				}
				t1 := time.Now()
				got, err := cl.FleetReport(ctx, o)
				if err != nil {
					t.Fatalf("cluster report: %v", err)
				}
				t.Logf("cluster report in %v", time.Since(t1).Round(time.Millisecond))
				if !reflect.DeepEqual(got, want) {
					t.Errorf("cluster report\n%+v\nsingle server\n%+v", got, want)
				}
				if len(want.Products) == 0 {
					t.Errorf("empty report")
				}
			})
		}
	})

	// The admin queries (schema/queries.sql, over the views) and the
	// dashboard's reads give the single server's rows on the cluster, on
	// the data FleetReport stored.
	t.Run("Reads", func(t *testing.T) {
		args := map[string]string{"tenant": "rt1", "device_id": "d01", "product": "App A"}
		for _, q := range schema.AdminQueries().Queries {
			qa := map[string]string{}
			for _, p := range q.Params {
				if v, ok := args[p.Name]; ok {
					qa[p.Name] = v
				}
			}
			t.Run(q.Name, func(t *testing.T) {
				t.Parallel()
				want := sortedRows(t, single, q.Name, qa)
				got := sortedRows(t, s, q.Name, qa)
				if len(want) == 0 {
					t.Logf("no rows on the single server")
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("cluster\n%s\nsingle server\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
		ctx := context.Background()
		w := store.Window{From: time.Now().Add(-24 * time.Hour), To: time.Now().Add(time.Minute)}
		f := store.AttemptFilter{Tenant: "rt1"}
		if _, err := s.FailingDevices(ctx, w, f, 50); err != nil {
			t.Errorf("FailingDevices: %v", err)
		}
		if _, err := s.OutcomesOverTime(ctx, w, f, time.Hour); err != nil {
			t.Errorf("OutcomesOverTime: %v", err)
		}
		if _, err := s.FailuresByCause(ctx, w, f, time.Hour, 10); err != nil {
			t.Errorf("FailuresByCause: %v", err)
		}
		if _, err := s.Tenants(ctx, w); err != nil {
			t.Errorf("Tenants: %v", err)
		}
		a, err := single.ProductVersions(ctx, w, f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.ProductVersions(ctx, w, f)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("ProductVersions: cluster %+v, single server %+v", b, a)
		}
	})

	// A cluster the servers do not know is refused, named.
	t.Run("UnknownCluster", func(t *testing.T) {
		cfg := store.DefaultConfig()
		cfg.Addrs, cfg.Database, cfg.Cluster = c.Addrs(), "cw_mode", "nosuchcluster"
		_, err := store.Open(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "nosuchcluster") || store.Retryable(err) {
			t.Errorf("unknown cluster: %v (retryable %v), want a permanent error naming it", err, store.Retryable(err))
		}
	})
	// A database migrated for one server, then in cluster mode, and the
	// reverse: refused, not reported as migrated with tables on one node.
	t.Run("ModeMismatch", func(t *testing.T) {
		ctx := context.Background()
		single := store.DefaultConfig()
		single.Addrs, single.Database = c.Addrs()[:1], "cw_single"
		st, err := store.Open(ctx, single)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		cl := single
		cl.Cluster = c.Name
		cst, err := store.Open(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		defer cst.Close()
		if _, err := cst.Migrate(ctx); !errors.Is(err, store.ErrSetup) || store.Retryable(err) {
			t.Errorf("cluster mode on a single server's database: %v, want ErrSetup", err)
		}
		plain := store.DefaultConfig()
		plain.Addrs, plain.Database = c.Addrs()[:1], db
		pst, err := store.Open(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		defer pst.Close()
		if _, err := pst.Migrate(ctx); !errors.Is(err, store.ErrSetup) {
			t.Errorf("one-server mode on a cluster database: %v, want ErrSetup", err)
		}
	})
}
