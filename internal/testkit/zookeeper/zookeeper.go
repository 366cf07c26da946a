// Package zookeeper runs a throwaway standalone ZooKeeper as a child process:
// Debian's `zookeeper` package (3.8 on these machines) on the machine's java,
// in the foreground, on a free loopback port, with its config, data and log
// in one directory. It exists for the ClickHouse cluster harness
// (internal/testkit/chcluster): replicated tables and ON CLUSTER DDL need a
// ZooKeeper.
//
// Debian's package installs no running service and its classpath has no
// logging backend; Launch builds the command line the package's zkServer.sh
// would (org.apache.zookeeper.server.quorum.QuorumPeerMain, zookeeper.jar,
// whose manifest names the other jars) and adds slf4j-log4j12 and log4j-1.2.
package zookeeper

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StartTimeout bounds how long ZooKeeper may take to answer ruok with imok
// and srvr with its mode.
const StartTimeout = 30 * time.Second

// Environment variables that override where Find looks.
const (
	// EnvJava names the java executable.
	EnvJava = "CSPWATCH_TEST_JAVA"
	// EnvJars names the directory holding zookeeper.jar and the logging
	// jars (Debian: /usr/share/java).
	EnvJars = "CSPWATCH_TEST_ZOOKEEPER_JARS"
)

// MainClass is the class Debian's zkServer.sh runs.
const MainClass = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

// Install is what it takes to run ZooKeeper: a java executable and the
// classpath jars.
type Install struct {
	Java string
	// Jars are zookeeper.jar (its manifest's Class-Path brings the rest)
	// and the slf4j-to-log4j binding with log4j itself.
	Jars []string
}

// Find locates java and Debian's ZooKeeper jars: $CSPWATCH_TEST_JAVA, then
// java on PATH, then /usr/bin/java; the jars in $CSPWATCH_TEST_ZOOKEEPER_JARS,
// else /usr/share/java. The error says what is missing (and how to get it),
// so a test can skip or fail with it.
func Find() (Install, error) {
	var inst Install
	java := os.Getenv(EnvJava)
	switch {
	case java != "":
		if _, err := os.Stat(java); err != nil {
			return inst, fmt.Errorf("java: %w", err)
		}
	default:
		if p, err := exec.LookPath("java"); err == nil {
			java = p
		} else if fi, err := os.Stat("/usr/bin/java"); err == nil && !fi.IsDir() {
			java = "/usr/bin/java"
		} else {
			return inst, errors.New("java not found on PATH or at /usr/bin/java (apt-get install zookeeper brings one)")
		}
	}
	inst.Java = java
	dir := os.Getenv(EnvJars)
	if dir == "" {
		dir = "/usr/share/java"
	}
	for _, names := range [][]string{
		{"zookeeper.jar"},
		{"slf4j-log4j12.jar"},
		{"log4j-1.2.jar", "log4j-1.2.17.jar"},
	} {
		found := ""
		for _, n := range names {
			if fi, err := os.Stat(filepath.Join(dir, n)); err == nil && !fi.IsDir() {
				found = filepath.Join(dir, n)
				break
			}
		}
		if found == "" {
			return inst, fmt.Errorf("zookeeper: %s not found in %s (apt-get install zookeeper)", names[0], dir)
		}
		inst.Jars = append(inst.Jars, found)
	}
	return inst, nil
}

// Server is a standalone ZooKeeper child process. Stop or Kill take it away
// and Start brings it back on the same port with the same data.
type Server struct {
	// Addr is host:port of the client port; it stays the same across
	// Stop and Start.
	Addr string
	// Port is Addr's port.
	Port int
	// Dir holds conf/, data/ and zookeeper.log.
	Dir string

	inst Install
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Launch writes zoo.cfg and log4j.properties into dir/conf, starts ZooKeeper
// on a free loopback port and waits until it serves (ruok answers imok and
// srvr names a Mode; at most StartTimeout). The caller owns dir and must Stop
// the server.
func Launch(inst Install, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Port: port,
		Dir:  dir,
		inst: inst,
	}
	if err := writeConfig(dir, port); err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start starts a stopped server again on the same port and data directory
// and waits until it serves. Starting a running server does nothing.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	out, err := os.OpenFile(filepath.Join(s.Dir, "zookeeper.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	conf := filepath.Join(s.Dir, "conf")
	cp := append([]string{conf}, s.inst.Jars...)
	cmd := exec.Command(s.inst.Java,
		// A test server: small heap, a serial collector and the client
		// compiler start faster and take less of a shared machine.
		"-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.log.dir="+s.Dir,
		"-cp", strings.Join(cp, string(os.PathListSeparator)),
		MainClass, filepath.Join(conf, "zoo.cfg"))
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", s.inst.Java, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := waitReady(ctx, s.Addr, done); err != nil {
		s.stopLocked(syscall.SIGKILL)
		return fmt.Errorf("%w; zookeeper log: %s", err, s.tailLog())
	}
	return nil
}

// Stop terminates the server (SIGTERM, then SIGKILL after 5 s) and waits for
// it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(syscall.SIGTERM)
}

// Kill kills the server with SIGKILL, as a crash would, and waits for it to
// exit. Killing a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(syscall.SIGKILL)
}

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Pid is the process id of the running server, 0 when stopped.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) stopLocked(sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

func (s *Server) tailLog() string {
	data, err := os.ReadFile(filepath.Join(s.Dir, "zookeeper.log"))
	if err != nil {
		return err.Error()
	}
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return strings.TrimSpace(string(data))
}

// FourLetter sends a four-letter-word command (ruok, srvr, mntr, stat, cons:
// the ones zoo.cfg allows) to addr and returns the answer.
func FourLetter(ctx context.Context, addr, cmd string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var b strings.Builder
	r := bufio.NewReader(conn)
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break // the server closes the connection after answering
		}
	}
	return b.String(), nil
}

// waitReady polls until the server is serving (see serving), the process
// exits, or ctx ends.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	var last error
	for {
		select {
		case <-exited:
			return errors.New("zookeeper exited during start")
		default:
		}
		last = serving(ctx, addr)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("zookeeper on %s not serving: %w", addr, last)
		case <-exited:
			return errors.New("zookeeper exited during start")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// serving asks ruok, which answers imok as soon as the server runs, and then
// srvr, which says "This ZooKeeper instance is not currently serving
// requests" until the server has loaded its data (measured: a restarted
// server answered imok before it served) and names the Mode after.
func serving(ctx context.Context, addr string) error {
	actx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	got, err := FourLetter(actx, addr, "ruok")
	if err != nil {
		return err
	}
	if got != "imok" {
		return fmt.Errorf("ruok answered %q", got)
	}
	got, err = FourLetter(actx, addr, "srvr")
	if err != nil {
		return err
	}
	if !strings.Contains(got, "Mode: ") {
		return fmt.Errorf("srvr answered %q", strings.TrimSpace(got))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeConfig writes a standalone zoo.cfg (tickTime 500 ms, so the minimum
// session timeout a client may ask for is 1 s) and a log4j config that logs
// warnings to the console (zookeeper.log).
func writeConfig(dir string, port int) error {
	conf := filepath.Join(dir, "conf")
	data := filepath.Join(dir, "data")
	for _, d := range []string{conf, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	cfg := fmt.Sprintf(`tickTime=500
initLimit=10
syncLimit=5
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,mntr,stat,cons
autopurge.purgeInterval=0
`, data, port)
	log4j := `log4j.rootLogger=WARN, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n
`
	if err := os.WriteFile(filepath.Join(conf, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(conf, "log4j.properties"), []byte(log4j), 0o644)
}
