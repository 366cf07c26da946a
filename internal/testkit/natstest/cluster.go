package natstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"
)

// A test JetStream cluster is N nats-servers on loopback, each with a fixed
// client port, a fixed cluster (route) port, its own data directory and a
// unique server name, routed to one another, as nats-server's and nats.go's
// own cluster tests build them. The ports and directories are chosen once
// (NewClusterSpec), so that a node stopped or killed comes back on the same
// ports with the same data and rejoins.
//
// The nodes run either in this process (StartCluster: Stop and Restart are a
// clean shutdown) or as child processes that a test can kill with SIGKILL:
// the child runs RunNode with the environment of ClusterSpec.NodeEnv.

// ClusterNode is one node of a ClusterSpec.
type ClusterNode struct {
	Name        string `json:"name"`
	Port        int    `json:"port"`
	ClusterPort int    `json:"cluster_port"`
	DataDir     string `json:"data_dir"`
}

// ClusterSpec describes a test cluster: its name and its nodes.
type ClusterSpec struct {
	Name  string        `json:"name"`
	Nodes []ClusterNode `json:"nodes"`
}

// NewClusterSpec chooses free loopback ports and temporary data directories
// (removed when the test ends) for a cluster of n nodes.
func NewClusterSpec(t testing.TB, n int) ClusterSpec {
	t.Helper()
	ports, err := freePorts(2 * n)
	if err != nil {
		t.Fatalf("natstest cluster: %v", err)
	}
	s := ClusterSpec{Name: "cspwatch-test"}
	for i := range n {
		s.Nodes = append(s.Nodes, ClusterNode{
			Name:        fmt.Sprintf("n%d", i+1),
			Port:        ports[2*i],
			ClusterPort: ports[2*i+1],
			DataDir:     t.TempDir(),
		})
	}
	return s
}

// freePorts returns n distinct loopback TCP ports that were free a moment
// ago: all are held open until all are chosen, so none is chosen twice.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Config returns the embedded-server configuration of node i: the defaults
// of a single-node run (sync_interval included) plus the cluster settings.
func (s ClusterSpec) Config(i int) bus.EmbeddedConfig {
	n := s.Nodes[i]
	cfg := bus.DefaultEmbeddedConfig()
	cfg.Port = n.Port
	cfg.DataDir = n.DataDir
	cfg.ServerName = n.Name
	cfg.ClusterName = s.Name
	cfg.ClusterPort = n.ClusterPort
	for _, o := range s.Nodes {
		cfg.Routes = append(cfg.Routes, fmt.Sprintf("nats://127.0.0.1:%d", o.ClusterPort))
	}
	return cfg
}

// URL is node i's client URL.
func (s ClusterSpec) URL(i int) string {
	return fmt.Sprintf("nats://127.0.0.1:%d", s.Nodes[i].Port)
}

// URLs is the comma-separated client URLs of every node, as --nats-url
// takes them: a client connected with it fails over between the nodes.
func (s ClusterSpec) URLs() string {
	urls := make([]string, len(s.Nodes))
	for i := range s.Nodes {
		urls[i] = s.URL(i)
	}
	return strings.Join(urls, ",")
}

// Index returns the index of the node named name, or -1.
func (s ClusterSpec) Index(name string) int {
	for i, n := range s.Nodes {
		if n.Name == name {
			return i
		}
	}
	return -1
}

// EnvNode is the environment variable that tells RunNode which node of which
// cluster to run.
const EnvNode = "CSPWATCH_NATSTEST_NODE"

type nodeEnv struct {
	Spec  ClusterSpec `json:"spec"`
	Index int         `json:"index"`
}

// NodeEnv is the environment ("KEY=value") of a child process that runs
// node i with RunNode.
func (s ClusterSpec) NodeEnv(i int) []string {
	b, err := json.Marshal(nodeEnv{Spec: s, Index: i})
	if err != nil {
		panic(err) // plain strings and ints
	}
	return []string{EnvNode + "=" + string(b)}
}

// RunNode runs the node that EnvNode names until gone closes; ready is
// called once the node accepts client connections. Its nats-server log is
// dropped: with nodes killed on purpose it is mostly route errors. It is the
// body of a test binary's child role.
func RunNode(gone <-chan struct{}, ready func()) error {
	var ne nodeEnv
	if err := json.Unmarshal([]byte(os.Getenv(EnvNode)), &ne); err != nil {
		return fmt.Errorf("%s: %w", EnvNode, err)
	}
	if ne.Index < 0 || ne.Index >= len(ne.Spec.Nodes) {
		return fmt.Errorf("%s: node %d of %d", EnvNode, ne.Index, len(ne.Spec.Nodes))
	}
	cfg := ne.Spec.Config(ne.Index)
	emb, err := bus.StartEmbedded(cfg)
	if err != nil {
		return err
	}
	ready()
	<-gone
	emb.Shutdown()
	return nil
}

// Cluster is a test cluster whose nodes run in this process.
type Cluster struct {
	t     testing.TB
	Spec  ClusterSpec
	nodes []*bus.Embedded // nil while stopped
}

// StartCluster starts a cluster of n nodes in this process and registers
// their shutdown with t.Cleanup. It waits until every node serves clients;
// JetStream's meta leader may still be in election (see EnsureStream).
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Spec: NewClusterSpec(t, n), nodes: make([]*bus.Embedded, n)}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Stop(i)
		}
	})
	// The nodes start at once: a node waits for its routes' peers to elect a
	// meta leader, which needs a quorum started.
	errs := make(chan error, n)
	for i := range n {
		go func() {
			emb, err := bus.StartEmbedded(c.Spec.Config(i))
			c.nodes[i] = emb
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("natstest cluster: %v", err)
		}
	}
	return c
}

// Node returns node i, or nil while it is stopped.
func (c *Cluster) Node(i int) *bus.Embedded { return c.nodes[i] }

// URLs is the comma-separated client URLs of every node.
func (c *Cluster) URLs() string { return c.Spec.URLs() }

// Stop shuts node i down; stopping a stopped node does nothing.
func (c *Cluster) Stop(i int) {
	if c.nodes[i] != nil {
		c.nodes[i].Shutdown()
		c.nodes[i] = nil
	}
}

// Restart starts node i again on its ports and data directory (stopping it
// first if it runs); it rejoins the cluster and catches up by itself.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	var err error
	deadline := time.Now().Add(10 * time.Second) // a port may take a moment to be free
	for {
		c.nodes[i], err = bus.StartEmbedded(c.Spec.Config(i))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatalf("natstest cluster restart %s: %v", c.Spec.Nodes[i].Name, err)
	}
}

// Conn connects a client to every node (it fails over between them),
// closed when the test ends.
func (c *Cluster) Conn() *nats.Conn {
	c.t.Helper()
	return ConnectURLs(c.t, c.URLs(), "natstest-cluster")
}

// JetStream connects a client to every node and returns its JetStream
// context.
func (c *Cluster) JetStream() jetstream.JetStream {
	c.t.Helper()
	js, err := jetstream.New(c.Conn())
	if err != nil {
		c.t.Fatalf("natstest cluster jetstream: %v", err)
	}
	return js
}

// ConnectURLs connects a client to urls (comma-separated), reconnecting
// forever every 50 ms, closed when the test ends.
func ConnectURLs(t testing.TB, urls, name string) *nats.Conn {
	t.Helper()
	cfg := bus.DefaultConnConfig()
	cfg.URL = urls
	cfg.Name = name
	cfg.ReconnectWait = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, cfg)
	if err != nil {
		t.Fatalf("natstest connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// EnsureStream creates the stream of cfg, retrying for up to d while the
// cluster cannot yet place it (no JetStream meta leader elected, too few
// peers up): what an operator-less start of ingest against a fresh cluster
// has to do too.
func EnsureStream(t testing.TB, js jetstream.JetStream, cfg bus.StreamConfig, d time.Duration) jetstream.Stream {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := bus.EnsureStream(ctx, js, cfg)
		cancel()
		if err == nil {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("natstest: stream %s not created within %v: %v", cfg.Name, d, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// StreamLeader returns the server name of the stream's current leader, as
// its stream info reports it (Cluster.Leader); an error while the stream
// has no leader.
func StreamLeader(ctx context.Context, js jetstream.JetStream, stream string) (string, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return "", err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return "", errors.New("stream " + stream + " has no leader")
	}
	return info.Cluster.Leader, nil
}

// WaitStreamLeader polls StreamLeader until the stream has a leader, at most
// d, and returns its server name.
func WaitStreamLeader(t testing.TB, js jetstream.JetStream, stream string, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		leader, err := StreamLeader(ctx, js, stream)
		cancel()
		if err == nil {
			return leader
		}
		if time.Now().After(deadline) {
			t.Fatalf("natstest: stream %s has no leader after %v: %v", stream, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
