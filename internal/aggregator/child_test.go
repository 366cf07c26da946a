package aggregator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/aggregator"
	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
)

// The fault tests run nats-server and aggregators as copies of this test
// binary, so that they can be killed with SIGKILL. TestMain looks at envChild
// first: when it is set, the binary runs that role (childMain) instead of
// the tests.
const (
	envChild = "CSPWATCH_TEST_CHILD" // the role: childNATS or childAggregator

	childNATS       = "nats"
	childAggregator = "aggregator"
	childNATSNode   = "natsnode" // a node of a test cluster: natstest.RunNode, told which by natstest.EnvNode

	envChildNATSPort = "CSPWATCH_TEST_CHILD_NATS_PORT" // childNATS: the fixed client port
	envChildNATSDir  = "CSPWATCH_TEST_CHILD_NATS_DIR"  // childNATS: the JetStream store directory
	envChildNATSURL  = "CSPWATCH_TEST_CHILD_NATS_URL"  // childAggregator: the server to consume from
	envChildCHAddr   = "CSPWATCH_TEST_CHILD_CH_ADDR"   // childAggregator: ClickHouse native host:port
	envChildCHDB     = "CSPWATCH_TEST_CHILD_CH_DB"     // childAggregator: the migrated database

	// childReadyLine is what a child prints on stdout once it serves.
	childReadyLine = "CSPWATCH_TEST_CHILD_READY"
)

// childMain runs the role named by envChild and returns the exit code. The
// child exits when its stdin closes, so that it never outlives the test
// binary that started it, whatever way that one ends.
func childMain(role string) int {
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(gone)
	}()
	var err error
	switch role {
	case childNATS:
		err = runNATSChild(gone)
	case childAggregator:
		err = runAggregatorChild(gone)
	case childNATSNode:
		err = natstest.RunNode(gone, func() { fmt.Println(childReadyLine) })
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s child: %v\n", role, err)
		return 1
	}
	return 0
}

// runNATSChild serves JetStream on the given port and directory, as the
// embedded server of a single-node run does, until gone closes.
func runNATSChild(gone <-chan struct{}) error {
	port, err := strconv.Atoi(os.Getenv(envChildNATSPort))
	if err != nil {
		return fmt.Errorf("%s: %w", envChildNATSPort, err)
	}
	cfg := bus.DefaultEmbeddedConfig()
	cfg.Port = port
	cfg.DataDir = os.Getenv(envChildNATSDir)
	cfg.ServerName = "faults"
	emb, err := bus.StartEmbedded(cfg)
	if err != nil {
		return err
	}
	fmt.Println(childReadyLine)
	<-gone
	emb.Shutdown()
	return nil
}

// runAggregatorChild runs one aggregator with faultConfig until gone closes.
func runAggregatorChild(gone <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	scfg := store.DefaultConfig()
	scfg.Addrs = []string{os.Getenv(envChildCHAddr)}
	scfg.Database = os.Getenv(envChildCHDB)
	scfg.CreateDatabase = false
	scfg.DialTimeout = time.Second
	scfg.ReadTimeout = 20 * time.Second
	st, err := store.Open(ctx, scfg)
	if err != nil {
		return err
	}
	defer st.Close()
	ccfg := bus.DefaultConnConfig()
	ccfg.URL = os.Getenv(envChildNATSURL)
	ccfg.Name = "faults-aggregator"
	ccfg.ReconnectWait = 50 * time.Millisecond
	nc, err := bus.Connect(ctx, ccfg)
	if err != nil {
		return err
	}
	defer nc.Close()
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	agg, err := aggregator.New(nc, st, faultConfig(), log, nil)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- agg.Run(runCtx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !agg.Ready() {
		select {
		case err := <-done:
			return fmt.Errorf("run ended before ready: %w", err)
		case <-gone:
			stop()
			return <-done
		case <-tick.C:
		}
	}
	fmt.Println(childReadyLine)
	select {
	case err := <-done:
		return fmt.Errorf("run ended: %w", err)
	case <-gone:
		stop()
		return <-done
	}
}

// childProc is one role run as a child process that a test kills with
// SIGKILL and starts again, with the same environment each time. Its output
// goes to the test log. A child still running when the test ends is killed.
type childProc struct {
	t    *testing.T
	role string
	env  []string
	// Set while the child runs.
	cmd    *exec.Cmd
	stdin  io.WriteCloser // the child exits when it closes
	exited chan error     // receives Wait's result once
}

// newChild prepares a child of role with the extra environment env
// ("KEY=value"); start runs it.
func newChild(t *testing.T, role string, env ...string) *childProc {
	c := &childProc{t: t, role: role, env: env}
	t.Cleanup(func() {
		if c.cmd != nil {
			_ = c.cmd.Process.Kill()
			<-c.exited
			c.cmd = nil
		}
	})
	return c
}

// start runs the child and waits until it says it is ready. A child that
// exits before (nats-server finding its port not yet free, say) is started
// again, for up to 30 s.
func (c *childProc) start() {
	c.t.Helper()
	if c.cmd != nil {
		c.t.Fatalf("%s child: started twice", c.role)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := &childOutput{t: c.t, name: c.role, ready: make(chan struct{})}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(append(os.Environ(), envChild+"="+c.role), c.env...)
		cmd.Stdout, cmd.Stderr = out, out
		stdin, err := cmd.StdinPipe() // open until the child ends (Wait closes it)
		if err != nil {
			c.t.Fatalf("%s child: %v", c.role, err)
		}
		if err := cmd.Start(); err != nil {
			c.t.Fatalf("%s child: %v", c.role, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		timeout := time.NewTimer(time.Until(deadline))
		select {
		case <-out.ready:
			timeout.Stop()
			c.cmd, c.stdin, c.exited = cmd, stdin, exited
			return
		case err := <-exited:
			timeout.Stop()
			if time.Now().After(deadline) {
				c.t.Fatalf("%s child exited before it was ready: %v", c.role, err)
			}
			c.t.Logf("%s child exited before it was ready (%v); starting it again", c.role, err)
			time.Sleep(100 * time.Millisecond) // pacing between attempts
		case <-timeout.C:
			_ = cmd.Process.Kill()
			<-exited
			c.t.Fatalf("%s child not ready after 30s", c.role)
		}
	}
}

// kill sends SIGKILL and waits until the child is gone. A child that had
// already exited by itself fails the test.
func (c *childProc) kill() {
	c.t.Helper()
	if c.cmd == nil {
		c.t.Fatalf("%s child: kill while not running", c.role)
	}
	select {
	case err := <-c.exited:
		c.cmd = nil
		c.t.Fatalf("%s child exited by itself: %v", c.role, err)
	default:
	}
	if err := c.cmd.Process.Kill(); err != nil {
		c.t.Fatalf("%s child: kill: %v", c.role, err)
	}
	select {
	case err := <-c.exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != -1 { // -1: ended by a signal
			c.t.Errorf("%s child: after SIGKILL Wait = %v", c.role, err)
		}
	case <-time.After(10 * time.Second):
		c.t.Fatalf("%s child still running 10s after SIGKILL", c.role)
	}
	c.cmd, c.stdin = nil, nil
}

// restart kills the child and starts it again.
func (c *childProc) restart() {
	c.t.Helper()
	c.kill()
	c.start()
}

// childOutput logs a child's output line by line, turns its ready line into
// a signal and a race report into a test error.
type childOutput struct {
	t     *testing.T
	name  string
	ready chan struct{}
	once  sync.Once
	mu    sync.Mutex
	buf   []byte
}

func (w *childOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = append(w.buf[:0], w.buf[i+1:]...)
		switch {
		case line == childReadyLine:
			w.once.Do(func() { close(w.ready) })
		case strings.Contains(line, "WARNING: DATA RACE"):
			w.t.Errorf("%s child: %s", w.name, line)
		default:
			w.t.Logf("%s child: %s", w.name, line)
		}
	}
	return len(p), nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
