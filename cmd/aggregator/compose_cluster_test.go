package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/testkit/compose"
)

// clusterComposePath is the cluster topology's compose file (README
// "Running in production"); cmd/ingest checks its NATS nodes and ingest
// replicas.
var clusterComposePath = filepath.Join("..", "..", "docker-compose.cluster.yml")

// clusterEnvs are the variable sets each test loads the file with: none
// (every default) and the ones a deployment sets.
var clusterEnvs = map[string]map[string]string{
	"defaults": nil,
	"set": {
		"CSPWATCH_NATS_USER": "ops", "CSPWATCH_NATS_PASSWORD": "n4ts",
		"CSPWATCH_CLICKHOUSE_PASSWORD": "ch", "CSPWATCH_CLICKHOUSE_CLUSTER_SECRET": "s3cret",
	},
}

func clusterLoad(t *testing.T, env map[string]string) (*compose.File, map[string]compose.Service) {
	t.Helper()
	f, err := compose.LoadEnv(clusterComposePath, env)
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := f.Services()
	if err != nil {
		t.Fatal(err)
	}
	return f, svcs
}

// clusterNamed returns the names of the services called prefix-N (N a
// number, or S-R for ClickHouse), sorted.
func clusterNamed(svcs map[string]compose.Service, prefix string) []string {
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `-\d+(-\d+)?$`)
	var out []string
	for name := range svcs {
		if re.MatchString(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// clusterFlagValue returns the value of flag name on a command line as the
// flag package reads it (-name=v, --name=v, -name v, --name v) and whether
// it is there. It reads the command itself, so it also checks the value of
// a flag the binary does not register yet.
func clusterFlagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		n, v, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || n != name {
			continue
		}
		if hasValue {
			return v, true
		}
		if i+1 < len(args) {
			return args[i+1], true
		}
		return "", true
	}
	return "", false
}

// clusterSetting is a setting of an aggregator service: its command-line
// flag, else its CSPWATCH_ variable.
func clusterSetting(s compose.Service, name string) (string, bool) {
	if len(s.Command) > 0 {
		if v, ok := clusterFlagValue(s.Command[1:], name); ok {
			return v, true
		}
	}
	v, ok := s.Environment[cli.EnvKey(cli.EnvPrefix, name)]
	return v, ok
}

// clusterCHNode is what one ClickHouse node's mounted config.d and users.d
// files set, merged.
type clusterCHNode struct {
	Clusters  []clusterCHCluster
	ZooKeeper []clusterHostPort
	Shard     string
	Replica   string
	// Interserver is interserver_http_host: the name other replicas fetch
	// parts from.
	Interserver string
	// ProductMode is the default profile's distributed_product_mode.
	ProductMode string
}

type clusterHostPort struct {
	Host string `xml:"host"`
	Port int    `xml:"port"`
}

func (h clusterHostPort) String() string { return h.Host + ":" + strconv.Itoa(h.Port) }

type clusterCHCluster struct {
	XMLName xml.Name
	Secret  *struct {
		FromEnv string `xml:"from_env,attr"`
		Value   string `xml:",chardata"`
	} `xml:"secret"`
	Shards []struct {
		InternalReplication bool              `xml:"internal_replication"`
		Replicas            []clusterHostPort `xml:"replica"`
	} `xml:"shard"`
}

// clusterCHFile is the part of a ClickHouse configuration file (root
// <clickhouse> or <yandex>) that the cluster relies on.
type clusterCHFile struct {
	RemoteServers struct {
		Clusters []clusterCHCluster `xml:",any"`
	} `xml:"remote_servers"`
	ZooKeeper struct {
		Nodes []clusterHostPort `xml:"node"`
	} `xml:"zookeeper"`
	Macros struct {
		Shard   string `xml:"shard"`
		Replica string `xml:"replica"`
	} `xml:"macros"`
	Interserver string `xml:"interserver_http_host"`
	Profiles    struct {
		Default struct {
			ProductMode string `xml:"distributed_product_mode"`
		} `xml:"default"`
	} `xml:"profiles"`
}

// clusterReadCHNode reads the configuration files that service s mounts
// into /etc/clickhouse-server/config.d and users.d.
func clusterReadCHNode(t *testing.T, s compose.Service) clusterCHNode {
	t.Helper()
	var n clusterCHNode
	files := 0
	for _, v := range s.Config.Volumes {
		if v.Type != "bind" || !(strings.HasPrefix(v.Target, "/etc/clickhouse-server/config.d/") || strings.HasPrefix(v.Target, "/etc/clickhouse-server/users.d/")) {
			continue
		}
		b, err := os.ReadFile(v.Source)
		if err != nil {
			t.Fatalf("%s mounts %s: %v", s.Name, v.Source, err)
		}
		var c clusterCHFile
		if err := xml.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", v.Source, err)
		}
		files++
		n.Clusters = append(n.Clusters, c.RemoteServers.Clusters...)
		n.ZooKeeper = append(n.ZooKeeper, c.ZooKeeper.Nodes...)
		for _, kv := range []struct {
			dst *string
			src string
		}{
			{&n.Shard, c.Macros.Shard}, {&n.Replica, c.Macros.Replica},
			{&n.Interserver, c.Interserver}, {&n.ProductMode, c.Profiles.Default.ProductMode},
		} {
			if src := strings.TrimSpace(kv.src); src != "" {
				if *kv.dst != "" && *kv.dst != src {
					t.Errorf("%s: two files set %q and %q", s.Name, *kv.dst, src)
				}
				*kv.dst = src
			}
		}
	}
	if files == 0 {
		t.Fatalf("%s mounts no file into /etc/clickhouse-server/config.d", s.Name)
	}
	return n
}

// clusterTopology is the ClickHouse cluster as remote_servers describes
// it, checked against every node's own files.
type clusterTopology struct {
	Name string
	// Shards are the replicas' host:port, shard by shard.
	Shards [][]string
}

// clusterReadTopology reads every ClickHouse service's configuration and
// checks that they describe one cluster of distinct nodes: the same
// remote_servers on every node, each node in it once, its {shard} macro
// that of its shard and no other, its {replica} its own.
func clusterReadTopology(t *testing.T, svcs map[string]compose.Service) clusterTopology {
	t.Helper()
	names := clusterNamed(svcs, "clickhouse")
	if len(names) == 0 {
		t.Fatal("no clickhouse-S-R services")
	}
	nodes := map[string]clusterCHNode{}
	var topo clusterTopology
	var first string
	for _, name := range names {
		n := clusterReadCHNode(t, svcs[name])
		nodes[name] = n
		if len(n.Clusters) != 1 {
			t.Fatalf("%s: remote_servers has %d clusters, want the one cluster", name, len(n.Clusters))
		}
		c := n.Clusters[0]
		var shards [][]string
		for i, sh := range c.Shards {
			if !sh.InternalReplication {
				t.Errorf("%s: shard %d without internal_replication: a Distributed INSERT would write every replica itself", name, i+1)
			}
			var rs []string
			for _, r := range sh.Replicas {
				rs = append(rs, r.String())
			}
			shards = append(shards, rs)
		}
		this := clusterTopology{Name: c.XMLName.Local, Shards: shards}
		if first == "" {
			topo, first = this, name
		} else if fmt.Sprint(this) != fmt.Sprint(topo) {
			t.Errorf("remote_servers differ: %s has %v, %s %v", first, topo, name, this)
		}
		if c.Secret == nil || (c.Secret.FromEnv == "" && strings.TrimSpace(c.Secret.Value) == "") {
			t.Errorf("%s: cluster %s has no <secret>: distributed queries would log in to the other nodes as default, which the image removes", name, c.XMLName.Local)
		} else if c.Secret.FromEnv != "" && svcs[name].Environment[c.Secret.FromEnv] == "" {
			t.Errorf("%s: the cluster secret comes from %s, which its environment does not set", name, c.Secret.FromEnv)
		}
	}

	// Every replica of remote_servers is a ClickHouse service on the port
	// it listens on inside the network, listed once.
	seen := map[string]string{}
	shardOf := map[string]string{} // {shard} macro -> remote_servers shard
	for i, sh := range topo.Shards {
		replicas := map[string]bool{}
		for _, hp := range sh {
			host, port, _ := strings.Cut(hp, ":")
			n, ok := nodes[host]
			if !ok {
				t.Errorf("remote_servers shard %d: %s is no clickhouse service", i+1, hp)
				continue
			}
			if port != "9000" {
				t.Errorf("remote_servers shard %d: %s, want the native port 9000", i+1, hp)
			}
			if s, dup := seen[host]; dup {
				t.Errorf("%s is in remote_servers twice (%s and shard %d)", host, s, i+1)
			}
			seen[host] = fmt.Sprintf("shard %d", i+1)
			if n.Shard == "" || n.Replica == "" {
				t.Errorf("%s: macros shard %q replica %q, want both", host, n.Shard, n.Replica)
				continue
			}
			if s, ok := shardOf[n.Shard]; ok && s != seen[host] {
				t.Errorf("%s: {shard} %q is also the macro of %s: two shards would share one replica set", host, n.Shard, s)
			}
			shardOf[n.Shard] = seen[host]
			if replicas[n.Replica] {
				t.Errorf("%s: {replica} %q twice in shard %d", host, n.Replica, i+1)
			}
			replicas[n.Replica] = true
			if n.Interserver != host {
				t.Errorf("%s: interserver_http_host %q, want its host name %s, which the other replicas resolve", host, n.Interserver, host)
			}
		}
		// Within a shard, one {shard}.
		macros := map[string]bool{}
		for _, hp := range sh {
			host, _, _ := strings.Cut(hp, ":")
			macros[nodes[host].Shard] = true
		}
		if len(macros) != 1 {
			t.Errorf("remote_servers shard %d: replicas with {shard} %v, want one value", i+1, slices.Sorted(maps.Keys(macros)))
		}
	}
	for _, name := range names {
		if _, ok := seen[name]; !ok {
			t.Errorf("%s is not in remote_servers", name)
		}
	}
	return topo
}

// TestClusterComposeClickHouse: the ClickHouse services of
// docker-compose.cluster.yml form the cluster of 2 shards x 2 replicas that
// remote_servers names, each node with its own {shard}/{replica} macros,
// ZooKeeper the compose service, and a profile that lets the Distributed
// reads run.
func TestClusterComposeClickHouse(t *testing.T) {
	_, svcs := clusterLoad(t, nil)
	topo := clusterReadTopology(t, svcs)
	if topo.Name == "" || len(topo.Shards) != 2 {
		t.Fatalf("cluster %q with %d shards, want 2", topo.Name, len(topo.Shards))
	}
	for i, sh := range topo.Shards {
		if len(sh) != 2 {
			t.Errorf("shard %d has replicas %v, want 2", i+1, sh)
		}
	}
	zk, ok := svcs["zookeeper"]
	if !ok {
		t.Fatal("no zookeeper service")
	}
	if !regexp.MustCompile(`^zookeeper:3\.\d+\.\d+$`).MatchString(zk.Image) {
		t.Errorf("zookeeper image %q: want the official image, pinned (zookeeper:3.x.y)", zk.Image)
	}
	for _, name := range clusterNamed(svcs, "clickhouse") {
		s := svcs[name]
		n := clusterReadCHNode(t, s)
		if len(n.ZooKeeper) == 0 {
			t.Errorf("%s: no zookeeper nodes", name)
		}
		for _, z := range n.ZooKeeper {
			if z.Host != "zookeeper" || z.Port != 2181 {
				t.Errorf("%s: zookeeper node %s, want the zookeeper service on 2181", name, z)
			}
		}
		if dep, ok := s.Config.DependsOn["zookeeper"]; !ok || dep.Condition != "service_healthy" {
			t.Errorf("%s does not wait for a healthy zookeeper (replicated tables need it from the first query)", name)
		}
		if n.ProductMode == "" || n.ProductMode == "deny" {
			t.Errorf("%s: distributed_product_mode %q: queries joining Distributed tables would be refused", name, n.ProductMode)
		}
		if s.Image != svcs["clickhouse-1-1"].Image {
			t.Errorf("%s: image %s, want every node on one version (%s)", name, s.Image, svcs["clickhouse-1-1"].Image)
		}
		if s.Config.Hostname != name {
			t.Errorf("%s: hostname %q, want %s (its interserver_http_host)", name, s.Config.Hostname, name)
		}
	}
	// The same LTS as docker-compose.yml.
	single, err := compose.Load(filepath.Join("..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if img := svcs["clickhouse-1-1"].Image; img != single.Project.Services["clickhouse"].Image {
		t.Errorf("clickhouse image %s, docker-compose.yml pins %s", img, single.Project.Services["clickhouse"].Image)
	}
}

// TestClusterComposeAggregators: every aggregator service and the migrate
// service run commands with flags `aggregator run` and `aggregator migrate`
// really have, in the cluster that remote_servers defines, on all its
// nodes, with an insert quorum the shards can meet, after the schema was
// migrated; the aggregators share one durable consumer with room for both
// batches. The flags subtests fail until --clickhouse-cluster and
// --clickhouse-insert-quorum are registered.
func TestClusterComposeAggregators(t *testing.T) {
	for envName, env := range clusterEnvs {
		t.Run(envName, func(t *testing.T) {
			_, svcs := clusterLoad(t, env)
			topo := clusterReadTopology(t, svcs)
			var nodes []string
			for _, sh := range topo.Shards {
				nodes = append(nodes, sh...)
			}
			slices.Sort(nodes)
			aggs := clusterNamed(svcs, "aggregator")
			if len(aggs) < 2 {
				t.Fatalf("aggregator services %v, want at least 2", aggs)
			}
			chEnv := svcs["clickhouse-1-1"].Environment
			natsNodes := clusterNamed(svcs, "nats")
			durables := map[string]bool{}
			for _, name := range append(slices.Clone(aggs), "migrate") {
				s, ok := svcs[name]
				if !ok {
					t.Errorf("no %s service", name)
					continue
				}
				sub := "run"
				if name == "migrate" {
					sub = "migrate"
				}
				if len(s.Entrypoint) != 1 || filepath.Base(s.Entrypoint[0]) != "aggregator" || len(s.Command) == 0 || s.Command[0] != sub {
					t.Errorf("%s: entrypoint %q command %q, want aggregator %s", name, s.Entrypoint, s.Command, sub)
					continue
				}

				// Cluster mode, in the cluster of remote_servers.
				cluster, ok := clusterSetting(s, "clickhouse-cluster")
				if !ok || cluster != topo.Name {
					t.Errorf("%s: --clickhouse-cluster %q, want the remote_servers cluster %q", name, cluster, topo.Name)
				}
				// Every node, so that a node down leaves the others.
				addr, _ := clusterSetting(s, "clickhouse-addr")
				addrs := strings.Split(addr, ",")
				for i := range addrs {
					addrs[i] = strings.TrimSpace(addrs[i])
				}
				slices.Sort(addrs)
				if !slices.Equal(addrs, nodes) {
					t.Errorf("%s: --clickhouse-addr %v, want every node of the cluster %v", name, addrs, nodes)
				}
				if s.Environment["CSPWATCH_CLICKHOUSE_USER"] != chEnv["CLICKHOUSE_USER"] ||
					s.Environment["CSPWATCH_CLICKHOUSE_PASSWORD"] != chEnv["CLICKHOUSE_PASSWORD"] ||
					s.Environment["CSPWATCH_CLICKHOUSE_DATABASE"] != chEnv["CLICKHOUSE_DB"] {
					t.Errorf("%s: ClickHouse user, password or database differ from the clickhouse services'", name)
				}
				if want := env["CSPWATCH_CLICKHOUSE_PASSWORD"]; want != "" && s.Environment["CSPWATCH_CLICKHOUSE_PASSWORD"] != want {
					t.Errorf("%s: ClickHouse password %q, want CSPWATCH_CLICKHOUSE_PASSWORD's", name, s.Environment["CSPWATCH_CLICKHOUSE_PASSWORD"])
				}

				if name == "migrate" {
					for _, ch := range clusterNamed(svcs, "clickhouse") {
						if dep, ok := s.Config.DependsOn[ch]; !ok || dep.Condition != "service_healthy" {
							t.Errorf("migrate does not wait for a healthy %s", ch)
						}
					}
					t.Run("migrate flags", func(t *testing.T) {
						var help bytes.Buffer
						cmd := migrateCommand(io.Discard, io.Discard)
						if err := cli.ParseAlone(cmd, []string{"-h"}, func(string) string { return "" }, &help, nil); !errors.Is(err, flag.ErrHelp) {
							t.Fatalf("-h: %v", err)
						}
						for _, k := range s.UnknownEnv("CSPWATCH_", help.String()) {
							t.Errorf("migrate: environment %s names no aggregator migrate flag", k)
						}
						cmd = migrateCommand(io.Discard, io.Discard)
						if err := cli.ParseAlone(cmd, s.Command[1:], func(k string) string { return s.Environment[k] }, &help, nil); err != nil {
							t.Errorf("aggregator migrate refuses the migrate service's command %q: %v", s.Command, err)
						}
					})
					continue
				}

				// The insert quorum: at most the replicas of a shard, or no
				// insert could succeed.
				if q, ok := clusterSetting(s, "clickhouse-insert-quorum"); ok {
					n, err := strconv.Atoi(q)
					if err != nil || n < 0 || n > len(topo.Shards[0]) {
						t.Errorf("%s: --clickhouse-insert-quorum %q, want 0 to the %d replicas of a shard", name, q, len(topo.Shards[0]))
					}
				}
				if v, _ := clusterSetting(s, "migrate"); v != "false" {
					t.Errorf("%s: --migrate %q: the migrate service creates the schema once, the aggregators must not race it", name, v)
				}
				if dep, ok := s.Config.DependsOn["migrate"]; !ok || dep.Condition != "service_completed_successfully" {
					t.Errorf("%s does not wait for migrate to complete successfully", name)
				}
				for _, n := range natsNodes {
					if dep, ok := s.Config.DependsOn[n]; !ok || dep.Condition != "service_healthy" {
						t.Errorf("%s does not wait for a healthy %s", name, n)
					}
				}
				url, _ := clusterSetting(s, "nats-url")
				for _, n := range natsNodes {
					if !slices.Contains(strings.Split(url, ","), "nats://"+n+":4222") {
						t.Errorf("%s: --nats-url %q lacks %s", name, url, n)
					}
				}

				t.Run(name+" flags", func(t *testing.T) {
					var help bytes.Buffer
					if _, err := parseRunConfig([]string{"-h"}, func(string) string { return "" }, &help); !errors.Is(err, flag.ErrHelp) {
						t.Fatalf("-h: %v", err)
					}
					for _, k := range s.UnknownEnv("CSPWATCH_", help.String()) {
						t.Errorf("environment %s names no aggregator run flag", k)
					}
					c, err := parseRunConfig(s.Command[1:], func(k string) string { return s.Environment[k] }, &help)
					if err != nil {
						t.Fatalf("aggregator run refuses %s's settings: %v", name, err)
					}
					durables[c.Agg.Durable] = true
					if need := 2 * c.Agg.BatchSize * len(aggs); c.Agg.MaxAckPending < need {
						t.Errorf("--max-ack-pending %d, want at least 2 x batch size x aggregators = %d", c.Agg.MaxAckPending, need)
					}
					if c.Alerts && c.Alert.StateReplicas != len(natsNodes) {
						t.Errorf("--alert-state-replicas %d, want one per NATS node (%d)", c.Alert.StateReplicas, len(natsNodes))
					}
					if c.NATS.Conn.User != env["CSPWATCH_NATS_USER"] && env["CSPWATCH_NATS_USER"] != "" {
						t.Errorf("NATS user %q, want CSPWATCH_NATS_USER's", c.NATS.Conn.User)
					}
					if need := c.Agg.ShutdownTimeout + 10*time.Second; s.StopGracePeriod < need {
						t.Errorf("stop_grace_period %v, want at least %v (--shutdown-timeout + HTTP)", s.StopGracePeriod, need)
					}
				})
			}
			if len(durables) > 1 {
				t.Errorf("aggregators on durables %v, want one shared consumer", slices.Sorted(maps.Keys(durables)))
			}
		})
	}
}

// TestClusterComposeServices: every long-running service has an exec-form
// health check, restarts, and a stop grace period past Docker's 10 s; the
// images are pinned; every published port binds to 127.0.0.1 unless
// CSPWATCH_BIND (all) or CSPWATCH_INGEST_BIND (ingest's) says otherwise,
// and no host port is published twice.
func TestClusterComposeServices(t *testing.T) {
	f, svcs := clusterLoad(t, nil)
	if f.Project.Name != "cspwatch-cluster" {
		t.Errorf("project %q, want cspwatch-cluster (apart from docker-compose.yml's volumes)", f.Project.Name)
	}
	for prefix, want := range map[string]int{"nats": 3, "clickhouse": 4, "ingest": 2, "aggregator": 2} {
		if got := clusterNamed(svcs, prefix); len(got) != want {
			t.Errorf("%s services %v, want %d", prefix, got, want)
		}
	}
	for name, s := range svcs {
		if name == "migrate" {
			continue
		}
		if len(s.Healthcheck) < 2 || s.Healthcheck[0] != "CMD" {
			t.Errorf("%s: health check %q, want an exec-form CMD", name, s.Healthcheck)
		}
		if s.Config.Restart != "unless-stopped" {
			t.Errorf("%s: restart %q, want unless-stopped", name, s.Config.Restart)
		}
		if s.StopGracePeriod <= 10*time.Second {
			t.Errorf("%s: stop_grace_period %v, want longer than Docker's 10 s", name, s.StopGracePeriod)
		}
		if s.Build == "" && !regexp.MustCompile(`:\d+\.\d+`).MatchString(s.Image) {
			t.Errorf("%s: image %q not pinned", name, s.Image)
		}
	}
	for _, tc := range []struct {
		name        string
		env         map[string]string
		ingest, all string
	}{
		{"default", nil, "127.0.0.1", "127.0.0.1"},
		{"CSPWATCH_BIND", map[string]string{"CSPWATCH_BIND": "0.0.0.0"}, "0.0.0.0", "0.0.0.0"},
		{"CSPWATCH_INGEST_BIND", map[string]string{"CSPWATCH_INGEST_BIND": "0.0.0.0"}, "0.0.0.0", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, svcs := clusterLoad(t, tc.env)
			published := map[string]string{}
			for name, s := range svcs {
				want := tc.all
				if strings.HasPrefix(name, "ingest-") {
					want = tc.ingest
				}
				for _, p := range s.Config.Ports {
					if p.HostIP != want {
						t.Errorf("%s publishes %s on %q, want %q", name, p.Published, p.HostIP, want)
					}
					if other, dup := published[p.Published]; dup {
						t.Errorf("host port %s published by %s and %s", p.Published, other, name)
					}
					published[p.Published] = name
				}
			}
			if len(published) == 0 {
				t.Fatal("no published ports")
			}
		})
	}
}
