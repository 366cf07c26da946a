package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Cluster mode (Config.Cluster, --clickhouse-cluster NAME).
//
// The migrations of schema/ are written for one server. In cluster mode
// Migrate runs each statement through ClusterStatements, which turns it into
// the statements of a replicated, sharded layout, ON CLUSTER and
// idempotently:
//
//   - CREATE TABLE t (...) ENGINE = E(args) becomes t_local with the
//     Replicated variant of E ('/clickhouse/tables/{shard}/<db>/t_local',
//     '{replica}', args), and t itself a Distributed table over t_local with
//     the sharding key of ShardingKey, so that every query of the code reads
//     t as before, over the whole cluster;
//   - a materialized view reads the local source and writes the local target
//     on every node (a view runs where the INSERT lands, and replication of
//     the source does not run views);
//   - a view is created ON CLUSTER over the Distributed tables;
//   - any ALTER other than ADD COLUMN (an index) runs on t_local only;
//   - an INSERT ... SELECT stays as it is (through the Distributed tables);
//   - ALTER ... ADD COLUMN runs ON CLUSTER on t_local only: 18.16 refuses
//     ALTER ON CLUSTER of a Distributed table on a cluster with
//     internal_replication (code 371), so after each migration Migrate
//     re-creates, ON CLUSTER, every Distributed table whose columns differ
//     from its local table's (syncDistributed). The ADD COLUMNs of one
//     migration and table run as one ALTER (execClusterStatements): every
//     ON CLUSTER statement is a round of the distributed DDL queue, ~0.3 s.
//
// What an acknowledgement means. The writer's connection sets
// insert_distributed_sync = 1, so an INSERT through a Distributed table
// returns (and the aggregator acks the batch to JetStream) only after, for
// every shard the rows belong to, one replica has committed them (a part on
// its disk and in the shard's ZooKeeper log, from which the other replicas
// fetch it). Without it the Distributed table would queue the rows on the
// receiving node's disk and answer at once: an ack would then rest on one
// node's spool. Losing that replica's disk before a peer fetched the part
// still loses the rows; InsertQuorum N (insert_quorum) makes the INSERT wait
// until N replicas of the shard have them, at the price of failing inserts
// (codes 285/319 after InsertQuorumTimeout, retried, nothing acked) while
// fewer than N replicas of a shard are up. A Distributed INSERT is not
// atomic across shards: a failed one may have written some shards, and the
// retry writes them again, which exactly-once storage absorbs as on one
// server (ReplacingMergeTree read with FINAL, uniqExact sets). The writer
// turns the replicated tables' block deduplication off (insert_deduplicate
// = 0, see clusterSettings): on 18.16 a deduplicated block skips the
// materialized views, which lost rollup rows in the replica-kill test.
//
// FINAL on a Distributed table collapses rows per shard only, and the
// attempt views join and filter a device's events with its own events (IN
// and JOIN subqueries by tenant and device): so every device table is
// sharded by cityHash64(tenant, device_id), which keeps every copy of an
// event and every event of a device on one shard, and the servers must run
// with distributed_product_mode = 'local' (or 'global') in the profile, which
// makes those subqueries read the shard's local table (the 18.16 default,
// 'deny', refuses them). Open checks it.

// product_catalog's rows from the events are written by its materialized
// views on the shard of the device that reported them, so one product may
// have a row per shard and source; the catalog's readers aggregate by
// (tenant, csp, target_id) and priority, which merges them. Between two
// rows of equal priority on two shards (devices of both shards reporting
// different names for one product) the pick is argMax's, not the newest:
// the older shard's row stays until a device of that shard reports again.
// Ordering by (priority, updated_at) would fix it; a known limit.
//
// ShardingKey returns the Distributed sharding key of a table of the schema
// in cluster mode: by device for the tables with one (all of a device's
// events, commands and state on one shard), by product for product_catalog,
// by alert for alerts, by version for schema_migrations, and by rand() for
// the hourly rollup, which only its materialized view writes (locally).
func ShardingKey(table string) string {
	switch table {
	case "install_events", "install_state", "server_commands":
		return "cityHash64(tenant, device_id)"
	case "product_catalog":
		return "cityHash64(tenant, csp, target_id)"
	case "alerts":
		return "cityHash64(tenant, alert_id)"
	case "schema_migrations":
		return "version"
	}
	return "rand()"
}

// LocalSuffix names the replicated table under a Distributed one.
const LocalSuffix = "_local"

// RequiredProductModes are the values of the profile setting
// distributed_product_mode that cluster mode accepts.
var RequiredProductModes = []string{"local", "global"}

// InsertQuorumTimeout bounds an INSERT waiting for its quorum
// (insert_quorum_timeout; 18.16's default is 10 minutes).
const InsertQuorumTimeout = 30 * time.Second

var (
	createTableRE = regexp.MustCompile(`(?s)^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s*(\(.*\))\s*ENGINE\s*=\s*([A-Za-z]+)(\(([^()]*)\))?(.*)$`)
	createMVRE    = regexp.MustCompile(`(?s)^CREATE\s+MATERIALIZED\s+VIEW\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s+TO\s+([A-Za-z_][A-Za-z0-9_]*)\s+AS\s+(.*)$`)
	createViewRE  = regexp.MustCompile(`(?s)^CREATE\s+VIEW\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s+AS\s+(.*)$`)
	alterRE       = regexp.MustCompile(`(?s)^ALTER\s+TABLE\s+([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$`)
	insertRE      = regexp.MustCompile(`(?is)^INSERT\s+INTO\s`)
	fromRE        = regexp.MustCompile(`\b(FROM|JOIN)(\s+)([A-Za-z_][A-Za-z0-9_]*)\b`)
)

// ClusterStatements transforms one statement of a migration into the
// statements cluster mode runs instead, for the cluster and database given
// (see the package's cluster mode comment). tables are the names created by
// the migrations so far (and this statement's, once it returns); a FROM or
// JOIN of one of them is qualified with the database, as ON CLUSTER DDL runs
// on every node in its default database. A statement of another form is an
// error: a new kind of migration needs its cluster form decided here.
func ClusterStatements(st, cluster, db string, tables map[string]bool) ([]string, error) {
	on := " ON CLUSTER " + cluster
	q := func(name string) string { return db + "." + name }
	qualify := func(sql string, local bool) string {
		return fromRE.ReplaceAllStringFunc(sql, func(m string) string {
			p := fromRE.FindStringSubmatch(m)
			if !tables[p[3]] {
				return m
			}
			name := p[3]
			if local {
				name += LocalSuffix
			}
			return p[1] + p[2] + q(name)
		})
	}
	if m := createTableRE.FindStringSubmatch(st); m != nil {
		name, cols, engine, args, rest := m[1], m[2], m[3], m[5], m[6]
		if !strings.HasSuffix(engine, "MergeTree") || strings.HasPrefix(engine, "Replicated") {
			return nil, fmt.Errorf("cluster mode: table %s: engine %s has no replicated form here", name, engine)
		}
		local := name + LocalSuffix
		rargs := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", db, local)
		if strings.TrimSpace(args) != "" {
			rargs += ", " + strings.TrimSpace(args)
		}
		tables[name] = true
		return []string{
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s %s ENGINE = Replicated%s(%s)%s", q(local), on, cols, engine, rargs, rest),
			distributedTable(name, cluster, db),
		}, nil
	}
	if m := createMVRE.FindStringSubmatch(st); m != nil {
		name, target, sel := m[1], m[2], m[3]
		if !tables[target] {
			return nil, fmt.Errorf("cluster mode: view %s: target %s is not a table of the migrations", name, target)
		}
		tables[name] = true
		return []string{fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s%s TO %s AS %s", q(name), on, q(target+LocalSuffix), qualify(sel, true))}, nil
	}
	if m := createViewRE.FindStringSubmatch(st); m != nil {
		name, sel := m[1], m[2]
		tables[name] = true
		return []string{fmt.Sprintf("CREATE VIEW IF NOT EXISTS %s%s AS %s", q(name), on, qualify(sel, false))}, nil
	}
	if m := alterRE.FindStringSubmatch(st); m != nil {
		name, rest := m[1], m[2]
		if !tables[name] {
			return nil, fmt.Errorf("cluster mode: ALTER of %s, not a table of the migrations", name)
		}
		// 18.16 refuses ALTER ON CLUSTER of the Distributed table (code
		// 371: not replicated, on a cluster with internal_replication):
		// Migrate re-creates it after the migration instead (syncDistributed).
		return []string{fmt.Sprintf("ALTER TABLE %s%s%s %s", name, LocalSuffix, on, rest)}, nil
	}
	if insertRE.MatchString(st) {
		return []string{st}, nil
	}
	return nil, fmt.Errorf("cluster mode: no cluster form for statement %.80q", st)
}

// distributedTable is the CREATE of the Distributed table name over its
// local table, with the columns the local table has now.
func distributedTable(name, cluster, db string) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s%s ENGINE = Distributed(%s, %s, %s%s, %s)",
		db, name, cluster, db, name, LocalSuffix, cluster, db, name, LocalSuffix, ShardingKey(name))
}

// syncDistributed re-creates, ON CLUSTER, every Distributed table of the
// database whose columns differ from its local table's (after an ALTER ADD
// COLUMN, which 18.16 cannot run ON CLUSTER on a Distributed table). A
// Distributed table holds no data with insert_distributed_sync = 1, so
// dropping it loses nothing; a query in the instant between the DROP and
// the CREATE fails and is retried like any unreachable server.
func (s *Store) syncDistributed(ctx context.Context) error {
	cols := func(table string) (string, error) {
		rows, err := s.conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = ? ORDER BY name", table)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var n, t string
			if err := rows.Scan(&n, &t); err != nil {
				return "", err
			}
			b.WriteString(n + " " + t + ",")
		}
		return b.String(), rows.Err()
	}
	rows, err := s.conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'Distributed'")
	if err != nil {
		return fmt.Errorf("distributed tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range names {
		dist, err := cols(name)
		if err != nil {
			return fmt.Errorf("columns of %s: %w", name, err)
		}
		local, err := cols(name + LocalSuffix)
		if err != nil {
			return fmt.Errorf("columns of %s%s: %w", name, LocalSuffix, err)
		}
		if local == "" || dist == local {
			continue
		}
		if err := s.conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s ON CLUSTER %s", s.cfg.Database, name, s.cfg.Cluster)); err != nil {
			return fmt.Errorf("re-create %s: %w", name, err)
		}
		if err := s.conn.Exec(ctx, distributedTable(name, s.cfg.Cluster, s.cfg.Database)); err != nil {
			return fmt.Errorf("re-create %s: %w", name, err)
		}
	}
	return nil
}

// execClusterStatements runs the cluster forms of a migration's statements
// in order, each consecutive run of ADD COLUMN IF NOT EXISTS of one table
// as one ALTER ON CLUSTER adding the columns the table lacks here.
func (s *Store) execClusterStatements(ctx context.Context, sts []string) error {
	for i := 0; i < len(sts); {
		ac, err := parseAddColumn(sts[i])
		if err != nil {
			return err
		}
		if ac == nil || !strings.Contains(ac.plain, " ON CLUSTER ") {
			if err := s.execStatement(ctx, sts[i]); err != nil {
				return fmt.Errorf("%w (cluster form: %.120q)", err, sts[i])
			}
			i++
			continue
		}
		var adds []string
		for ; i < len(sts); i++ {
			next, err := parseAddColumn(sts[i])
			if err != nil || next == nil || next.table != ac.table {
				break
			}
			ok, err := s.columnExists(ctx, next.table, next.column)
			if err != nil {
				return err
			}
			if !ok {
				_, clause, _ := strings.Cut(next.plain, " ON CLUSTER "+s.cfg.Cluster+" ")
				adds = append(adds, clause)
			}
		}
		if len(adds) == 0 {
			continue
		}
		q := "ALTER TABLE " + ac.table + " ON CLUSTER " + s.cfg.Cluster + " " + strings.Join(adds, ", ")
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%w (cluster form: %.120q)", err, q)
		}
	}
	return nil
}

// clusterSettings are the session settings of a writing connection in
// cluster mode.
func (c Config) clusterSettings() clickhouse.Settings {
	if c.Cluster == "" {
		return nil
	}
	// insert_deduplicate = 0: a replicated table drops a block it has seen
	// (the retry of an INSERT whose answer was lost, or that a killed
	// replica committed), and 18.16 then runs no materialized view for it,
	// so the rollups would miss the events whose first try died between the
	// source's commit and the view's. Storage is idempotent by event_id, so
	// the second copy costs nothing and every view sees it.
	s := clickhouse.Settings{"insert_distributed_sync": 1, "insert_deduplicate": 0}
	if c.InsertQuorum > 0 {
		s["insert_quorum"] = c.InsertQuorum
		s["insert_quorum_timeout"] = int(InsertQuorumTimeout.Milliseconds())
	}
	return s
}

// ErrSetup marks a server or database set up in a way cspwatch cannot
// work with (an unknown cluster, a profile setting, a database of the other
// mode): permanent, retrying cannot cure it.
var ErrSetup = errors.New("clickhouse setup")

// checkCluster verifies, in cluster mode, that the server knows the cluster
// and runs with a distributed_product_mode the attempt views work with.
func (s *Store) checkCluster(ctx context.Context) error {
	if s.cfg.Cluster == "" {
		return nil
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.clusters WHERE cluster = ?", s.cfg.Cluster).Scan(&n); err != nil {
		return fmt.Errorf("clickhouse cluster %s: %w", s.cfg.Cluster, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: --clickhouse-cluster %q is not in the server's remote_servers (system.clusters)", ErrSetup, s.cfg.Cluster)
	}
	var mode string
	if err := s.conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'distributed_product_mode'").Scan(&mode); err != nil {
		return fmt.Errorf("clickhouse distributed_product_mode: %w", err)
	}
	for _, ok := range RequiredProductModes {
		if mode == ok {
			return nil
		}
	}
	return fmt.Errorf("%w: clickhouse cluster mode needs the profile setting distributed_product_mode = 'local' (users.xml: <profiles><default><distributed_product_mode>local</distributed_product_mode>) for the attempt views' subqueries; the user's profile has %q", ErrSetup, mode)
}
