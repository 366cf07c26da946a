package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/ingest"
)

// The bench's ingest child serves one tenant with this secret.
const (
	BenchTenant = "bench"
	BenchSecret = "bench-secret-0123456789abcdef"
)

// ServeIngest runs ingest with an embedded nats-server storing in dataDir,
// both on free loopback ports, until ctx ends; it is the process the bench
// measures. Once ready it prints "ready <http url> <nats url>" on stdout.
func ServeIngest(ctx context.Context, stdout io.Writer, dataDir string, cfg ingest.Config, persist string) error {
	return ServeIngestReplicas(ctx, stdout, dataDir, cfg, persist, 1)
}

// ServeIngestReplicas is ServeIngest with the install stream on replicas
// servers: with more than one, it embeds a cluster of that many nats-servers
// (routed on free loopback ports, each storing under dataDir) in this
// process, and ingest connects to all of them. The nats url it prints is the
// first node's.
func ServeIngestReplicas(ctx context.Context, stdout io.Writer, dataDir string, cfg ingest.Config, persist string, replicas int) error {
	urls, stop, err := startBenchNATS(dataDir, replicas)
	if err != nil {
		return err
	}
	defer stop()
	cc := bus.DefaultConnConfig()
	cc.URL, cc.Name = strings.Join(urls, ","), "cspwatch-ingest-bench"
	nc, err := bus.Connect(ctx, cc)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstreamNew(nc)
	if err != nil {
		return err
	}
	sc := bus.DefaultStreamConfig()
	sc.Persist = persist
	sc.Replicas = replicas
	// A fresh cluster places a stream once it has elected its meta leader.
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err = bus.EnsureStream(ctx, js, sc)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	creds, err := ingest.ParseCredentials([]byte(`{"tenants":[{"name":"` + BenchTenant + `","secrets":["` + BenchSecret + `"]}]}`))
	if err != nil {
		return err
	}
	srv, err := ingest.New(cfg, creds, nc, zerolog.New(os.Stderr).Level(zerolog.WarnLevel))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "ready http://%s %s\n", ln.Addr(), urls[0])
	err = srv.Serve(ctx, ln, nil, 10*time.Second)
	nc.Drain()
	return err
}

// startBenchNATS starts the bench's nats-server, or with n > 1 a cluster of
// n, and returns their client URLs and what stops them all.
func startBenchNATS(dataDir string, n int) (urls []string, stop func(), err error) {
	if n < 1 {
		return nil, nil, fmt.Errorf("bench: %d stream replicas, want at least 1", n)
	}
	ec := bus.DefaultEmbeddedConfig()
	ec.Port, ec.DataDir = -1, dataDir
	if n == 1 {
		emb, err := bus.StartEmbedded(ec)
		if err != nil {
			return nil, nil, err
		}
		return []string{emb.ClientURL()}, emb.Shutdown, nil
	}
	// Fixed ports: every node's routes name every node's cluster port. All
	// are held until all are chosen, so that none is chosen twice.
	ports := make([]int, 2*n)
	lns := make([]net.Listener, 0, 2*n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, nil, fmt.Errorf("bench: %w", err)
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	for _, l := range lns {
		l.Close()
	}
	cfgs := make([]bus.EmbeddedConfig, n)
	for i := range cfgs {
		c := ec
		c.Port, c.ClusterPort = ports[2*i], ports[2*i+1]
		c.ServerName = fmt.Sprintf("bench-%d", i+1)
		c.DataDir = filepath.Join(dataDir, c.ServerName)
		c.ClusterName = "cspwatch-bench"
		for j := range n {
			c.Routes = append(c.Routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[2*j+1]))
		}
		cfgs[i] = c
	}
	return startBenchCluster(cfgs)
}

// startBenchCluster starts the nodes at once (each waits for the others
// to form JetStream's meta group) and returns their client URLs.
func startBenchCluster(cfgs []bus.EmbeddedConfig) ([]string, func(), error) {
	nodes := make([]*bus.Embedded, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = bus.StartEmbedded(cfgs[i])
		}()
	}
	wg.Wait()
	stop := func() {
		for _, e := range nodes {
			if e != nil {
				e.Shutdown()
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		stop()
		return nil, nil, err
	}
	urls := make([]string, len(nodes))
	for i, e := range nodes {
		urls[i] = e.ClientURL()
	}
	return urls, stop, nil
}

// BenchConfig configures a bench run.
type BenchConfig struct {
	// Child is the command that runs ServeIngest (the load generator
	// re-executing itself), so that the ingest process's CPU is measured
	// apart from the load generator's.
	Child []string
	// Phase is the length of each measured phase.
	Phase   time.Duration
	Workers int
	Gzip    bool
	// FastClient uses the minimal HTTP client (see Config.FastClient).
	FastClient bool
	RawSize    int
	RawConns   int
	// Persist is the persist mode of the raw stream, the same as the
	// install stream's in the child.
	Persist string
	// Source makes the messages of the ingest phases. They are made before
	// each phase: up to PoolBytes for the full-load phase, what the offered
	// rate needs for the others.
	Source    Source
	PoolBytes int64
	// Log receives progress lines.
	Log io.Writer
}

// BenchReport holds the figures of one bench run, all measured in the same
// run against the same nats-server.
type BenchReport struct {
	Raw      RawResult
	Full     Result
	FullCPU  time.Duration // ingest process CPU during Full
	Half     Result
	HalfRate float64 // messages/s offered in Half: half the raw rate, in events
	HalfCPU  time.Duration
	// Own is a run at half of ingest's own full-load message rate.
	Own     Result
	OwnRate float64
	// RawCPU is the ingest process's CPU during Raw: the nats-server's share
	// of the raw baseline.
	RawCPU time.Duration
	// LoadgenCPU is the load generator's own CPU during Full.
	LoadgenCPU time.Duration
	// Live counts messages made during a measured phase because the
	// messages made in advance ran out; their making loaded the machine.
	Live int
}

// Ratio is ingest events/s at full load over the raw publish rate.
func (r BenchReport) Ratio() float64 { return r.Full.EventRate() / r.Raw.Rate() }

// CPUPer1000 is ingest CPU seconds per 1,000 accepted messages at full load.
func (r BenchReport) CPUPer1000() float64 {
	return r.FullCPU.Seconds() / float64(r.Full.Messages) * 1000
}

// Bench starts the ingest child, measures the raw JetStream publish rate
// against its nats-server, then ingest at full load and at half the raw
// rate (in events/s), and stops the child.
func Bench(ctx context.Context, cfg BenchConfig) (BenchReport, error) {
	var rep BenchReport
	if len(cfg.Child) == 0 || cfg.Phase <= 0 || cfg.Workers <= 0 || cfg.Source == nil {
		return rep, errors.New("bench: child, phase, workers and source are required")
	}
	logf := func(f string, a ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, f+"\n", a...)
		}
	}
	cmd := exec.CommandContext(ctx, cfg.Child[0], cfg.Child[1:]...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return rep, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return rep, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return rep, fmt.Errorf("bench: start ingest: %w", err)
	}
	defer func() {
		stdin.Close() // the child stops when its stdin closes
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return rep, fmt.Errorf("bench: ingest did not start: %w", err)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ready" {
		return rep, fmt.Errorf("bench: unexpected ingest output %q", line)
	}
	httpURL, natsURL := f[1], f[2]
	pid := cmd.Process.Pid
	logf("ingest child pid %d at %s, nats %s", pid, httpURL, natsURL)

	logf("phase 1: raw JetStream async publish, %d B messages with Nats-Msg-Id, %s", cfg.RawSize, cfg.Phase)
	cpu0, err := ProcessCPU(pid)
	if err != nil {
		return rep, err
	}
	rep.Raw, err = RawPublish(ctx, RawConfig{URL: natsURL, Duration: cfg.Phase, Size: cfg.RawSize, Publishers: cfg.RawConns, MaxPending: 4096, Persist: cfg.Persist})
	if err != nil {
		return rep, err
	}
	cpu1, _ := ProcessCPU(pid)
	rep.RawCPU = cpu1 - cpu0
	logf("  %.0f msgs/s", rep.Raw.Rate())

	lc := Config{URL: httpURL, Tenant: BenchTenant, Secret: BenchSecret, Workers: cfg.Workers, Duration: cfg.Phase,
		Gzip: cfg.Gzip, Retries: 0, Timeout: 10 * time.Second, FastClient: cfg.FastClient}
	pool := NewPool(cfg.Source)
	// A short warm-up fills connection pools and buffers.
	wu := lc
	wu.Duration = cfg.Phase / 5
	if _, err := Run(ctx, wu, cfg.Source); err != nil {
		return rep, err
	}
	pool.Fill(cfg.PoolBytes, 1<<22)
	logf("phase 2: ingest at full load, %d workers, %s", cfg.Workers, cfg.Phase)
	cpu0, _ = ProcessCPU(pid)
	self0, _ := ProcessCPU(os.Getpid())
	rep.Full, err = Run(ctx, lc, pool.Next)
	if err != nil {
		return rep, err
	}
	cpu1, _ = ProcessCPU(pid)
	self1, _ := ProcessCPU(os.Getpid())
	rep.LoadgenCPU = self1 - self0
	rep.FullCPU = cpu1 - cpu0
	logf("  %.0f msgs/s, %.0f events/s", rep.Full.MessageRate(), rep.Full.EventRate())

	if rep.Full.Messages == 0 || rep.Full.Events == 0 {
		return rep, errors.New("bench: no message accepted at full load")
	}
	perMsg := float64(rep.Full.Events) / float64(rep.Full.Messages)
	rep.HalfRate = rep.Raw.Rate() / 2 / perMsg
	logf("phase 3: ingest at half the raw rate: %.0f msgs/s (%.0f events/s)", rep.HalfRate, rep.HalfRate*perMsg)
	half := lc
	half.Rate = rep.HalfRate
	rep.Live = pool.Exhausted
	pool.Fill(1<<40, int(rep.HalfRate*cfg.Phase.Seconds()*1.05)+cfg.Workers)
	pool.Exhausted = 0
	cpu0, _ = ProcessCPU(pid)
	rep.Half, err = Run(ctx, half, pool.Next)
	if err != nil {
		return rep, err
	}
	cpu1, _ = ProcessCPU(pid)
	rep.HalfCPU = cpu1 - cpu0

	rep.OwnRate = rep.Full.MessageRate() / 2
	logf("phase 4: ingest at half its own full-load rate: %.0f msgs/s", rep.OwnRate)
	own := lc
	own.Rate = rep.OwnRate
	rep.Live += pool.Exhausted
	pool.Fill(1<<40, int(rep.OwnRate*cfg.Phase.Seconds()*1.05)+cfg.Workers)
	pool.Exhausted = 0
	if rep.Own, err = Run(ctx, own, pool.Next); err != nil {
		return rep, err
	}
	rep.Live += pool.Exhausted
	return rep, nil
}
