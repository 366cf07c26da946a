package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/cspwatch/cspwatch/internal/probe"
)

// ready waits, within --wait, for url to answer 200.
func (d *demo) ready(ctx context.Context, url string) error {
	return retry(ctx, time.Now().Add(d.cfg.Wait), func() error { return probe.Check(ctx, url, 2*time.Second) })
}

// retry calls op until it returns nil, with jittered exponential back-off
// from 100 ms to 1 s, until deadline; then it returns op's last error. A
// deadline already past allows one call, no retry; a backoff.Permanent
// error stops it at once. The deadline is the context's, so that no
// duration, zero or negative, can mean "no limit".
func retry(ctx context.Context, deadline time.Time, op func() error) error {
	var last error
	try := func() (struct{}, error) { last = op(); return struct{}{}, last }
	if !time.Now().Before(deadline) {
		_, err := backoff.Retry(ctx, try, backoff.WithMaxTries(1))
		return unwrapPermanent(err)
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 100*time.Millisecond, time.Second
	_, err := backoff.Retry(dctx, try, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
	if err != nil && ctx.Err() == nil && dctx.Err() != nil && last != nil {
		return unwrapPermanent(last) // time is up: say why op still failed
	}
	return err
}

func unwrapPermanent(err error) error {
	var p *backoff.PermanentError
	if errors.As(err, &p) {
		return p.Unwrap()
	}
	return err
}

// proc is a service the demo started and stops.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// spawn starts a long-running service, logging to WORK/NAME.log, and waits
// until each of listening has matched a line of its stdout (the lines that
// say where it listens, in any order). It returns each one's first match.
func (d *demo) spawn(ctx context.Context, name string, args []string, listening ...*regexp.Regexp) ([][]string, error) {
	logf, err := os.Create(filepath.Join(d.work, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cmd := exec.Command(filepath.Join(d.cfg.Bin, name), args...)
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	d.procs = append(d.procs, p)
	// Only this goroutine reads the matches until it sends them, once.
	found := make(chan [][]string, 1)
	go func() {
		matches := make([][]string, len(listening))
		left := len(listening)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if left == 0 {
				continue
			}
			for i, re := range listening {
				if matches[i] != nil {
					continue
				}
				if m := re.FindStringSubmatch(sc.Text()); m != nil {
					matches[i] = m
					if left--; left == 0 {
						found <- matches
					}
				}
			}
		}
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	d.step("%s started (pid %d, log %s)", name, cmd.Process.Pid, logf.Name())
	select {
	case m := <-found:
		return m, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited at start: %v (see %s)", name, p.err, logf.Name())
	case <-time.After(d.cfg.Wait):
		return nil, fmt.Errorf("%s: not every listening line within %s (see %s)", name, d.cfg.Wait, logf.Name())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// runTool runs a command to completion; its stdout (and, when show is set,
// its stderr) go to the demo's output, indented.
func (d *demo) runTool(ctx context.Context, name string, args []string, show bool) error {
	w := &indent{w: d.out}
	var stderr io.Writer = io.Discard
	if show {
		stderr = w
	}
	return d.exec(ctx, name, args, w, stderr)
}

// loadgenProgress is loadgen's progress line, which it writes to stderr
// each second: "  12.0s  4800 device msgs  4800 server msgs ...".
var loadgenProgress = regexp.MustCompile(`^\s*\d+(\.\d+)?s\s+\d+ device msgs\b`)

// runLoadgen runs loadgen like runTool, its progress lines shown as one
// line updated in place on a terminal.
func (d *demo) runLoadgen(ctx context.Context, args []string, show bool) error {
	if !show {
		return d.runTool(ctx, "loadgen", args, false)
	}
	pw := &progressWriter{c: d.out, indent: "    ", progress: loadgenProgress}
	err := d.exec(ctx, "loadgen", args, &indent{w: d.out}, pw)
	if ferr := pw.Flush(); err == nil {
		err = ferr
	}
	return err
}

func (d *demo) exec(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, filepath.Join(d.cfg.Bin, name), args...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil { // interrupted: say so, not "signal: killed"
			err = ctx.Err()
		}
		return fmt.Errorf("%s %s: %w", name, args[0], err)
	}
	return nil
}

// stop ends the services in reverse order of start (aggregator first, so it
// flushes its open batch while NATS is still there), then ClickHouse.
func (d *demo) stop() error {
	var errs []error
	for i := len(d.procs) - 1; i >= 0; i-- {
		p := d.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			if p.err != nil {
				errs = append(errs, fmt.Errorf("%s (pid %d) exited: %w", p.name, p.cmd.Process.Pid, p.err))
			}
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			errs = append(errs, fmt.Errorf("%s (pid %d) did not stop within 30s of SIGTERM; killed", p.name, p.cmd.Process.Pid))
		}
	}
	d.procs = nil
	if d.ch != nil {
		d.ch.Stop()
		d.ch = nil
	}
	return errors.Join(errs...)
}

// indent prefixes every line written through it, so tool output stands
// apart from the demo's own lines.
type indent struct {
	mu  sync.Mutex
	w   io.Writer
	mid bool
}

func (w *indent) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line == "" {
			continue
		}
		if !w.mid {
			if _, err := io.WriteString(w.w, "    "); err != nil {
				return 0, err
			}
		}
		if _, err := io.WriteString(w.w, line); err != nil {
			return 0, err
		}
		w.mid = !strings.HasSuffix(line, "\n")
	}
	return len(p), nil
}
