package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConsoleInPlace: on a terminal each progress line replaces the one
// before it (carriage return, clear line, no newline between them), and
// the next ordinary line starts on a line of its own.
func TestConsoleInPlace(t *testing.T) {
	var buf bytes.Buffer
	c := &console{w: &buf, inPlace: true}
	fmt.Fprintln(c, "[  1.0s] replaying")
	for _, l := range []string{"       1.0s       400 device msgs     400 server msgs", "       2.0s       800 device msgs     800 server msgs"} {
		if err := c.Progress(l); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Fprintln(c, "    run 800 msgs")
	if err := c.End(); err != nil { // nothing open: no extra newline
		t.Fatal(err)
	}
	want := "[  1.0s] replaying\n" +
		"\r\033[K       1.0s 400 device msgs 400 server msgs" +
		"\r\033[K       2.0s 800 device msgs 800 server msgs\n" +
		"    run 800 msgs\n"
	if got := buf.String(); got != want {
		t.Fatalf("in place:\n got %q\nwant %q", got, want)
	}

	// End leaves the last progress line on screen, ended.
	buf.Reset()
	_ = c.Progress("3.0s 1200 device msgs")
	_ = c.End()
	_ = c.End()
	if got, want := buf.String(), "\r\033[K3.0s 1200 device msgs\n"; got != want {
		t.Fatalf("End: got %q, want %q", got, want)
	}

	// A line as wide as the terminal would wrap: it is cut one column short.
	buf.Reset()
	c = &console{w: &buf, inPlace: true, width: 10}
	_ = c.Progress("0123456789abcdef")
	if got, want := buf.String(), "\r\033[K012345678"; got != want {
		t.Fatalf("width: got %q, want %q", got, want)
	}
}

// TestConsolePlain: elsewhere (a file, a pipe, a test) progress lines are
// ordinary lines, unchanged, with no control characters.
func TestConsolePlain(t *testing.T) {
	var buf bytes.Buffer
	c := newConsole(&buf, func(string) string { return "" })
	if c.inPlace {
		t.Fatal("a bytes.Buffer is not a terminal")
	}
	fmt.Fprintln(c, "step")
	_ = c.Progress("   1.0s     400 device msgs")
	_ = c.Progress("   2.0s     800 device msgs")
	_ = c.End()
	fmt.Fprintln(c, "next")
	if got, want := buf.String(), "step\n   1.0s     400 device msgs\n   2.0s     800 device msgs\nnext\n"; got != want {
		t.Fatalf("plain: got %q, want %q", got, want)
	}

	// A regular file is no terminal either.
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if newConsole(f, func(string) string { return "" }).inPlace {
		t.Fatal("a regular file taken for a terminal")
	}
}

// TestProgressWriter: loadgen's stderr, split at any byte, becomes
// progress lines for its progress and ordinary lines for the rest.
func TestProgressWriter(t *testing.T) {
	var buf bytes.Buffer
	c := &console{w: &buf, inPlace: true}
	pw := &progressWriter{c: c, indent: "    ", progress: loadgenProgress}
	in := "   1.0s        400 device msgs       400 server msgs       400 device msgs/s       2100 events/s  0 errors\n" +
		"   2.0s        800 device msgs       800 server msgs       400 device msgs/s       2100 events/s  0 errors\n" +
		"loadgen: 1 messages failed\n" +
		"   3.0s       1200 device msgs      1200 server msgs       400 device msgs/s       2100 events/s  1 errors"
	for i := 0; i < len(in); i += 7 {
		if _, err := pw.Write([]byte(in[i:min(i+7, len(in))])); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "\r\033[K       1.0s 400 device msgs 400 server msgs 400 device msgs/s 2100 events/s 0 errors" +
		"\r\033[K       2.0s 800 device msgs 800 server msgs 400 device msgs/s 2100 events/s 0 errors\n" +
		"    loadgen: 1 messages failed\n" +
		"\r\033[K       3.0s 1200 device msgs 1200 server msgs 400 device msgs/s 2100 events/s 1 errors\n"
	if got := buf.String(); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestDashboardAddr(t *testing.T) {
	if got, moved := dashboardAddr("127.0.0.1:0"); got != "127.0.0.1:0" || moved {
		t.Errorf("port 0: %q %v", got, moved)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	taken := ln.Addr().String()
	if got, moved := dashboardAddr(taken); got != "127.0.0.1:0" || !moved {
		t.Errorf("taken %s: %q %v, want a free port", taken, got, moved)
	}
	ln.Close()
	if got, moved := dashboardAddr(taken); got != taken || moved {
		t.Errorf("free %s: %q %v", taken, got, moved)
	}
}

// fakeService writes an executable script named name into dir.
func fakeService(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer is a buffer the demo writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func fakeDemo(t *testing.T, bin string, out *lockedBuffer) *demo {
	t.Helper()
	d := &demo{cfg: config{Bin: bin, Wait: 20 * time.Second, Tenant: "contoso", Database: "cspwatch"},
		out: newConsole(out, func(string) string { return "" }), getenv: func(string) string { return "" },
		work: t.TempDir(), start: time.Now()}
	t.Cleanup(func() { _ = d.stop() })
	return d
}

// TestSpawnEveryLine: spawn waits for every listening line, in whatever
// order and with whatever between them, and fails when the service exits
// before printing them all.
func TestSpawnEveryLine(t *testing.T) {
	bin := t.TempDir()
	fakeService(t, bin, "aggregator", `echo "starting"
echo "dashboard listening on http://127.0.0.1:2/"
sleep 0.2
echo "aggregator listening on http://127.0.0.1:1"
exec sleep 60
`)
	fakeService(t, bin, "ingest", `echo "aggregator listening on http://127.0.0.1:1"; exit 3`)
	var out lockedBuffer
	d := fakeDemo(t, bin, &out)
	ctx := context.Background()
	agg, dash := regexp.MustCompile(`aggregator listening on (\S+)`), regexp.MustCompile(`dashboard listening on (\S+)`)
	ms, err := d.spawn(ctx, "aggregator", nil, agg, dash)
	if err != nil {
		t.Fatal(err)
	}
	if ms[0][1] != "http://127.0.0.1:1" || ms[1][1] != "http://127.0.0.1:2/" {
		t.Fatalf("matches %q", ms)
	}
	if _, err := d.spawn(ctx, "ingest", nil, agg, dash); err == nil || !strings.Contains(err.Error(), "exited at start") {
		t.Fatalf("a service exiting before its lines: %v", err)
	}
}

// TestKeepRunning: with --keep the demo prints every address and how to
// stop, then waits for Ctrl-C (its context), which is no error; a service
// that exits meanwhile is one.
func TestKeepRunning(t *testing.T) {
	bin := t.TempDir()
	fakeService(t, bin, "aggregator", "echo \"aggregator listening on http://127.0.0.1:1\"\nexec sleep 60\n")
	var out lockedBuffer
	d := fakeDemo(t, bin, &out)
	d.chAddr, d.natsURL, d.ingestURL, d.aggURL, d.dashURL = "127.0.0.1:9000", "nats://127.0.0.1:4", "http://127.0.0.1:3", "http://127.0.0.1:1", "http://127.0.0.1:2/"
	d.reportPath = "/tmp/cspwatch-report.html"
	if _, err := d.spawn(context.Background(), "aggregator", nil, regexp.MustCompile(`aggregator listening`)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.keepRunning(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "logs, data") {
		if time.Now().After(deadline) {
			t.Fatalf("no addresses printed:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("returned before Ctrl-C: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Ctrl-C: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after Ctrl-C")
	}
	s := out.String()
	for _, want := range []string{"Ctrl-C", "dashboard   http://127.0.0.1:2/", "report      /tmp/cspwatch-report.html",
		"ingest      http://127.0.0.1:3", "ClickHouse  127.0.0.1:9000", "NATS        nats://127.0.0.1:4", "logs, data  " + d.work, "interrupted"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}

	// A service that dies while kept ends the wait with an error.
	fakeService(t, bin, "ingest", "echo \"ingest listening on http://127.0.0.1:3 nats nats://127.0.0.1:4\"\nsleep 0.3\nexit 4\n")
	if _, err := d.spawn(context.Background(), "ingest", nil, regexp.MustCompile(`ingest listening`)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.keepRunning(ctx); err == nil || !strings.Contains(err.Error(), "ingest") {
		t.Fatalf("a service exiting while kept: %v", err)
	}
}
