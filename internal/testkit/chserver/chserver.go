// Package chserver runs a throwaway clickhouse-server as a child process:
// Debian's package (18.16 on these machines, the oldest server cspwatch
// supports) on free loopback ports, with its config, data and logs in one
// directory. The tests (through internal/testkit/clickhousetest) and `make demo` use
// it; production points cspwatch at a real ClickHouse instead.
package chserver

import (
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

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// StartTimeout bounds how long a server may take to answer SELECT 1.
const StartTimeout = 60 * time.Second

// Binary returns the clickhouse-server executable: override when set, then
// clickhouse-server on PATH, then the Debian package's /usr/sbin and
// /usr/bin locations (root's PATH may lack /usr/sbin in CI shells).
func Binary(override string) (string, error) {
	if override != "" {
		if _, err := os.Stat(override); err != nil {
			return "", fmt.Errorf("clickhouse-server: %w", err)
		}
		return override, nil
	}
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("clickhouse-server not found on PATH, in /usr/sbin or /usr/bin")
}

// Server is a clickhouse-server child process. Stop and Start take it away
// and bring it back on the same ports with the same data.
type Server struct {
	// Addr is host:port of the native protocol; it stays the same across
	// Stop and Start.
	Addr string
	// HTTPAddr is host:port of the HTTP interface (unused by cspwatch, which
	// speaks the native protocol only).
	HTTPAddr string
	// Dir holds config, data and logs.
	Dir string

	bin  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Launch writes a minimal config into dir, starts bin on two free loopback
// ports and waits until it answers SELECT 1 (at most StartTimeout). The
// caller owns dir and must Stop the server.
func Launch(bin, dir string) (*Server, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		HTTPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
		Dir:      dir,
		bin:      bin,
	}
	if err := writeConfig(dir, ports[0], ports[1]); err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start starts a stopped server again on the same ports and data directory
// and waits until it answers. Starting a running server does nothing.
func (s *Server) Start() error { return s.start() }

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	out, err := os.OpenFile(filepath.Join(s.Dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "--config-file="+filepath.Join(s.Dir, "config.xml"))
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
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
		s.stopLocked()
		return fmt.Errorf("%w; server log: %s", err, s.tailLog())
	}
	return nil
}

// Stop terminates the server (SIGTERM, then SIGKILL after 5 s) and waits for
// it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

// Freeze stops the server process with SIGSTOP: it keeps its sockets and
// answers nothing, as a server in a long GC pause, a frozen VM or a hung
// disk would. Thaw resumes it. Stop thaws first.
func (s *Server) Freeze() error { return s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("clickhouse-server is not running")
	}
	return s.cmd.Process.Signal(sig)
}

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a frozen server cannot act on SIGTERM
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

func (s *Server) tailLog() string {
	var b strings.Builder
	for _, name := range []string{"stdout.log", "error.log"} {
		data, err := os.ReadFile(filepath.Join(s.Dir, name))
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

// waitReady polls SELECT 1 until it answers, the process exits, or ctx ends.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	return WaitReady(ctx, addr, exited, func(ctx context.Context, conn driver.Conn) error {
		var one uint8
		return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
	})
}

// WaitReady runs probe on a fresh connection to the clickhouse-server at
// addr every 100 ms until it succeeds, the process exits (exited closes),
// or ctx ends; the error then carries probe's last error.
func WaitReady(ctx context.Context, addr string, exited <-chan struct{}, probe func(context.Context, driver.Conn) error) error {
	var last error
	for {
		select {
		case <-exited:
			return errors.New("clickhouse-server exited during start")
		default:
		}
		last = ping(ctx, addr, probe)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready on %s: %w", addr, last)
		case <-exited:
			return errors.New("clickhouse-server exited during start")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ping(ctx context.Context, addr string, probe func(context.Context, driver.Conn) error) error {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		Protocol:    clickhouse.Native,
		DialTimeout: time.Second,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	return probe(ctx, conn)
}

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

// writeConfig writes a minimal server config: loopback only, the given
// ports, everything under dir, warning-level logs to files, small caches
// (several servers may run at once on a small machine), and a passwordless
// default user restricted to loopback.
func writeConfig(dir string, tcpPort, httpPort int) error {
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>%[1]s/server.log</log>
    <errorlog>%[1]s/error.log</errorlog>
    <size>10M</size>
    <count>1</count>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <timezone>UTC</timezone>
</yandex>
`, dir, tcpPort, httpPort)
	users := `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <use_uncompressed_cache>0</use_uncompressed_cache>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(config), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "users.xml"), []byte(users), 0o644)
}
