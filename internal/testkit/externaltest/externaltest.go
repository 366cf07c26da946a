// Package externaltest finds the programs from Debian's packages that some
// tests drive as real components: promtool (package prometheus),
// alertmanager (prometheus-alertmanager), chromium and clickhouse-client.
//
// Policy, as for ClickHouse (internal/testkit/clickhousetest): when a program is
// missing, a test skips and says which package provides it, unless
// CSPWATCH_TEST_EXTERNAL=1 (set by `make test`, whose deps target installs
// them), in which case it fails.
package externaltest

import (
	"os"
	"os/exec"
	"testing"
)

// EnvRequired set to 1 turns a missing program into a test failure.
const EnvRequired = "CSPWATCH_TEST_EXTERNAL"

// Program is a program a test drives and the Debian package that has it.
type Program struct {
	// Name is looked up in PATH, then in Paths.
	Name    string
	Paths   []string
	Package string
}

// Known programs.
var (
	Promtool     = Program{Name: "promtool", Package: "prometheus"}
	Alertmanager = Program{Name: "prometheus-alertmanager", Paths: []string{"/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"}, Package: "prometheus-alertmanager"}
	Chromium     = Program{Name: "chromium", Paths: []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"}, Package: "chromium"}
	CHClient     = Program{Name: "clickhouse-client", Package: "clickhouse-client"}
)

// Lookup returns the program's path, or "" when it is not installed.
func (p Program) Lookup() string {
	if path, err := exec.LookPath(p.Name); err == nil {
		return path
	}
	for _, path := range p.Paths {
		if st, err := os.Stat(path); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return path
		}
	}
	return ""
}

// Require returns the program's path; when it is missing, it skips t
// naming the package, or fails t when CSPWATCH_TEST_EXTERNAL=1.
func Require(t testing.TB, p Program) string {
	t.Helper()
	path := p.Lookup()
	if path != "" {
		return path
	}
	if os.Getenv(EnvRequired) == "1" {
		t.Fatalf("externaltest: %s not installed (Debian package %s; required: %s=1)", p.Name, p.Package, EnvRequired)
	}
	t.Skipf("%s not installed (apt-get install -y %s, or make test, which does)", p.Name, p.Package)
	return ""
}
