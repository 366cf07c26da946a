package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/output"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit"
)

func TestParseReportConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(reportConfig) bool
		wantErr bool
	}{
		{"defaults", nil, nil, func(c reportConfig) bool {
			return c.Format == output.FormatTable && c.Table == "" && c.Since == 24*time.Hour &&
				c.Lookback == 168*time.Hour && c.StuckAfter == 4*time.Hour && c.Top == 10
		}, false},
		{"json", []string{"--format", "json"}, nil, func(c reportConfig) bool { return c.Format == output.FormatJSON }, false},
		{"csv of causes", []string{"--format=csv", "--table", "causes"}, nil,
			func(c reportConfig) bool { return c.Format == output.FormatCSV && c.Table == tableCauses }, false},
		{"format from the environment", nil, map[string]string{"CSPWATCH_FORMAT": "csv", "CSPWATCH_LOOKBACK": "48h"},
			func(c reportConfig) bool { return c.Format == output.FormatCSV && c.Lookback == 48*time.Hour }, false},
		{"the command line over the environment", []string{"--format", "table"}, map[string]string{"CSPWATCH_FORMAT": "json"},
			func(c reportConfig) bool { return c.Format == output.FormatTable }, false},
		{"unknown format", []string{"--format", "yaml"}, nil, nil, true},
		{"unknown format in the environment", nil, map[string]string{"CSPWATCH_FORMAT": "xml"}, nil, true},
		{"unknown table", []string{"--table", "devices"}, nil, nil, true},
		{"no lookback", []string{"--lookback", "0s"}, nil, nil, true},
		{"no window", []string{"--since", "0s"}, nil, nil, true},
		{"top 0", []string{"--top", "0"}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseReportConfig(tt.args, envFunc(tt.env), io.Discard)
			if tt.wantErr {
				if exitCode(err) != 2 {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

// The usage text says what each format prints.
func TestReportUsage(t *testing.T) {
	var out bytes.Buffer
	_, err := parseReportConfig([]string{"-h"}, envFunc(nil), &out)
	if err == nil {
		t.Fatal("-h parsed")
	}
	for _, want := range []string{"--format table|json|csv", "csv\nprints ONE table, products unless --table", "-lookback", "never in events"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

// goldenReport is a fixed report: two versions of one MSI product and an
// Office product, three causes (a Win32 code with its HRESULT form, an
// Office status, an HRESULT of another facility), two stuck attempts.
func goldenReport() store.Report {
	to := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	msi, office := event.CSPMSI, event.CSPOffice
	vpn := "6F7CB29F-9A3B-4C1E-8D2A-0E5B7C9D1F34"
	o365 := "90160000-008C-0000-1000-0000000FF1CE"
	return store.Report{
		From: to.Add(-24 * time.Hour), To: to, Lookback: store.DefaultReportLookback, StuckAfter: 4 * time.Hour,
		Devices: 10, Attempts: 14, Events: 48,
		Products: []store.ProductInstalls{
			{Tenant: "t1", CSP: msi, Product: "Contoso VPN, Enterprise", Version: "2.0.1", TargetID: vpn,
				Devices: 6, Succeeded: 2, Failed: 3, Active: 1, Attempts: 7, FailedAttempts: 4},
			{Tenant: "t1", CSP: msi, Product: "Contoso VPN, Enterprise", Version: "2.0.2", TargetID: vpn,
				Devices: 4, Succeeded: 1, Failed: 1, Active: 2, Attempts: 4, FailedAttempts: 1},
			{Tenant: "t1", CSP: office, Product: "Microsoft 365 Apps", Version: "16.0.18129.20158", TargetID: o365,
				Devices: 3, Succeeded: 1, Failed: 1, Active: 1, Attempts: 3, FailedAttempts: 1},
			{Tenant: "t1", CSP: msi, Product: "PX (unknown product)", TargetID: "PX", Devices: 1, Succeeded: 1, Attempts: 1},
		},
		Causes: []store.Cause{
			{Space: "win32", Code: 1603, CodeHex: "0x80070643", Name: "ERROR_INSTALL_FAILURE", Category: "installer",
				Advice: "Read the MSI verbose log for the failing action.", Source: "Windows Installer error codes",
				Devices: 3, Attempts: 4, Products: []store.CauseProduct{
					{Tenant: "t1", CSP: msi, TargetID: vpn, Product: "Contoso VPN, Enterprise", Version: "2.0.1", Devices: 2, Attempts: 3},
					{Tenant: "t1", CSP: msi, TargetID: vpn, Product: "Contoso VPN, Enterprise", Version: "2.0.2", Devices: 1, Attempts: 1},
				}},
			{Space: "office_status", Code: 17002, Name: "ERROR_PROCESS_NOT_COMPLETED", Category: "installer",
				Advice: "Check the Click-to-Run logs.", Source: "Office CSP", Devices: 1, Attempts: 1,
				Products: []store.CauseProduct{{Tenant: "t1", CSP: office, TargetID: o365, Product: "Microsoft 365 Apps",
					Version: "16.0.18129.20158", Devices: 1, Attempts: 1}}},
			{Space: "hresult", Code: -2016345060, CodeHex: "0x87d1041c", Category: "unknown", Devices: 0, Attempts: 2,
				Products: []store.CauseProduct{{Tenant: "t1", CSP: msi, TargetID: "PX", Product: "PX (unknown product)", Devices: 0, Attempts: 2}}},
		},
		Stuck: []store.StuckAttempt{
			{Tenant: "t1", DeviceID: "d05", Scope: "device", CSP: msi, TargetID: vpn, AttemptID: "d484fb0e2c338cd6",
				Product: "Contoso VPN, Enterprise", Version: "2.0.1", Outcome: "retrying", HasCommand: true,
				RequestedAt: to.Add(-10 * time.Hour), LastSeen: to.Add(-10*time.Hour + 150*time.Second), Age: 10 * time.Hour, Retries: 1},
			{Tenant: "t1", DeviceID: "d03", Scope: "device", CSP: office, TargetID: o365, AttemptID: "47d40729b03e5a44",
				Product: "Microsoft 365 Apps", Version: "16.0.18129.20158", Outcome: "in_progress", HasCommand: true,
				RequestedAt: to.Add(-9 * time.Hour), LastSeen: to.Add(-8*time.Hour - 30*time.Minute), Age: 9 * time.Hour},
		},
	}
}

// The report in each format, against testdata/report*.golden (go test
// -update rewrites them).
func TestWriteReportGolden(t *testing.T) {
	empty := store.Report{From: goldenReport().From, To: goldenReport().To, Lookback: store.DefaultReportLookback, StuckAfter: time.Hour}
	tests := []struct {
		golden string
		rep    store.Report
		tenant string
		format output.Format
		table  string
	}{
		{"report.table.golden", goldenReport(), "t1", output.FormatTable, ""},
		{"report.json.golden", goldenReport(), "t1", output.FormatJSON, ""},
		{"report.csv.golden", goldenReport(), "t1", output.FormatCSV, ""},
		{"report_causes.csv.golden", goldenReport(), "t1", output.FormatCSV, tableCauses},
		{"report_stuck.csv.golden", goldenReport(), "t1", output.FormatCSV, tableStuck},
		{"report_causes.table.golden", goldenReport(), "", output.FormatTable, tableCauses},
		{"report_empty.table.golden", empty, "", output.FormatTable, ""},
		{"report_empty.json.golden", empty, "", output.FormatJSON, ""},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var out bytes.Buffer
			if err := writeReport(&out, tt.rep, tt.tenant, tt.format, tt.table); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tt.golden)
			testkit.Golden(t, golden, out.Bytes())
		})
	}
}

// The JSON has the keys the issue asks for, with numbers as numbers and
// empty lists as [].
func TestReportJSONShape(t *testing.T) {
	var out bytes.Buffer
	if err := writeReport(&out, goldenReport(), "t1", output.FormatJSON, ""); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{
		"products": {"name", "version", "target_id", "csp", "tenant", "devices", "succeeded", "failed", "active", "attempts", "failed_attempts"},
		"causes":   {"code_space", "code", "code_hex", "name", "category", "advice", "devices", "attempts", "products"},
		"stuck":    {"device_id", "product", "version", "outcome", "age_seconds", "since"},
	}
	for list, want := range keys {
		t.Run(list, func(t *testing.T) {
			rows, ok := doc[list].([]any)
			if !ok || len(rows) == 0 {
				t.Fatalf("%s: %v", list, doc[list])
			}
			row := rows[0].(map[string]any)
			for _, k := range want {
				if _, ok := row[k]; !ok {
					t.Errorf("%s[0] lacks %q: %v", list, k, row)
				}
			}
		})
	}
	cause := doc["causes"].([]any)[0].(map[string]any)
	if cause["code"] != 1603.0 || cause["code_hex"] != "0x80070643" || cause["devices"] != 3.0 {
		t.Errorf("cause %v", cause)
	}
	if age := doc["stuck"].([]any)[0].(map[string]any)["age_seconds"]; age != 36000.0 {
		t.Errorf("age_seconds %v, want 36000", age)
	}

	out.Reset()
	if err := writeReport(&out, store.Report{}, "", output.FormatJSON, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"products": []`, `"causes": []`, `"stuck": []`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("an empty report lacks %s:\n%s", want, out.String())
		}
	}
}

// Each CSV table reads back with one header and one record per row, every
// record as long as the header.
func TestReportCSVReadsBack(t *testing.T) {
	rep := goldenReport()
	tests := []struct {
		table string
		rows  int
		first string
	}{
		{"", len(rep.Products), "tenant"},
		{tableProducts, len(rep.Products), "tenant"},
		{tableCauses, len(rep.Causes), "code"},
		{tableStuck, len(rep.Stuck), "tenant"},
	}
	for _, tt := range tests {
		t.Run("table="+tt.table, func(t *testing.T) {
			var out bytes.Buffer
			if err := writeReport(&out, rep, "t1", output.FormatCSV, tt.table); err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(&out).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != tt.rows+1 || recs[0][0] != tt.first {
				t.Fatalf("%d records, header %q; want %d rows under a header starting %q", len(recs), recs[0], tt.rows, tt.first)
			}
		})
	}
}

// A report of all tenants says whose product a cause hit; a report of one
// tenant does not repeat it.
func TestWriteReportNamesTenants(t *testing.T) {
	for _, tt := range []struct {
		tenant, want, not string
	}{
		{"", "t1: Contoso VPN, Enterprise 2.0.1 (2)", ""},
		{"t1", "Contoso VPN, Enterprise 2.0.1 (2)", "t1: Contoso"},
	} {
		t.Run("tenant="+tt.tenant, func(t *testing.T) {
			var out bytes.Buffer
			if err := writeReport(&out, goldenReport(), tt.tenant, output.FormatTable, ""); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.want) || (tt.not != "" && strings.Contains(out.String(), tt.not)) {
				t.Errorf("report of %q: want %q and not %q:\n%s", tt.tenant, tt.want, tt.not, out.String())
			}
		})
	}
}
