package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/attempttest"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
	"github.com/cspwatch/cspwatch/schema"
)

// Targets of attempttest.Fleet.
const (
	qfA      = attempttest.TargetA
	qfB      = attempttest.TargetB
	qfOffice = attempttest.TargetOffice
)

// runAdminQuery renders the query name of schema/queries.sql with args, as
// `aggregator sql` does, runs it and returns its rows (rowsOf).
func runAdminQuery(t *testing.T, s *store.Store, name string, args map[string]string) []string {
	t.Helper()
	q, ok := schema.AdminQueries().Query(name)
	if !ok {
		t.Fatalf("queries.sql has no query %s", name)
	}
	sql, err := q.Render(args)
	if err != nil {
		t.Fatalf("render %s %v: %v", name, args, err)
	}
	return rowsOf(t, s, sql)
}

// rowsOf runs q and returns its rows as clickhousetest.Rows does, with an
// attempt_id (16 hex digits, a hash) as <id>.
func rowsOf(t *testing.T, s *store.Store, q string) []string {
	t.Helper()
	rows := clickhousetest.Rows(t, s.Conn(), q)
	if len(rows) == 0 || !strings.Contains(q, "attempt_id") {
		// Only a query that names the column can return it: the others
		// are not run a second time for their column names.
		return rows
	}
	col := slices.Index(columnNames(t, s, q), "attempt_id")
	if col < 0 {
		return rows
	}
	for i, r := range rows {
		fields := strings.Split(r, "|")
		if attemptID.MatchString(fields[col]) {
			fields[col] = "<id>"
		}
		rows[i] = strings.Join(fields, "|")
	}
	return rows
}

// columnNames returns the names of the columns q returns.
func columnNames(t *testing.T, s *store.Store, q string) []string {
	t.Helper()
	rows, err := s.Conn().Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	return rows.Columns()
}

var attemptID = regexp.MustCompile(`^[0-9a-f]{1,16}$`)

// Every analysis of schema/queries.sql, rendered as `aggregator sql`
// renders it, runs on this server against attempttest.Fleet and finds exactly
// the rows the fleet holds, counted in attempts and devices: one failed MSI
// install is one failed attempt on one failed device.
func TestAdminQueries(t *testing.T) {
	s := open(t)
	now := time.Now().UTC().Truncate(time.Second)
	attempttest.StoreFleet(t, s, now)
	ts := func(ago time.Duration) string { return now.Add(-ago).Format(time.DateTime) }
	h, m, sec := time.Hour, time.Minute, time.Second
	msi, office, dev := event.CSPMSI, event.CSPOffice, event.ScopeDevice
	row := attempttest.Row
	type run struct {
		args map[string]string
		want []string
	}
	all := map[string]string{}
	t1 := map[string]string{"tenant": "t1"}
	checks := map[string][]run{
		// tenant csp product version target devices succeeded failed active attempts failed_attempts failure_rate
		"failure_rate_by_product_version": {
			{all, []string{
				row("t1", msi, "App B", "3.1", qfB, 4, 0, 4, 0, 4, 4, 1),
				// d01, d02 failed; d03 failed, then succeeded; d04, d16 succeeded;
				// d05, d07, d15 active. d12 is before the window, d14 no install.
				row("t1", msi, "App A", "2.0", qfA, 8, 3, 2, 3, 10, 3, 0.4),
				row("t1", office, "Microsoft 365 Apps", "16.0.1", qfOffice, 1, 0, 1, 0, 1, 1, 1),
				row("t2", msi, qfA+store.UnknownProduct, "2.0", qfA, 1, 0, 1, 0, 1, 1, 1),
				row("t1", msi, "App A", "1.0", qfA, 1, 1, 0, 0, 1, 0, 0),
			}},
			{map[string]string{"tenant": "t2", "since_hours": "2"}, nil},
			{map[string]string{"tenant": "t2", "since_hours": "4"}, []string{
				row("t2", msi, qfA+store.UnknownProduct, "2.0", qfA, 1, 0, 1, 0, 1, 1, 1),
			}},
		},
		// tenant code_space code code_hex name category devices attempts products top_products
		"top_causes": {
			{all, []string{
				row("t1", "win32", 1603, "0x80070643", "ERROR_INSTALL_FAILURE", "installer", 4, 4, 2, "[App A 2.0,App B 3.1]"),
				row("t1", "hresult", -2046820320, "0x86000020", "CFGMGR_E_IMPERSONATIONERROR", "client", 1, 1, 1, "[App B 3.1]"),
				row("t1", "office_status", 17002, "", "ERROR_COMPLETING_SCENARIO", "installer", 1, 1, 1, "[Microsoft 365 Apps 16.0.1]"),
				row("t1", "win32", 1618, "0x80070652", "ERROR_INSTALL_ALREADY_RUNNING", "conflict", 1, 1, 1, "[App B 3.1]"),
				row("t1", "win32", 1620, "0x80070654", "ERROR_INSTALL_PACKAGE_INVALID", "content", 1, 1, 1, "[App B 3.1]"),
				row("t2", "win32", 1603, "0x80070643", "ERROR_INSTALL_FAILURE", "installer", 1, 1, 1, "[PA (unknown product) 2.0]"),
			}},
			// 48 hours reach d12's failure.
			{map[string]string{"tenant": "t1", "since_hours": "48"}, []string{
				row("t1", "win32", 1603, "0x80070643", "ERROR_INSTALL_FAILURE", "installer", 5, 5, 2, "[App A 2.0,App B 3.1]"),
				row("t1", "hresult", -2046820320, "0x86000020", "CFGMGR_E_IMPERSONATIONERROR", "client", 1, 1, 1, "[App B 3.1]"),
				row("t1", "office_status", 17002, "", "ERROR_COMPLETING_SCENARIO", "installer", 1, 1, 1, "[Microsoft 365 Apps 16.0.1]"),
				row("t1", "win32", 1618, "0x80070652", "ERROR_INSTALL_ALREADY_RUNNING", "conflict", 1, 1, 1, "[App B 3.1]"),
				row("t1", "win32", 1620, "0x80070654", "ERROR_INSTALL_PACKAGE_INVALID", "content", 1, 1, 1, "[App B 3.1]"),
			}},
		},
		// tenant csp product version target code_space code code_hex name category devices attempts
		"failures_by_product_and_cause": {
			{t1, []string{
				row("t1", msi, "App A", "2.0", qfA, "win32", 1603, "0x80070643", "ERROR_INSTALL_FAILURE", "installer", 3, 3),
				row("t1", msi, "App B", "3.1", qfB, "hresult", -2046820320, "0x86000020", "CFGMGR_E_IMPERSONATIONERROR", "client", 1, 1),
				row("t1", msi, "App B", "3.1", qfB, "win32", 1603, "0x80070643", "ERROR_INSTALL_FAILURE", "installer", 1, 1),
				row("t1", msi, "App B", "3.1", qfB, "win32", 1618, "0x80070652", "ERROR_INSTALL_ALREADY_RUNNING", "conflict", 1, 1),
				row("t1", msi, "App B", "3.1", qfB, "win32", 1620, "0x80070654", "ERROR_INSTALL_PACKAGE_INVALID", "content", 1, 1),
				row("t1", office, "Microsoft 365 Apps", "16.0.1", qfOffice, "office_status", 17002, "", "ERROR_COMPLETING_SCENARIO", "installer", 1, 1),
			}},
		},
		// tenant device scope csp target product version outcome code_space code code_hex retries has_command requested_at last_seen age_hours
		"stuck_attempts": {
			{all, []string{
				row("t1", "d07", dev, msi, qfA, "App A", "2.0", "retrying", "hresult", -2145844844, "0x80190194", 1, 1, ts(8*h), ts(8*h-90*sec), 8),
				row("t1", "d05", dev, msi, qfA, "App A", "2.0", "pending", "", 0, "", 0, 1, ts(6*h), ts(6*h-sec), 6),
			}},
			{map[string]string{"stuck_hours": "7"}, []string{
				row("t1", "d07", dev, msi, qfA, "App A", "2.0", "retrying", "hresult", -2145844844, "0x80190194", 1, 1, ts(8*h), ts(8*h-90*sec), 8),
			}},
			{map[string]string{"tenant": "t2"}, nil},
		},
		// tenant csp code_space code code_hex name category devices attempts top_products first_failed
		"causes_new_in_last_hour": {
			{all, []string{
				row("t1", msi, "win32", 1620, "0x80070654", "ERROR_INSTALL_PACKAGE_INVALID", "content", 1, 1, "[App B 3.1]", ts(40*m-100*sec)),
			}},
		},
		// requested_at tenant scope csp target product version outcome code_space code code_hex retries events has_command
		// first_seen last_seen finished_at duration_s attempt_id
		"device_history": {
			{map[string]string{"tenant": "t1", "device_id": "d03"}, []string{
				row(ts(2*h), "t1", dev, msi, qfA, "App A", "2.0", "succeeded", "", 0, "", 0, 2, 1, ts(2*h), ts(2*h-60*sec), ts(2*h-60*sec), 60, "<id>"),
				row(ts(5*h), "t1", dev, msi, qfA, "App A", "2.0", "failed", "win32", 1603, "0x80070643", 0, 4, 1, ts(5*h), ts(5*h-100*sec), ts(5*h-100*sec), 100, "<id>"),
			}},
			{map[string]string{"device_id": "d01"}, []string{
				row(ts(3*h), "t1", dev, msi, qfA, "App A", "2.0", "failed", "win32", 1603, "0x80070643", 0, 4, 1, ts(3*h), ts(3*h-100*sec), ts(3*h-100*sec), 100, "<id>"),
				row(ts(3*h+10*m), "t2", dev, msi, qfA, qfA+store.UnknownProduct, "2.0", "failed", "win32", 1603, "0x80070643", 0, 4, 1, ts(3*h+10*m), ts(3*h+10*m-100*sec), ts(3*h+10*m-100*sec), 100, "<id>"),
			}},
			// Inventory alone: an attempt with no command and no outcome.
			{map[string]string{"tenant": "t1", "device_id": "d14"}, []string{
				row(ts(2*h), "t1", dev, msi, qfA, "App A", "9.9", "unknown", "", 0, "", 0, 1, 0, ts(2*h), ts(2*h), "1970-01-01 00:00:00", 0, "<id>"),
			}},
		},
		// tenant device scope csp target product version code_space code code_hex name category retries finished_at
		"devices_failing_product_now": {
			// d03's latest attempt succeeded; d12's failed, in the view's
			// 30 days.
			{map[string]string{"tenant": "t1", "product": "App A"}, []string{
				row("t1", "d01", dev, msi, qfA, "App A", "2.0", "win32", 1603, "0x80070643", "ERROR_INSTALL_FAILURE", "installer", 0, ts(3*h-100*sec)),
				row("t1", "d02", dev, msi, qfA, "App A", "2.0", "win32", 1603, "0x80070643", "ERROR_INSTALL_FAILURE", "installer", 0, ts(3*h+30*m-100*sec)),
				row("t1", "d12", dev, msi, qfA, "App A", "2.0", "win32", 1603, "0x80070643", "ERROR_INSTALL_FAILURE", "installer", 0, ts(30*h-100*sec)),
			}},
			// By target id, every tenant.
			{map[string]string{"product": qfB}, []string{
				row("t1", "d09", dev, msi, qfB, "App B", "3.1", "win32", 1603, "0x80070643", "ERROR_INSTALL_FAILURE", "installer", 0, ts(30*m-100*sec)),
				row("t1", "d10", dev, msi, qfB, "App B", "3.1", "win32", 1620, "0x80070654", "ERROR_INSTALL_PACKAGE_INVALID", "content", 0, ts(40*m-100*sec)),
				row("t1", "d08", dev, msi, qfB, "App B", "3.1", "win32", 1618, "0x80070652", "ERROR_INSTALL_ALREADY_RUNNING", "conflict", 0, ts(4*h-100*sec)),
				row("t1", "d13", dev, msi, qfB, "App B", "3.1", "hresult", -2046820320, "0x86000020", "CFGMGR_E_IMPERSONATIONERROR", "client", 0, ts(5*h+15*m-100*sec)),
			}},
			{map[string]string{"product": "no such product"}, nil},
		},
	}
	qs := schema.NamedQueries()
	for _, q := range qs {
		t.Run(q.Name, func(t *testing.T) {
			runs, ok := checks[q.Name]
			if !ok {
				t.Fatalf("query %s has no check", q.Name)
			}
			for _, r := range runs {
				got := runAdminQuery(t, s, q.Name, r.args)
				if !slices.Equal(got, r.want) {
					t.Errorf("%v:\n got  %s\n want %s", r.args, strings.Join(got, "\n      "), strings.Join(r.want, "\n      "))
				}
			}
		})
	}
	if len(qs) != len(checks) {
		t.Errorf("queries.sql has %d queries, the test checks %d", len(qs), len(checks))
	}
}

// The HRESULT form of a cause (install_causes, schema/009) is
// codes.AppendHex's, for an HRESULT, and HRESULT_FROM_WIN32 for a Win32
// code; its label names the code as a chart shows it.
func TestInstallCausesCodeHex(t *testing.T) {
	s := open(t)
	cases := []struct {
		space      string
		code       int64
		hex, label string
	}{
		{"hresult", -2147023293, string(codes.AppendHex(nil, -2147023293)), "hresult 0x80070643"},
		{"hresult", -2046820320, string(codes.AppendHex(nil, -2046820320)), "hresult 0x86000020"},
		{"hresult", -2147483648, "0x80000000", "hresult 0x80000000"},
		{"win32", 1603, "0x80070643", "win32 1603 (0x80070643)"},
		{"win32", 5, "0x80070005", "win32 5 (0x80070005)"},
		{"win32", 65535, "0x8007ffff", "win32 65535 (0x8007ffff)"},
		{"win32", 0, "", "win32 0"},
		{"office_status", 17002, "", "office_status 17002"},
		{"omadm", 404, "", "omadm 404"},
		{"office_status", -2147023293, "0x80070643", "office_status 0x80070643"},
		{"hresult", -2147483649, "", "hresult -2147483649"}, // not a 32-bit value
	}
	tl := attempttest.New(event.CSPMSI)
	tl.At = time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i, c := range cases {
		tl.Result(i, "Status", c.space, c.code, "failed")
	}
	if err := s.InsertEvents(context.Background(), tl.Events); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		q := fmt.Sprintf("SELECT code_hex, label FROM install_causes WHERE cause_space = '%s' AND cause_code = %d", c.space, c.code)
		want := []string{c.hex + "|" + c.label}
		if got := clickhousetest.Rows(t, s.Conn(), q); !slices.Equal(got, want) {
			t.Errorf("%s %d: %q, want %q", c.space, c.code, got, want)
		}
	}
}

// The rendered file runs whole in the real clickhouse-client --multiquery
// of this machine (18.16's has no query parameters), and prints the rows
// the driver reads.
func TestAdminQueriesInClickHouseClient(t *testing.T) {
	bin, err := exec.LookPath("clickhouse-client")
	if err != nil {
		if os.Getenv(clickhousetest.EnvRequired) == "1" {
			t.Fatalf("clickhouse-client: %v (required: %s=1)", err, clickhousetest.EnvRequired)
		}
		t.Skipf("clickhouse-client not installed, so the rendered queries.sql cannot be piped into it (%v); set %s=1 to fail instead", err, clickhousetest.EnvRequired)
	}
	db := clickhousetest.NewDB(t)
	s := db.Store(t, nil)
	now := time.Now().UTC().Truncate(time.Second)
	attempttest.StoreFleet(t, s, now)
	host, port, err := net.SplitHostPort(db.Addr)
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]string{"tenant": "t1", "device_id": "d03", "product": "App A"}
	qs := schema.NamedQueries()
	script, err := schema.Script(qs, args)
	if err != nil {
		t.Fatal(err)
	}
	var want int
	for _, q := range qs {
		own := map[string]string{}
		for _, p := range q.Params {
			if v, ok := args[p.Name]; ok {
				own[p.Name] = v
			}
		}
		want += len(runAdminQuery(t, s, q.Name, own))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--host", host, "--port", port, "--database", db.Database, "--multiquery")
	cmd.Stdin = strings.NewReader(script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("clickhouse-client did not finish in time: %v\n%s", err, stderr.String())
		}
		t.Fatalf("clickhouse-client: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	lines := strings.Count(out, "\n")
	if lines != want {
		t.Errorf("clickhouse-client printed %d rows, the driver reads %d:\n%s", lines, want, out)
	}
	for _, w := range []string{
		"t1\t" + event.CSPMSI + "\tApp A\t2.0\tPA\t8\t3\t2\t3\t10\t3\t0.4\n",
		"t1\twin32\t1603\t0x80070643\tERROR_INSTALL_FAILURE\tinstaller\t4\t4\t2\t['App A 2.0','App B 3.1']\n",
		"t1\t" + event.CSPMSI + "\twin32\t1620\t0x80070654\t",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("no %q in clickhouse-client's output:\n%s", w, out)
		}
	}
}
