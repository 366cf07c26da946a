//go:build chexperiments

// Experiments on ClickHouse 18.16 for issue #15, run by hand:
//
//	CSPWATCH_TEST_CLICKHOUSE=1 go test -tags chexperiments -count=1 -v \
//	    -run 'TestExp' ./internal/testkit/chcluster
//
// They log what they measure rather than assert a design.
package chcluster_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cspwatch/cspwatch/internal/testkit/chcluster"
)

func withSettings(s clickhouse.Settings) context.Context {
	return clickhouse.Context(context.Background(), clickhouse.WithSettings(s))
}

func insertRows(ctx context.Context, conn driver.Conn, table, prefix string, n int) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (device_id, event_id, ts, status, version)")
	if err != nil {
		return err
	}
	ts := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	for i := range n {
		if err := b.Append(fmt.Sprintf("%s%d", prefix, i%37), strconv.Itoa(i), ts, uint8(i%2), uint64(1)); err != nil {
			return err
		}
	}
	return b.Send()
}

func countQ(conn driver.Conn, q string) (uint64, error) {
	var n uint64
	err := conn.QueryRow(context.Background(), q).Scan(&n)
	return n, err
}

func rss(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.Atoi(f[1])
			return kb / 1024
		}
	}
	return 0
}

// (b) insert_distributed_sync through the driver, and the async queue.
func TestExpDistributedSync(t *testing.T) {
	c := chcluster.Start(t, chcluster.Options{Shards: 2, Replicas: 2})
	conn, _ := c.Open(0, "")
	defer conn.Close()
	schema(t, conn, c.Name)

	// Settings of 18.16 (revision 54412 < 54429) travel as varints: the
	// driver takes only int and bool values then.
	err := conn.Exec(withSettings(clickhouse.Settings{"load_balancing": "in_order"}), "SELECT 1")
	t.Logf("string setting on 18.16 via driver: %v", err)
	err = conn.Exec(withSettings(clickhouse.Settings{"insert_distributed_sync": "1"}), "SELECT 1")
	t.Logf("setting \"1\" (string) on 18.16 via driver: %v", err)

	// Whole shard 2 down: a sync insert must fail, an async one succeeds.
	c.At(2, 1).Kill()
	c.At(2, 2).Kill()
	err = insertRows(withSettings(clickhouse.Settings{"insert_distributed_sync": 1}), conn, "cw.events", "sync", 200)
	t.Logf("ctx WithSettings insert_distributed_sync=1, shard 2 down: err=%v", err)
	n, _ := countQ(conn, "SELECT count() FROM cw.events_local WHERE device_id LIKE 'sync%'")
	t.Logf("  rows of the failed sync insert on shard 1 (local): %d", n)
	err = insertRows(withSettings(clickhouse.Settings{"insert_distributed_sync": true}), conn, "cw.events", "syncb", 200)
	t.Logf("ctx WithSettings insert_distributed_sync=true (bool), shard 2 down: err=%v", err)

	optConn, _ := clickhouse.Open(&clickhouse.Options{Addr: []string{c.Node(0).Addr}, Settings: clickhouse.Settings{"insert_distributed_sync": 1}})
	err = insertRows(context.Background(), optConn, "cw.events", "opt", 200)
	t.Logf("Options.Settings insert_distributed_sync=1, shard 2 down: err=%v", err)
	optConn.Close()

	err = insertRows(context.Background(), conn, "cw.events", "async", 200)
	t.Logf("default (async) insert, shard 2 down: err=%v", err)
	n, _ = countQ(conn, "SELECT count() FROM cw.events_local WHERE device_id LIKE 'async%'")
	t.Logf("  shard 1 has %d of 200 at once", n)

	// Kill the inserting node with its queue undelivered, bring shard 2
	// back, then the node: the queue on disk is sent on restart.
	c.Node(0).Kill()
	for _, n := range []*chcluster.Node{c.At(2, 1), c.At(2, 2)} {
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	c1, _ := c.Open(1, "")
	defer c1.Close()
	n, _ = countQ(c1, "SELECT count() FROM cw.events WHERE device_id LIKE 'async%'")
	t.Logf("  node 0 killed, shard 2 back for 2 s: %d of 200 through Distributed", n)
	t0 := time.Now()
	if err := c.Node(0).Start(); err != nil {
		t.Fatal(err)
	}
	for time.Since(t0) < 30*time.Second {
		n, _ = countQ(c1, "SELECT count() FROM cw.events WHERE device_id LIKE 'async%'")
		if n >= 200 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("  node 0 restarted: %d of 200 after %v", n, time.Since(t0).Round(time.Millisecond))

	// Sync insert then immediate count through Distributed from each node.
	conn0, _ := c.Open(0, "")
	defer conn0.Close()
	if err := insertRows(withSettings(clickhouse.Settings{"insert_distributed_sync": 1}), conn0, "cw.events", "imm", 500); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range c.Nodes() {
		ci, _ := c.Open(i, "")
		n, _ := countQ(ci, "SELECT count() FROM cw.events WHERE device_id LIKE 'imm%'")
		got = append(got, strconv.FormatUint(n, 10))
		ci.Close()
	}
	t.Logf("sync insert of 500, count through Distributed right after on nodes 0..3: %s", strings.Join(got, " "))

	// insert_quorum=2 with insert_distributed_sync: every shard waits for
	// both its replicas; select_sequential_consistency then reads them.
	if err := insertRows(withSettings(clickhouse.Settings{"insert_distributed_sync": 1, "insert_quorum": 2}), conn0, "cw.events", "quo", 500); err != nil {
		t.Logf("sync+quorum insert: %v", err)
	}
	got = got[:0]
	for i := range c.Nodes() {
		ci, _ := c.Open(i, "")
		n, _ := countQ(ci, "SELECT count() FROM cw.events WHERE device_id LIKE 'quo%'")
		got = append(got, strconv.FormatUint(n, 10))
		ci.Close()
	}
	t.Logf("sync+quorum=2 insert of 500, count right after on nodes 0..3: %s", strings.Join(got, " "))
}

// (c) insert_quorum=2 on one shard of two replicas.
func TestExpQuorum(t *testing.T) {
	c := chcluster.Start(t, chcluster.Options{Shards: 1, Replicas: 2})
	conn, _ := c.Open(0, "")
	defer conn.Close()
	schema(t, conn, c.Name)
	q := clickhouse.Settings{"insert_quorum": 2, "insert_quorum_timeout": 5000}
	t0 := time.Now()
	err := insertRows(withSettings(q), conn, "cw.events_local", "q1-", 10)
	t.Logf("quorum=2, both up: err=%v in %v", err, time.Since(t0).Round(time.Millisecond))
	c.Node(1).Kill()
	t0 = time.Now()
	err = insertRows(withSettings(q), conn, "cw.events_local", "q2-", 10)
	t.Logf("quorum=2 right after replica 2 was killed -9 (its session still open): err=%v in %v", err, time.Since(t0).Round(time.Millisecond))
	time.Sleep(chcluster.DefaultSessionTimeout + time.Second)
	t0 = time.Now()
	err = insertRows(withSettings(q), conn, "cw.events_local", "q3-", 10)
	t.Logf("quorum=2, replica 2 down past its session: err=%v in %v", err, time.Since(t0).Round(time.Millisecond))
	err = insertRows(withSettings(clickhouse.Settings{"insert_quorum": 2, "insert_distributed_sync": 1}), conn, "cw.events", "q4-", 10)
	t.Logf("quorum=2 through Distributed (sync), replica 2 down: err=%v", err)
	err = insertRows(withSettings(clickhouse.Settings{"insert_quorum": 2}), conn, "cw.events", "q5-", 10)
	t.Logf("quorum=2 through Distributed (async), replica 2 down: err=%v", err)
	time.Sleep(time.Second)
	n, _ := countQ(conn, "SELECT count() FROM cw.events_local WHERE device_id LIKE 'q5-%'")
	t.Logf("  async quorum rows on replica 1 after 1 s: %d; error log: %s", n, lastError(c.Node(0).Dir, "quorum"))
	n, err = countQ(conn, "SELECT count() FROM cw.events_local WHERE device_id LIKE 'q%'")
	t.Logf("rows on replica 1: %d (%v)", n, err)
	var n2 uint64
	err = conn.QueryRow(withSettings(clickhouse.Settings{"select_sequential_consistency": 1}), "SELECT count() FROM cw.events_local").Scan(&n2)
	t.Logf("select_sequential_consistency=1 on replica 1: %d (%v)", n2, err)
	if err := c.Node(1).Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	err = insertRows(withSettings(q), conn, "cw.events_local", "q6-", 10)
	t.Logf("quorum=2, replica 2 back: err=%v in %v", err, time.Since(t0).Round(time.Millisecond))
}

func lastError(dir, word string) string {
	data, _ := os.ReadFile(dir + "/error.log")
	lines := strings.Split(string(data), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], word) {
			l := lines[i]
			if len(l) > 300 {
				l = l[:300]
			}
			return l
		}
	}
	return "(none)"
}

// (g) a replica killed -9 and restarted at once: time until it is writable
// and has the rows inserted meanwhile, per session timeout.
func TestExpCatchUp(t *testing.T) {
	type tc struct {
		st   time.Duration
		wait bool
	}
	cases := []tc{{time.Second, false}, {2 * time.Second, false}, {3 * time.Second, false}, {30 * time.Second, false}, {3 * time.Second, true}, {time.Second, true}}
	if v := os.Getenv("CATCHUP"); v == "wait" {
		cases = []tc{{3 * time.Second, true}, {time.Second, true}}
	}
	for _, cs := range cases {
		st := cs.st
		t.Run(fmt.Sprintf("%v-wait=%v", st, cs.wait), func(t *testing.T) {
			c := chcluster.Start(t, chcluster.Options{Shards: 1, Replicas: 2, SessionTimeout: st})
			conn, _ := c.Open(0, "")
			defer conn.Close()
			schema(t, conn, c.Name)
			if err := insertRows(context.Background(), conn, "cw.events_local", "a", 1000); err != nil {
				t.Fatal(err)
			}
			// Load: keep inserting on replica 1 while replica 2 is away.
			stop := make(chan struct{})
			inserted := make(chan int)
			go func() {
				k := 0
				for {
					select {
					case <-stop:
						inserted <- k
						return
					default:
					}
					if err := insertRows(context.Background(), conn, "cw.events_local", fmt.Sprintf("l%d-", k), 100); err == nil {
						k++
					}
					time.Sleep(20 * time.Millisecond)
				}
			}()
			time.Sleep(300 * time.Millisecond)
			c.Node(1).Kill()
			t0 := time.Now()
			start := c.Node(1).StartNow
			if cs.wait {
				start = c.Node(1).Start
			}
			if err := start(); err != nil {
				t.Fatal(err)
			}
			up := time.Since(t0)
			back, _ := c.Open(1, "")
			defer back.Close()
			var writable time.Duration
			for time.Since(t0) < 60*time.Second {
				var ro uint8
				if err := back.QueryRow(context.Background(), "SELECT is_readonly FROM system.replicas WHERE table = 'events_local'").Scan(&ro); err == nil && ro == 0 {
					writable = time.Since(t0)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			close(stop)
			k := <-inserted
			want := uint64(1000 + 100*k)
			var caught time.Duration
			var n uint64
			for time.Since(t0) < 90*time.Second {
				n, _ = countQ(back, "SELECT count() FROM cw.events_local")
				if n == want {
					caught = time.Since(t0)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			var expired uint64
			_ = conn.QueryRow(context.Background(), "SELECT is_session_expired FROM system.replicas WHERE table = 'events_local'").Scan(&expired)
			t.Logf("session_timeout_ms=%d wait=%v: restart answered in %v, writable after %v, has all %d rows after %v (rows %d); replica 1 session expired: %d; %s",
				st.Milliseconds(), cs.wait, up.Round(time.Millisecond), writable.Round(time.Millisecond), want, caught.Round(time.Millisecond), n, expired,
				lastError(c.Node(1).Dir, "already active"))
		})
	}
}

// (h) startup time, RSS, close time of a 2×2 and a 1×2 stack.
func TestExpCost(t *testing.T) {
	for _, topo := range [][2]int{{2, 2}, {1, 2}, {2, 1}} {
		t.Run(fmt.Sprintf("%dx%d", topo[0], topo[1]), func(t *testing.T) {
			chcluster.Required(t)
			t0 := time.Now()
			c, err := chcluster.Launch(chcluster.Options{Shards: topo[0], Replicas: topo[1]})
			if err != nil {
				t.Fatal(err)
			}
			up := time.Since(t0)
			conn, _ := c.Open(0, "")
			t1 := time.Now()
			schema(t, conn, c.Name)
			ddl := time.Since(t1)
			t1 = time.Now()
			if err := insertRows(withSettings(clickhouse.Settings{"insert_distributed_sync": 1}), conn, "cw.events", "d", 1000); err != nil {
				t.Fatal(err)
			}
			ins := time.Since(t1)
			conn.Close()
			total := rss(c.ZK.Pid())
			parts := []string{fmt.Sprintf("zk %d", total)}
			for _, n := range c.Nodes() {
				r := rss(n.Pid())
				total += r
				parts = append(parts, fmt.Sprintf("%s %d", n.ReplicaName(), r))
			}
			t1 = time.Now()
			c.Close()
			t.Logf("%dx%d: launch %v, 3 ON CLUSTER DDL %v, sync Distributed insert of 1000 %v, RSS %d MB (%s), close %v",
				topo[0], topo[1], up.Round(time.Millisecond), ddl.Round(time.Millisecond), ins.Round(time.Millisecond), total, strings.Join(parts, ", "), time.Since(t1).Round(time.Millisecond))
		})
	}
}

// (a) FINAL through Distributed, by driver.
func TestExpFinal(t *testing.T) {
	c := chcluster.Start(t, chcluster.Options{Shards: 2, Replicas: 1})
	conn, _ := c.Open(0, "")
	defer conn.Close()
	schema(t, conn, c.Name)
	s := withSettings(clickhouse.Settings{"insert_distributed_sync": 1})
	for v := 1; v <= 3; v++ {
		b, _ := conn.PrepareBatch(s, "INSERT INTO cw.events (device_id, event_id, ts, status, version)")
		for d := range 10 {
			_ = b.Append(fmt.Sprintf("dev%d", d), "e", time.Now(), uint8(v), uint64(v))
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	n, err := countQ(conn, "SELECT count() FROM cw.events")
	t.Logf("2x1: rows without FINAL %d (%v)", n, err)
	n, err = countQ(conn, "SELECT count() FROM cw.events FINAL")
	t.Logf("2x1: rows with FINAL %d (%v)", n, err)
	n, err = countQ(conn, "SELECT count() FROM cw.events FINAL WHERE status = 3")
	t.Logf("2x1: FINAL rows with the last version %d (%v)", n, err)
	if err == nil && n != 10 {
		t.Error("FINAL did not keep the last version")
	}
}

// Follow-up of TestExpDistributedSync: a sync Distributed insert right after
// a shard's replicas were killed -9 and restarted.
func TestExpSyncAfterRestart(t *testing.T) {
	c := chcluster.Start(t, chcluster.Options{Shards: 2, Replicas: 2})
	conn, _ := c.Open(0, "")
	defer conn.Close()
	schema(t, conn, c.Name)
	sync := withSettings(clickhouse.Settings{"insert_distributed_sync": 1})
	if err := insertRows(sync, conn, "cw.events", "pre", 100); err != nil {
		t.Fatal(err)
	}
	c.At(2, 1).Kill()
	c.At(2, 2).Kill()
	t0 := time.Now()
	for _, n := range []*chcluster.Node{c.At(2, 1), c.At(2, 2)} {
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("shard 2 killed and restarted in %v", time.Since(t0).Round(time.Millisecond))
	err := insertRows(sync, conn, "cw.events", "imm", 500)
	t.Logf("sync insert of 500 right after: err=%v (at %v)", err, time.Since(t0).Round(time.Millisecond))
	for range 30 {
		var parts []string
		for i := range c.Nodes() {
			ci, _ := c.Open(i, "")
			n, err := countQ(ci, "SELECT count() FROM cw.events_local WHERE device_id LIKE 'imm%'")
			var ro uint8
			_ = ci.QueryRow(context.Background(), "SELECT is_readonly FROM system.replicas WHERE table = 'events_local'").Scan(&ro)
			ci.Close()
			if err != nil {
				parts = append(parts, "err")
			} else {
				parts = append(parts, fmt.Sprintf("%d(ro=%d)", n, ro))
			}
		}
		t.Logf("%v: local rows per node %s", time.Since(t0).Round(100*time.Millisecond), strings.Join(parts, " "))
		time.Sleep(500 * time.Millisecond)
	}
	for _, n := range c.Nodes() {
		t.Logf("%s error log: %s", n.ReplicaName(), lastError(n.Dir, "imm"))
	}
	for i := range c.Nodes() {
		ci, _ := c.Open(i, "")
		rows, err := ci.Query(context.Background(), "SELECT type, new_part_name, num_tries, last_exception, postpone_reason FROM system.replication_queue")
		if err != nil {
			t.Log(err)
			continue
		}
		for rows.Next() {
			var typ, part, exc, post string
			var tries uint32
			_ = rows.Scan(&typ, &part, &tries, &exc, &post)
			t.Logf("node %d queue: %s %s tries=%d exc=%.300s postponed=%.200s", i, typ, part, tries, exc, post)
		}
		rows.Close()
		var ls, lp string
		var act, tot uint8
		_ = ci.QueryRow(context.Background(), "SELECT toString(log_pointer), toString(log_max_index), active_replicas, total_replicas FROM system.replicas").Scan(&lp, &ls, &act, &tot)
		t.Logf("node %d: log_pointer %s log_max_index %s active %d/%d", i, lp, ls, act, tot)
		ci.Close()
	}
}

// (b) continued, healthy 2×2: quorum + sync, immediate reads, retries.
func TestExpQuorumSyncRetry(t *testing.T) {
	c := chcluster.Start(t, chcluster.Options{Shards: 2, Replicas: 2})
	conn, _ := c.Open(0, "")
	defer conn.Close()
	schema(t, conn, c.Name)
	counts := func(what string, s clickhouse.Settings, prefix string) {
		var got []string
		for i := range c.Nodes() {
			ci, _ := c.Open(i, "")
			var n uint64
			err := ci.QueryRow(withSettings(s), "SELECT count() FROM cw.events WHERE device_id LIKE '"+prefix+"%'").Scan(&n)
			if err != nil {
				got = append(got, fmt.Sprintf("err(%.120v)", err))
			} else {
				got = append(got, strconv.FormatUint(n, 10))
			}
			ci.Close()
		}
		t.Logf("%s: counts through Distributed on nodes 0..3: %s", what, strings.Join(got, " "))
	}
	for round := range 3 {
		p := fmt.Sprintf("s%d-", round)
		if err := insertRows(withSettings(clickhouse.Settings{"insert_distributed_sync": 1}), conn, "cw.events", p, 500); err != nil {
			t.Fatal(err)
		}
		counts("sync only, 500 rows, right after", nil, p)
		p = fmt.Sprintf("q%d-", round)
		t0 := time.Now()
		if err := insertRows(withSettings(clickhouse.Settings{"insert_distributed_sync": 1, "insert_quorum": 2}), conn, "cw.events", p, 500); err != nil {
			t.Fatal(err)
		}
		d := time.Since(t0)
		counts(fmt.Sprintf("sync+quorum=2 (insert took %v), right after", d.Round(time.Millisecond)), nil, p)
	}
	counts("select_sequential_consistency=1", clickhouse.Settings{"select_sequential_consistency": 1}, "q0-")

	// Retries of the same batch.
	sync := withSettings(clickhouse.Settings{"insert_distributed_sync": 1})
	for range 3 {
		if err := insertRows(sync, conn, "cw.events", "r-", 500); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.WaitReplicated(context.Background())
	counts("same 500-row batch sent 3 times, sync", nil, "r-")
	for range 3 {
		if err := insertRows(context.Background(), conn, "cw.events", "ra-", 500); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	_ = c.WaitReplicated(context.Background())
	counts("same 500-row batch sent 3 times, async", nil, "ra-")
	c2, _ := c.Open(3, "")
	defer c2.Close()
	if err := insertRows(sync, c2, "cw.events", "r-", 500); err != nil {
		t.Fatal(err)
	}
	_ = c.WaitReplicated(context.Background())
	counts("same batch once more through node 3", nil, "r-")
	if err := insertRows(sync, conn, "cw.events", "r-", 499); err != nil {
		t.Fatal(err)
	}
	_ = c.WaitReplicated(context.Background())
	counts("first 499 rows of that batch as a new batch", nil, "r-")
	var n uint64
	_ = conn.QueryRow(context.Background(), "SELECT count() FROM cw.events FINAL WHERE device_id LIKE 'r-%'").Scan(&n)
	t.Logf("  ... with FINAL: %d", n)
}

// (d) a materialized view ON CLUSTER from the replicated source into a
// ReplicatedAggregatingMergeTree, (e) IN/JOIN of two Distributed tables,
// (f) CREATE VIEW ON CLUSTER over Distributed tables.
func TestExpViews(t *testing.T) {
	c := chcluster.Start(t, chcluster.Options{Shards: 2, Replicas: 2})
	conn, _ := c.Open(0, "")
	defer conn.Close()
	schema(t, conn, c.Name)
	ctx := context.Background()
	exec := func(q string) error {
		err := conn.Exec(ctx, q)
		if err != nil {
			t.Logf("%.300v\n  %s", err, q)
		}
		return err
	}
	for _, q := range []string{
		`CREATE TABLE cw.rollup_local ON CLUSTER cspwatch (device_id String, day Date,
			attempts AggregateFunction(count), failures AggregateFunction(sum, UInt64), last AggregateFunction(max, DateTime))
			ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/cw/rollup_local', '{replica}')
			PARTITION BY toYYYYMM(day) ORDER BY (device_id, day)`,
		`CREATE MATERIALIZED VIEW cw.rollup_mv ON CLUSTER cspwatch TO cw.rollup_local AS
			SELECT device_id, toDate(ts) AS day, countState() AS attempts, sumState(toUInt64(status)) AS failures, maxState(ts) AS last
			FROM cw.events_local GROUP BY device_id, day`,
		`CREATE TABLE cw.rollup ON CLUSTER cspwatch AS cw.rollup_local
			ENGINE = Distributed(cspwatch, cw, rollup_local, cityHash64(device_id))`,
		`CREATE TABLE cw.cmd_local ON CLUSTER cspwatch (device_id String, cmd_id String, kind String)
			ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/cw/cmd_local', '{replica}') ORDER BY (device_id, cmd_id)`,
		`CREATE TABLE cw.cmd ON CLUSTER cspwatch AS cw.cmd_local ENGINE = Distributed(cspwatch, cw, cmd_local, cityHash64(device_id))`,
	} {
		if exec(q) != nil {
			t.FailNow()
		}
	}
	// 37 devices (prefix "d"), 1000 rows, half failures; async then sync;
	// then the first batch again (deduplicated).
	if err := insertRows(ctx, conn, "cw.events", "d", 1000); err != nil {
		t.Fatal(err)
	}
	if err := insertRows(withSettings(clickhouse.Settings{"insert_distributed_sync": 1}), conn, "cw.events", "e", 1000); err != nil {
		t.Fatal(err)
	}
	if err := insertRows(ctx, conn, "cw.events", "d", 1000); err != nil {
		t.Fatal(err)
	}
	b, _ := conn.PrepareBatch(withSettings(clickhouse.Settings{"insert_distributed_sync": 1}), "INSERT INTO cw.cmd (device_id, cmd_id, kind)")
	for i := range 10 {
		_ = b.Append(fmt.Sprintf("d%d", i), "c1", "install")
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	for i, n := range c.Nodes() {
		ci, _ := n.Open("")
		var a, f uint64
		var src, srcF uint64
		_ = ci.QueryRow(ctx, "SELECT countMerge(attempts), sumMerge(failures) FROM cw.rollup_local").Scan(&a, &f)
		_ = ci.QueryRow(ctx, "SELECT count(), sum(status) FROM cw.events_local").Scan(&src, &srcF)
		var da, df uint64
		_ = ci.QueryRow(ctx, "SELECT sum(a), sum(f) FROM (SELECT device_id, countMerge(attempts) a, sumMerge(failures) f FROM cw.rollup GROUP BY device_id)").Scan(&da, &df)
		t.Logf("(d) node %d %s: rollup_local attempts %d failures %d; events_local rows %d failures %d; via rollup Distributed %d/%d (want 2000/1000)",
			i, n.ReplicaName(), a, f, src, srcF, da, df)
		ci.Close()
	}
	c1, _ := c.Open(1, "")
	defer c1.Close()
	for _, q := range []string{
		"SELECT count() FROM cw.events WHERE device_id IN (SELECT device_id FROM cw.cmd)",
		"SELECT count() FROM cw.events WHERE device_id GLOBAL IN (SELECT device_id FROM cw.cmd)",
		"SELECT count() FROM cw.events WHERE device_id IN (SELECT device_id FROM cw.cmd_local)",
		"SELECT count() FROM cw.events ANY INNER JOIN (SELECT device_id, kind FROM cw.cmd) USING device_id",
		"SELECT count() FROM cw.events GLOBAL ANY INNER JOIN (SELECT device_id, kind FROM cw.cmd) USING device_id",
		"SELECT count() FROM cw.events ANY INNER JOIN (SELECT device_id, kind FROM cw.cmd_local) USING device_id",
		"SELECT count() FROM cw.events ALL INNER JOIN cw.cmd USING device_id",
		"SELECT count() FROM cw.events WHERE device_id IN ('d0','d1','d2','d3','d4','d5','d6','d7','d8','d9')",
	} {
		n, err := countQ(c1, q)
		t.Logf("(e) %d err=%.160v\n  %s", n, err, q)
	}
	for _, q := range []string{
		"CREATE VIEW cw.device_summary ON CLUSTER cspwatch AS SELECT device_id, count() AS attempts, sum(status) AS failures FROM cw.events GROUP BY device_id",
		"CREATE VIEW IF NOT EXISTS cw.device_summary ON CLUSTER cspwatch AS SELECT device_id, count() AS attempts, sum(status) AS failures FROM cw.events GROUP BY device_id",
		"CREATE VIEW cw.cmd_events ON CLUSTER cspwatch AS SELECT device_id, count() AS n FROM cw.events WHERE device_id GLOBAL IN (SELECT device_id FROM cw.cmd) GROUP BY device_id",
		"CREATE VIEW cw.events_final ON CLUSTER cspwatch AS SELECT * FROM cw.events FINAL",
		"CREATE OR REPLACE VIEW cw.events_final ON CLUSTER cspwatch AS SELECT * FROM cw.events FINAL",
	} {
		t.Logf("(f) err=%v\n  %s", exec(q), q)
	}
	c3, _ := c.Open(3, "")
	defer c3.Close()
	for _, q := range []string{
		"SELECT sum(attempts) FROM cw.device_summary",
		"SELECT sum(n) FROM cw.cmd_events",
		"SELECT count() FROM cw.events_final",
	} {
		n, err := countQ(c3, q)
		t.Logf("(f) on node 3: %d err=%.160v\n  %s", n, err, q)
	}
}
