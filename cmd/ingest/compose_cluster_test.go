package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/testkit/compose"
)

// clusterComposePath is the cluster topology's compose file (README
// "Running in production"); cmd/aggregator checks its ClickHouse cluster
// and aggregators.
var clusterComposePath = filepath.Join("..", "..", "docker-compose.cluster.yml")

func clusterLoad(t *testing.T, env map[string]string) map[string]compose.Service {
	t.Helper()
	f, err := compose.LoadEnv(clusterComposePath, env)
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := f.Services()
	if err != nil {
		t.Fatal(err)
	}
	return svcs
}

// clusterNamed returns the names of the services called prefix-N, sorted.
func clusterNamed(svcs map[string]compose.Service, prefix string) []string {
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `-\d+$`)
	var out []string
	for name := range svcs {
		if re.MatchString(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// clusterHostPath maps a path inside service s's container to the
// repository file bind-mounted there, "" when none is.
func clusterHostPath(s compose.Service, target string) string {
	for _, v := range s.Config.Volumes {
		if v.Type == "bind" && v.Target == target {
			return v.Source
		}
	}
	return ""
}

// clusterNATSOptions reads a nats-N service's command as nats-server does,
// with its configuration file mapped to the repository's and the
// container's environment set, as the file's $VARIABLES read it.
func clusterNATSOptions(t *testing.T, s compose.Service) (*server.Options, string) {
	t.Helper()
	for k, v := range s.Environment {
		t.Setenv(k, v)
	}
	args := slices.Clone(s.Command)
	conf := ""
	for i, a := range args {
		if (a == "--config" || a == "-c") && i+1 < len(args) {
			conf = clusterHostPath(s, args[i+1])
			if conf == "" {
				t.Fatalf("%s: --config %s is not a mounted file", s.Name, args[i+1])
			}
			args[i+1] = conf
		}
	}
	if conf == "" {
		t.Fatalf("%s: command %q has no --config", s.Name, s.Command)
	}
	fs := flag.NewFlagSet("nats-server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	noop := func() {}
	opts, err := server.ConfigureOptions(fs, args, noop, noop, noop)
	if err != nil {
		t.Fatalf("nats-server refuses %s's command %q: %v", s.Name, s.Command, err)
	}
	return opts, conf
}

// TestClusterComposeNATS: the three nats-N services of
// docker-compose.cluster.yml, read as nats-server reads them, are one
// JetStream cluster whose nodes route to each other, each with its own name
// and store, an explicit sync_interval, and the user ingest and the
// aggregators log in as; started on loopback, they elect a leader and hold
// the install stream, as ingest creates it, on 3 current replicas.
func TestClusterComposeNATS(t *testing.T) {
	for _, env := range []map[string]string{nil, {"CSPWATCH_NATS_USER": "ops", "CSPWATCH_NATS_PASSWORD": "n4ts"}} {
		svcs := clusterLoad(t, env)
		names := clusterNamed(svcs, "nats")
		if len(names) != 3 {
			t.Fatalf("nats services %v, want 3", names)
		}
		opts := make([]*server.Options, len(names))
		clusterName, serverNames := "", map[string]bool{}
		for i, name := range names {
			s := svcs[name]
			o, conf := clusterNATSOptions(t, s)
			opts[i] = o
			if !o.JetStream || o.StoreDir == "" {
				t.Errorf("%s: JetStream %v store %q, want JetStream with a store", name, o.JetStream, o.StoreDir)
			}
			stored := false
			for _, v := range s.Config.Volumes {
				stored = stored || (v.Type == "volume" && v.Target == o.StoreDir)
			}
			if !stored {
				t.Errorf("%s: store_dir %s is no named volume: the stream would not outlive the container", name, o.StoreDir)
			}
			b, _ := os.ReadFile(conf)
			if !regexp.MustCompile(`(?m)^\s*sync_interval\s*:`).Match(b) {
				t.Errorf("%s: %s does not state sync_interval (what a 2xx guarantees against power loss depends on it)", name, conf)
			}
			if o.ServerName == "" || serverNames[o.ServerName] {
				t.Errorf("%s: server_name %q, want one of its own", name, o.ServerName)
			}
			serverNames[o.ServerName] = true
			if o.Cluster.Name == "" || (clusterName != "" && o.Cluster.Name != clusterName) {
				t.Errorf("%s: cluster name %q, want one name for the three (%q)", name, o.Cluster.Name, clusterName)
			}
			clusterName = o.Cluster.Name
			if o.Username == "" || o.Password == "" {
				t.Errorf("%s: no user and password: any client may connect", name)
			}
			if want := env["CSPWATCH_NATS_PASSWORD"]; want != "" && (o.Password != want || o.Username != env["CSPWATCH_NATS_USER"]) {
				t.Errorf("%s: user %q password %q, want the CSPWATCH_NATS_* given", name, o.Username, o.Password)
			}
			for _, p := range s.Config.Ports {
				if strconv.Itoa(int(p.Target)) != strconv.Itoa(o.Port) {
					t.Errorf("%s publishes %d, it listens on %d", name, p.Target, o.Port)
				}
			}
		}
		// Routes: every node names every other, on its route port.
		for i, name := range names {
			var got, want []string
			for _, r := range opts[i].Routes {
				got = append(got, r.Host)
			}
			for j, other := range names {
				if j != i {
					want = append(want, net.JoinHostPort(other, strconv.Itoa(opts[j].Cluster.Port)))
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s routes to %v, want the two others %v", name, got, want)
			}
		}
		// ingest and the aggregators log in as the nodes require.
		for _, name := range append(clusterNamed(svcs, "ingest"), clusterNamed(svcs, "aggregator")...) {
			e := svcs[name].Environment
			if e["CSPWATCH_NATS_USER"] != opts[0].Username || e["CSPWATCH_NATS_PASSWORD"] != opts[0].Password {
				t.Errorf("%s logs in as %q/%q, nats wants %q/%q", name, e["CSPWATCH_NATS_USER"], e["CSPWATCH_NATS_PASSWORD"], opts[0].Username, opts[0].Password)
			}
		}
		if t.Failed() {
			return
		}
		if env == nil {
			clusterRunNATS(t, names, opts, svcs)
		}
	}
}

// clusterRunNATS starts the nodes of opts in this process on loopback
// ports, the routes' host names mapped to them, and creates the install
// stream as ingest-1 would: it must have a leader and every replica current.
func clusterRunNATS(t *testing.T, names []string, opts []*server.Options, svcs map[string]compose.Service) {
	t.Helper()
	// Client and route ports, all held open until all are chosen so that
	// none is chosen twice.
	ports := make([]int, 2*len(names))
	var lns []net.Listener
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	for _, ln := range lns {
		ln.Close()
	}
	route := map[string]string{}
	for i, name := range names {
		route[net.JoinHostPort(name, strconv.Itoa(opts[i].Cluster.Port))] = "127.0.0.1:" + strconv.Itoa(ports[2*i+1])
	}
	var urls []string
	for i, o := range opts {
		o.Host, o.Port = "127.0.0.1", ports[2*i]
		o.HTTPHost, o.HTTPPort = "", 0
		o.Cluster.Host, o.Cluster.Port = "127.0.0.1", ports[2*i+1]
		for _, r := range o.Routes {
			r.Host = route[r.Host]
		}
		o.StoreDir = t.TempDir()
		o.NoSigs, o.NoLog = true, true
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	var servers []*server.Server
	defer func() {
		for _, s := range servers {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}()
	for i, o := range opts {
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatalf("%s: %v", names[i], err)
		}
		servers = append(servers, s)
	}
	clusterStartNATS(t, servers, names)

	ing := svcs["ingest-1"]
	var help bytes.Buffer
	getenv := func(k string) string {
		if k == "CSPWATCH_CREDENTIALS" {
			return clusterHostPath(ing, ing.Environment[k])
		}
		return ing.Environment[k]
	}
	c, err := parseServeConfig(ing.Command[1:], getenv, &help)
	if err != nil {
		t.Fatalf("ingest-1's settings: %v", err)
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.UserInfo(c.NATS.Conn.User, c.NATS.Conn.Password))
	if err != nil {
		t.Fatalf("ingest-1's credentials: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var info *jetstream.StreamInfo
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := bus.EnsureStream(actx, js, c.Stream)
		if err == nil {
			if info, err = st.Info(actx); err == nil && info.Cluster != nil && info.Cluster.Leader != "" && len(info.Cluster.Replicas) == c.Stream.Replicas-1 {
				current := 0
				for _, r := range info.Cluster.Replicas {
					if r.Current {
						current++
					}
				}
				if current == len(info.Cluster.Replicas) {
					acancel()
					break
				}
			}
		}
		acancel()
		if ctx.Err() != nil {
			for i, s := range servers {
				t.Logf("%s: %d routes, JetStream %v", names[i], s.NumRoutes(), s.JetStreamEnabled())
			}
			t.Fatalf("no install stream with %d current replicas on the cluster: %v, %+v", c.Stream.Replicas, err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("install stream: leader %s, replicas %d, cluster %s", info.Cluster.Leader, len(info.Cluster.Replicas)+1, info.Cluster.Name)
}

// clusterStartNATS starts servers and waits until each accepts clients.
func clusterStartNATS(t *testing.T, servers []*server.Server, names []string) {
	t.Helper()
	for _, s := range servers {
		go s.Start()
	}
	for i, s := range servers {
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatalf("%s not ready", names[i])
		}
	}
}

// TestClusterComposeIngest: every ingest-N service of
// docker-compose.cluster.yml runs `ingest serve` with settings it accepts,
// reaches all three NATS nodes and keeps the install stream on as many
// replicas as there are nodes.
func TestClusterComposeIngest(t *testing.T) {
	svcs := clusterLoad(t, nil)
	ingests := clusterNamed(svcs, "ingest")
	if len(ingests) < 2 {
		t.Fatalf("ingest services %v, want at least 2", ingests)
	}
	natsNodes := clusterNamed(svcs, "nats")
	var help bytes.Buffer
	if _, err := parseServeConfig([]string{"-h"}, func(string) string { return "" }, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, name := range ingests {
		s := svcs[name]
		if len(s.Entrypoint) != 1 || filepath.Base(s.Entrypoint[0]) != "ingest" || len(s.Command) == 0 || s.Command[0] != "serve" {
			t.Errorf("%s: entrypoint %q command %q, want ingest serve", name, s.Entrypoint, s.Command)
			continue
		}
		for _, k := range s.UnknownEnv("CSPWATCH_", help.String()) {
			t.Errorf("%s: environment %s names no ingest serve flag", name, k)
		}
		getenv := func(k string) string {
			if k == "CSPWATCH_CREDENTIALS" {
				return clusterHostPath(s, s.Environment[k])
			}
			return s.Environment[k]
		}
		c, err := parseServeConfig(s.Command[1:], getenv, &help)
		if err != nil {
			t.Errorf("ingest serve refuses %s's settings: %v", name, err)
			continue
		}
		if c.Stream.Replicas != len(natsNodes) {
			t.Errorf("%s: --stream-replicas %d, want one per NATS node (%d)", name, c.Stream.Replicas, len(natsNodes))
		}
		urls := strings.Split(c.NATS.Conn.URL, ",")
		for _, n := range natsNodes {
			if !slices.Contains(urls, "nats://"+n+":4222") {
				t.Errorf("%s: --nats-url %q lacks %s", name, c.NATS.Conn.URL, n)
			}
		}
		for _, n := range natsNodes {
			if dep, ok := s.Config.DependsOn[n]; !ok || dep.Condition != "service_healthy" {
				t.Errorf("%s does not wait for a healthy %s", name, n)
			}
		}
		if c.Stream.Duplicates < time.Hour {
			t.Errorf("%s: duplicate window %v shorter than the one-hour retry horizon", name, c.Stream.Duplicates)
		}
		if need := c.ShutdownGrace + 10*time.Second; s.StopGracePeriod < need {
			t.Errorf("%s: stop_grace_period %v, want at least %v", name, s.StopGracePeriod, need)
		}
		if c.Ingest.MaxPending <= 0 {
			t.Errorf("%s: --max-pending %d", name, c.Ingest.MaxPending)
		}
	}
}
