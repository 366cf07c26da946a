package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/eventjson"
)

func runParse(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := func(string) string { return "" }
	err = Main(context.Background(), append([]string{"parse"}, args...), env, bytes.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestParseFiles(t *testing.T) {
	good := filepath.Join("..", "..", "internal", "normalize", "testdata", "msi_alert_failures.xml")
	bad := filepath.Join("testdata", "truncated.xml")
	out, errOut, err := runParse(t, nil, "--tenant", "fabrikam", "--received-at", "2026-11-23T05:00:00Z", good, bad, good)
	if err == nil {
		t.Fatal("a failing file must make the command fail")
	}
	if exitCode(err) != 1 {
		t.Fatalf("exit code %d, want 1", exitCode(err))
	}
	if !strings.Contains(errOut, "truncated.xml") || !strings.Contains(errOut, "truncated") {
		t.Fatalf("stderr does not name the file and reason: %q", errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d lines, want 8 (4 events from each good file):\n%s", len(lines), out)
	}
	for _, l := range lines {
		e, err := eventjson.Decode([]byte(l))
		if err != nil {
			t.Fatalf("line is not a valid event: %v\n%s", err, l)
		}
		if e.Tenant != "fabrikam" || e.ReceivedAt.Format(event.TimeLayout) != "2026-11-23T05:00:00.000Z" {
			t.Fatalf("tenant/received_at not applied: %s", l)
		}
	}
}

func TestParseStdinGzip(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "internal", "normalize", "testdata", "msi_alert_seed.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	out, errOut, err := runParse(t, gz.Bytes())
	if err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	e, err := eventjson.Decode([]byte(strings.TrimSpace(out)))
	if err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if e.Tenant != "default" || e.Kind != event.KindAlert || e.Outcome != "succeeded" {
		t.Fatalf("unexpected event %+v", e)
	}
}

func TestParseUsage(t *testing.T) {
	if _, _, err := runParse(t, nil, "--tenant", ""); exitCode(err) != 2 {
		t.Fatalf("empty tenant: err %v, want a usage error", err)
	}
	if _, _, err := runParse(t, nil, "--bogus"); exitCode(err) != 2 {
		t.Fatalf("unknown flag: err %v, want a usage error", err)
	}
	if _, _, err := runParse(t, nil, "/nonexistent/file.xml"); err == nil || exitCode(err) != 1 {
		t.Fatalf("missing file: err %v, want exit 1", err)
	}
}

// parse --commands prints the command events of a server's message, the
// same lines whatever the run, and reports rejected install documents on
// stderr without failing.
func TestParseCommands(t *testing.T) {
	dir := filepath.Join("..", "..", "internal", "normalize", "testdata", "commands")
	seq, hostile := filepath.Join(dir, "sequence.xml"), filepath.Join(dir, "hostile_payloads.xml")
	args := []string{"--commands", "--tenant", "contoso", "--received-at", "2026-11-23T05:22:06.123456789Z", seq, hostile}
	out, errOut, err := runParse(t, nil, args...)
	if err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	// The goldens of package normalize were built with the same tenant and time.
	var want []byte
	for _, f := range []string{seq, hostile} {
		g, err := os.ReadFile(strings.TrimSuffix(f, ".xml") + ".golden.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, g...)
	}
	if out != string(want) {
		t.Fatalf("output\n%s\nwant the goldens\n%s", out, want)
	}
	for _, reason := range []string{"doctype", "depth", "size", "root", "syntax"} {
		if !strings.Contains(errOut, "hostile_payloads.xml") || !strings.Contains(errOut, "install document rejected: "+reason) {
			t.Errorf("stderr does not report the %s document: %q", reason, errOut)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		e, err := eventjson.Decode([]byte(l))
		if err != nil || e.Kind != event.KindCommand {
			t.Fatalf("line is not a command event (%v): %s", err, l)
		}
	}
	// A device's message names no device in SyncHdr/Target.
	noTarget := []byte(`<SyncML><SyncHdr><MsgID>1</MsgID><Source><LocURI>DEV</LocURI></Source></SyncHdr><SyncBody/></SyncML>`)
	if _, errOut, err := runParse(t, noTarget, "--commands"); err == nil || !strings.Contains(errOut, "no_device_id") {
		t.Fatalf("no Target: err %v, stderr %q", err, errOut)
	}
	// Without --commands, the same server message yields no device event.
	// It says so, and names the flag that reads it.
	out, errOut, err = runParse(t, nil, seq)
	if err != nil || out != "" || !strings.Contains(errOut, "the MDM server's message to device") || !strings.Contains(errOut, "parse it with --commands") {
		t.Fatalf("device parse of a server message: %v %q %q", err, out, errOut)
	}
}
