// Package testkit holds what every test package of cspwatch needs the same
// way: waiting for a condition with a deadline instead of sleeping, and
// golden files that the -update flag rewrites. Its subpackages run the real
// components the tests talk to (chserver, clickhousetest, natstest,
// externaltest) and load the Compose files (compose).
package testkit

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files (testdata/*.golden, generated schema and docs) from the code's output")

// Update reports whether the test binary runs with -update: a golden test
// then writes what the code produces instead of comparing it.
func Update() bool { return *update }

// Golden compares got with the file at path, or writes got to it under
// -update (creating its directory). A difference fails t with both lengths
// and the first differing line, so that a large file stays readable.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w []byte
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if !bytes.Equal(g, w) {
			t.Fatalf("%s differs at line %d (got %d bytes, want %d; -update rewrites it):\n got: %s\nwant: %s", path, i+1, len(got), len(want), g, w)
		}
	}
}

// Poll is how often WaitFor checks its condition.
const Poll = 20 * time.Millisecond

// WaitFor calls cond every Poll until it returns true, and fails t naming
// what it waited for once d has passed. Tests wait with it rather than
// sleep, so that they pass on a loaded machine and finish early on an idle
// one.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(Poll)
	}
}
