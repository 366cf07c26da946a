// Package chcluster runs a throwaway ClickHouse cluster on one machine: a
// standalone ZooKeeper (internal/testkit/zookeeper) and shards × replicas
// clickhouse-server processes (Debian's 18.16 on these machines), all on free
// loopback ports with their config, data and logs under one directory.
//
// Every node knows the cluster (remote_servers/<Name>, internal_replication
// true, so a Distributed table writes to one replica per shard and
// replication copies the rest), its macros {shard} and {replica} (and
// {cluster}), the ZooKeeper and the distributed DDL queue, so the usual
// statements work as they would in production:
//
//	CREATE TABLE t ON CLUSTER cspwatch (...)
//	  ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}', v) ...
//	CREATE TABLE t_all ON CLUSTER cspwatch AS t
//	  ENGINE = Distributed(cspwatch, db, t, cityHash64(device_id))
//
// Every node's default profile (users.xml) sets distributed_product_mode =
// local, which cspwatch's cluster mode requires (internal/store/cluster.go):
// IN and JOIN subqueries over a Distributed table inside a distributed query
// then read the shard's local table instead of being refused.
//
// ZooKeeper starts first and answers imok before any ClickHouse starts (with
// all started at once an ON CLUSTER query crashed a replica of 18.16); Close
// stops ClickHouse before ZooKeeper.
//
// Tests use Start (testing.go), which skips or fails by the same policy as
// internal/testkit/clickhousetest and closes the cluster when the test ends.
package chcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cspwatch/cspwatch/internal/testkit/chserver"
	"github.com/cspwatch/cspwatch/internal/testkit/zookeeper"
)

// DefaultName is the cluster name when Options.Name is empty.
const DefaultName = "cspwatch"

// DefaultSessionTimeout is ClickHouse's ZooKeeper session timeout when
// Options.SessionTimeout is zero. A node killed with SIGKILL must not start
// again before its old session has expired (see Node.Start, which waits for
// it); ClickHouse's default (30 s, which the ZooKeeper here caps at 20 ticks =
// 10 s) would make every kill-and-restart test wait that long. 3 s is short
// enough for tests and long enough not to expire live sessions on a loaded
// 2-core machine.
const DefaultSessionTimeout = 3 * time.Second

// StartTimeout bounds how long one clickhouse-server may take to answer
// SELECT 1 and reach ZooKeeper.
const StartTimeout = 60 * time.Second

// Options describe the cluster to launch. The zero value is one shard of
// two replicas named "cspwatch".
type Options struct {
	// Name is the cluster's name in remote_servers (DefaultName if empty).
	Name string
	// Shards and Replicas per shard; 0 means 1 shard and 2 replicas.
	Shards, Replicas int
	// SessionTimeout is ClickHouse's zookeeper/session_timeout_ms
	// (DefaultSessionTimeout if 0). ZooKeeper runs with tickTime 500 ms
	// and so grants between 1 s and 10 s.
	SessionTimeout time.Duration
	// ClickHouse is the clickhouse-server executable; empty means
	// chserver.Binary("").
	ClickHouse string
	// ZooKeeper is the java and jars to run ZooKeeper with; nil means
	// zookeeper.Find().
	ZooKeeper *zookeeper.Install
	// Dir holds everything; empty means a new temporary directory, which
	// Close removes. A given Dir is left in place.
	Dir string
}

// Cluster is a running ZooKeeper and its clickhouse-server nodes.
type Cluster struct {
	// Name is the cluster's name, for ON CLUSTER and Distributed(...).
	Name string
	// Shards and Replicas are the topology.
	Shards, Replicas int
	// ZK is the ZooKeeper; ZK.Addr is its client address.
	ZK *zookeeper.Server
	// Dir holds zookeeper/ and one directory per node.
	Dir string

	nodes   []*Node
	ownsDir bool
	once    sync.Once
}

// Node is one clickhouse-server of the cluster. Its ports and data directory
// stay the same across Stop/Kill and Start.
type Node struct {
	// Index is the node's position in Cluster.Nodes (shard-major: shard 1's
	// replicas first).
	Index int
	// Shard and Replica are 1-based; the macros are {shard} = "<Shard>" and
	// {replica} = "s<Shard>r<Replica>".
	Shard, Replica int
	// Addr is host:port of the native protocol.
	Addr string
	// HTTPAddr is host:port of the HTTP interface.
	HTTPAddr string
	// InterserverAddr is host:port of the replication (interserver HTTP)
	// endpoint.
	InterserverAddr string
	// Dir holds config.xml, users.xml, data and logs.
	Dir string

	bin     string
	session time.Duration
	mu      sync.Mutex
	cmd     *proc
	// killedAt is when the node last died without closing its ZooKeeper
	// session (SIGKILL); zero after a clean stop.
	killedAt time.Time
}

// ReplicaName is the node's {replica} macro.
func (n *Node) ReplicaName() string { return fmt.Sprintf("s%dr%d", n.Shard, n.Replica) }

// Launch starts ZooKeeper, waits for imok, then starts every node and waits
// until each answers SELECT 1 and reads system.zookeeper. On error,
// everything started is stopped again.
func Launch(opts Options) (*Cluster, error) {
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.Shards == 0 && opts.Replicas == 0 {
		opts.Shards, opts.Replicas = 1, 2
	}
	if opts.Shards < 1 || opts.Replicas < 1 {
		return nil, fmt.Errorf("chcluster: topology %d×%d: need at least one shard and one replica", opts.Shards, opts.Replicas)
	}
	if opts.SessionTimeout == 0 {
		opts.SessionTimeout = DefaultSessionTimeout
	}
	bin := opts.ClickHouse
	if bin == "" {
		var err error
		if bin, err = chserver.Binary(""); err != nil {
			return nil, err
		}
	}
	var inst zookeeper.Install
	if opts.ZooKeeper != nil {
		inst = *opts.ZooKeeper
	} else {
		var err error
		if inst, err = zookeeper.Find(); err != nil {
			return nil, err
		}
	}
	c := &Cluster{Name: opts.Name, Shards: opts.Shards, Replicas: opts.Replicas, Dir: opts.Dir}
	if c.Dir == "" {
		dir, err := os.MkdirTemp("", "chcluster-")
		if err != nil {
			return nil, err
		}
		c.Dir, c.ownsDir = dir, true
	}
	fail := func(err error) (*Cluster, error) {
		c.Close()
		return nil, err
	}
	zkDir := filepath.Join(c.Dir, "zookeeper")
	if err := os.MkdirAll(zkDir, 0o755); err != nil {
		return fail(err)
	}
	zk, err := zookeeper.Launch(inst, zkDir)
	if err != nil {
		return fail(fmt.Errorf("chcluster: %w", err))
	}
	c.ZK = zk

	n := opts.Shards * opts.Replicas
	ports, err := freePorts(3 * n)
	if err != nil {
		return fail(err)
	}
	for s := 1; s <= opts.Shards; s++ {
		for r := 1; r <= opts.Replicas; r++ {
			i := len(c.nodes)
			node := &Node{
				Index:           i,
				Shard:           s,
				Replica:         r,
				Addr:            hostPort(ports[3*i]),
				HTTPAddr:        hostPort(ports[3*i+1]),
				InterserverAddr: hostPort(ports[3*i+2]),
				Dir:             filepath.Join(c.Dir, fmt.Sprintf("node%d-s%dr%d", i, s, r)),
				bin:             bin,
				session:         opts.SessionTimeout,
			}
			c.nodes = append(c.nodes, node)
		}
	}
	for _, node := range c.nodes {
		if err := writeConfig(c, node, opts.SessionTimeout); err != nil {
			return fail(err)
		}
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, node := range c.nodes {
		wg.Go(func() { errs[i] = node.Start() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(fmt.Errorf("chcluster: %w", err))
	}
	return c, nil
}

// Nodes returns the nodes, shard-major.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Node returns node i (shard-major: i = (shard-1)*Replicas + replica-1).
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// At returns the node of the 1-based shard and replica.
func (c *Cluster) At(shard, replica int) *Node {
	return c.nodes[(shard-1)*c.Replicas+replica-1]
}

// Addrs returns every node's native address, shard-major, for a client that
// may talk to any node (clickhouse.Options.Addr).
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Addr
	}
	return out
}

// Close stops every node (in parallel), then ZooKeeper, and removes Dir if
// Launch created it. Calling it again does nothing.
func (c *Cluster) Close() {
	c.once.Do(func() {
		var wg sync.WaitGroup
		for _, n := range c.nodes {
			wg.Go(n.Stop)
		}
		wg.Wait()
		if c.ZK != nil {
			c.ZK.Stop()
		}
		if c.ownsDir {
			_ = os.RemoveAll(c.Dir)
		}
	})
}

// Open opens a native-protocol connection to node i as the passwordless
// default user, on database db ("" means default).
func (c *Cluster) Open(i int, db string) (driver.Conn, error) { return Open(c.nodes[i].Addr, db) }

// Open opens a native-protocol connection to addr as the passwordless
// default user, on database db ("" means default).
func Open(addr, db string) (driver.Conn, error) {
	if db == "" {
		db = "default"
	}
	return clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		Protocol:    clickhouse.Native,
		Auth:        clickhouse.Auth{Database: db, Username: "default"},
		DialTimeout: 5 * time.Second,
		ReadTimeout: time.Minute,
	})
}

// WaitReplicated waits until, on every running node, no replicated table is
// read-only or has an expired ZooKeeper session, and every replicated table
// has fetched what its log holds (SYSTEM SYNC REPLICA on each). Call it after
// inserting and before counting rows on a particular replica (a Distributed
// SELECT reads one replica per shard, which may lag), and after restarting a
// node. It is not a proof after StartNow: a replica started while its old
// session lived reported is_readonly = 0 and an empty queue yet lacked parts.
func (c *Cluster) WaitReplicated(ctx context.Context) error {
	for _, n := range c.nodes {
		if !n.Running() {
			continue
		}
		if err := n.WaitReplicated(ctx); err != nil {
			return fmt.Errorf("node %d (%s): %w", n.Index, n.ReplicaName(), err)
		}
	}
	return nil
}

// WaitReplicated waits until the node's replicated tables are writable
// (not read-only, session not expired) and then runs SYSTEM SYNC REPLICA on
// each, so they hold every part their shard's log names.
func (n *Node) WaitReplicated(ctx context.Context) error {
	conn, err := Open(n.Addr, "")
	if err != nil {
		return err
	}
	defer conn.Close()
	for {
		var bad uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM system.replicas WHERE is_readonly OR is_session_expired").Scan(&bad)
		if err == nil && bad == 0 {
			break
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("%d replicated tables read-only or without a session", bad)
			}
			return fmt.Errorf("replicas not writable: %w (%w)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	rows, err := conn.Query(ctx, "SELECT database, table FROM system.replicas")
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var db, t string
		if err := rows.Scan(&db, &t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, quoteIdent(db)+"."+quoteIdent(t))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range tables {
		if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA "+t); err != nil {
			return fmt.Errorf("SYSTEM SYNC REPLICA %s: %w", t, err)
		}
	}
	return nil
}

// Start starts a stopped node on its ports and data directory and waits
// until it answers SELECT 1 and reads system.zookeeper (at most
// StartTimeout). Starting a running node does nothing.
//
// After Kill, Start first waits until the killed process's ZooKeeper
// session has expired (Options.SessionTimeout plus a second from the kill).
// Measured on 18.16: a node started while its old session lives answers at
// once and even reports is_readonly = 0, but its replicated tables fail to
// start replication ("Replica ... appears to be already active"), and the
// server retries only about 10 s later, so it fetched nothing for ~11 s
// whatever the session timeout; started after expiry it caught up in 0.2 s.
// StartNow skips the wait, to reproduce that state.
func (n *Node) Start() error { return n.start(true) }

// StartNow is Start without waiting for the old ZooKeeper session to expire
// after Kill.
func (n *Node) StartNow() error { return n.start(false) }

// SessionGrace is what Start waits after Kill beyond Options.SessionTimeout:
// ZooKeeper expires sessions on its 500 ms ticks, and a loaded machine is late.
const SessionGrace = time.Second

func (n *Node) start(waitSession bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return nil
	}
	if waitSession && !n.killedAt.IsZero() {
		time.Sleep(time.Until(n.killedAt.Add(n.session + SessionGrace)))
	}
	n.killedAt = time.Time{}
	p, err := startProc(n.bin, n.Dir)
	if err != nil {
		return err
	}
	n.cmd = p
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := waitReady(ctx, n.Addr, p.done); err != nil {
		p.stop(true)
		n.cmd, n.killedAt = nil, time.Now()
		return fmt.Errorf("node %s: %w; server log: %s", n.ReplicaName(), err, tailLog(n.Dir))
	}
	return nil
}

// Stop terminates the node (SIGTERM, then SIGKILL after 10 s) and waits for
// it to exit; a clean shutdown closes its ZooKeeper session, so Start need
// not wait. Stopping a stopped node does nothing.
func (n *Node) Stop() { n.halt(false) }

// Kill kills the node with SIGKILL, as a crash or an OOM kill would, and
// waits for it to exit. Killing a stopped node does nothing.
func (n *Node) Kill() { n.halt(true) }

func (n *Node) halt(kill bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	if n.cmd.stop(kill) {
		n.killedAt = time.Now()
	}
	n.cmd = nil
}

// Running reports whether the node's process is up.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

// Pid is the node's process id, 0 when stopped.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.cmd.Process.Pid
}

// Open opens a native-protocol connection to the node (see Open).
func (n *Node) Open(db string) (driver.Conn, error) { return Open(n.Addr, db) }

// waitReady polls until the server can read system.zookeeper, the process
// exits, or ctx ends.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	return chserver.WaitReady(ctx, addr, exited, func(ctx context.Context, conn driver.Conn) error {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var n uint64
		if err := conn.QueryRow(qctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&n); err != nil {
			return fmt.Errorf("system.zookeeper: %w", err)
		}
		return nil
	})
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "\\`") + "`" }

func hostPort(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }

func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func tailLog(dir string) string {
	var b strings.Builder
	for _, name := range []string{"stdout.log", "error.log"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		b.Write(data)
	}
	return strings.TrimSpace(b.String())
}
