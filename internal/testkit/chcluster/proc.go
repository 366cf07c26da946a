package chcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// proc is one run of a clickhouse-server.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(bin, dir string) (*proc, error) {
	out, err := os.OpenFile(filepath.Join(dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGKILL (kill) or SIGTERM, then SIGKILL after 10 s, waits for
// the process to exit and reports whether it was killed.
func (p *proc) stop(kill bool) (killed bool) {
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a frozen server cannot act on SIGTERM
	if kill {
		_ = p.cmd.Process.Kill()
		<-p.done
		return true
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return false
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return true
	}
}
