package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/testkit"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
)

// demoAlertFlags are the alert flags for short runs such as `make demo`:
// 5 s buckets read 2 s after they close, a baseline learnt from 20 s of data,
// a resolve after 10 s back to normal.
var demoAlertFlags = []string{"--alert-bucket", "5s", "--alert-lateness", "2s", "--alert-window", "10m",
	"--alert-warm-up", "20s", "--alert-half-life", "1m", "--alert-cooldown", "10s"}

func TestRunConfigAlerts(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(runConfig) bool
		wantErr bool
	}{
		{"on by default with one-minute buckets", nil, nil, func(c runConfig) bool {
			d := alerts.DefaultConfig()
			return c.Alerts && c.Alert.Bucket == time.Minute && c.Alert.WebhookURL == "" && c.Alert.Lateness == d.Lateness &&
				c.Alert.Cooldown == d.Cooldown && c.Alert.WarmUp == d.WarmUp && c.Alert.HalfLife == d.HalfLife && c.Alert.Window == d.Window
		}, false},
		{"demo flags", demoAlertFlags, nil, func(c runConfig) bool {
			return c.Alert.Bucket == 5*time.Second && c.Alert.Lateness == 2*time.Second && c.Alert.WarmUp == 20*time.Second
		}, false},
		{"notifiers from flags and environment", []string{"--alert-webhook-url", "http://hook.example/x", "--alert-slack-url", "https://hooks.slack.com/services/T/B/X"},
			map[string]string{"CSPWATCH_ALERT_WEBHOOK_SECRET": "0123456789abcdef0123", "CSPWATCH_ALERT_TEAMS_URL": "https://example.webhook.office.com/x", "CSPWATCH_ALERT_FACTOR": "4"},
			func(c runConfig) bool {
				return c.Alert.WebhookURL == "http://hook.example/x" && c.Alert.WebhookSecret == "0123456789abcdef0123" &&
					c.Alert.SlackURL != "" && c.Alert.TeamsURL != "" && c.Alert.Factor == 4
			}, false},
		{"off", []string{"--alerts=false"}, nil, func(c runConfig) bool { return !c.Alerts }, false},
		{"off skips the alert settings' checks", []string{"--alerts=false", "--alert-bucket", "5s"}, nil, func(c runConfig) bool { return !c.Alerts }, false},
		{"off from the environment", nil, map[string]string{"CSPWATCH_ALERTS": "false"}, func(c runConfig) bool { return !c.Alerts }, false},
		{"a short bucket alone scales the other windows", []string{"--alert-bucket", "4s"}, nil, func(c runConfig) bool {
			return c.Alert.Lateness == time.Second && c.Alert.Cooldown == 20*time.Second && c.Alert.WarmUp == time.Minute &&
				c.Alert.HalfLife == 4*time.Minute && c.Alert.Window == 24*time.Minute
		}, false},
		{"a window given in the environment is kept", []string{"--alert-bucket", "4s"}, map[string]string{"CSPWATCH_ALERT_WINDOW": "2h"},
			func(c runConfig) bool { return c.Alert.Window == 2*time.Hour && c.Alert.Lateness == time.Second }, false},
		{"lateness not under the bucket", []string{"--alert-bucket", "5s", "--alert-lateness", "5s"}, nil, nil, true},
		{"webhook without a secret", []string{"--alert-webhook-url", "http://hook.example/x"}, nil, nil, true},
		{"bad override", []string{"--alert-override", "1603:fast"}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseRunConfig(tt.args, envFunc(tt.env), io.Discard)
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
				t.Fatalf("config %+v", c.Alert)
			}
		})
	}
}

func TestWriteAlertsGolden(t *testing.T) {
	first := time.Date(2026, 11, 23, 6, 30, 0, 0, time.UTC)
	list := []alerts.Alert{
		{ID: "2e56f1417c78ea8aab788fb82aa07406-1795415400", Status: alerts.Resolved, Level: alerts.LevelProduct,
			Tenant: "contoso", CSP: event.CSPMSI, TargetID: "{BAD}", ProductName: "Contoso VPN", ProductVersion: "2.1",
			Severity: alerts.Critical, CodeSpace: "win32", Code: 1603, CodeHex: "0x80070643", CodeName: "ERROR_INSTALL_FAILURE",
			CodeDescription: "Fatal error during installation.", Category: "installer", Advice: "Read the verbose msiexec log.",
			Attempts: 40, Failures: 40, Devices: 25, Finished: 50, Share: 0.8, Peak: 52, Baseline: 1.25, DeviceBaseline: 1, Factor: 2,
			SampleDevices: []string{"bad-0", "bad-1", "bad-10"}, FirstSeen: first, ResolvedAt: first.Add(5 * time.Minute), BucketSeconds: 60,
			Query: "SELECT received_at, device_id\nFROM install_events\nWHERE tenant = 'contoso'"},
		{ID: "9f00c0ffee-1795415700", Status: alerts.Firing, Level: alerts.LevelCode,
			Tenant: "contoso", Severity: alerts.Warning, CodeSpace: "hresult", Code: -2016345060, CodeHex: "0x87d1041c", CodeName: "", Category: "",
			Attempts: 60, Failures: 60, Devices: 60, Peak: 60, Baseline: 1, DeviceBaseline: 1, Factor: 3, SampleDevices: []string{"m00-0", "m00-1", "m00-2"},
			FirstSeen: first.Add(5 * time.Minute), BucketSeconds: 60, Query: "SELECT 1"},
	}
	tests := []struct {
		name   string
		list   []alerts.Alert
		tenant string
	}{
		{"alerts", list, "contoso"},
		{"alerts_none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := writeAlerts(&out, tt.list, tt.tenant, first.Add(-time.Hour), first.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tt.name+".golden")
			testkit.Golden(t, golden, out.Bytes())
		})
	}
}

// The spike path through the binary: `aggregator run --alerts=false` stores
// a steady background and a 1603 spike, then `aggregator run` with the demo's
// short buckets replays them at start and delivers the spike alert once, to
// the alert subject and a webhook, and detects a second spike live, on the
// wall clock; `aggregator alerts` prints both.
func TestRunAlertsEndToEnd(t *testing.T) {
	ns := natstest.Start(t)
	ns.InstallStream()
	db := clickhousetest.NewDB(t)
	var (
		mu   sync.Mutex
		hook [][]byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hook = append(hook, b)
		mu.Unlock()
	}))
	defer srv.Close()
	hooked := func() [][]byte { mu.Lock(); defer mu.Unlock(); return append([][]byte(nil), hook...) }
	env := envFunc(map[string]string{
		"CSPWATCH_NATS_URL":             ns.URL,
		"CSPWATCH_CLICKHOUSE_ADDR":      db.Addr,
		"CSPWATCH_CLICKHOUSE_DATABASE":  db.Database,
		"CSPWATCH_BATCH_WAIT":           "100ms",
		"CSPWATCH_LISTEN":               "127.0.0.1:0",
		"CSPWATCH_ALERT_WEBHOOK_SECRET": "0123456789abcdef0123",
	})

	// Two minutes of a steady background, then a spike that began in a bucket
	// closed (and settled) before the second run starts and lasts a minute,
	// so that the run's replay ends with the spike open.
	const bucket = 5 * time.Second
	spikeAt := time.Now().UTC().Truncate(bucket).Add(-3 * bucket)
	// Each failure is one install attempt: the server's install command,
	// then the device's failed install alert; attempts spread over spread.
	var events []event.Event
	add := func(at time.Time, spread time.Duration, target, version string, n, devs int, prefix string) {
		for i := range n {
			base := at.Add(time.Duration(i%5)*spread/5 + time.Duration(i/devs)*200*time.Millisecond)
			device := fmt.Sprintf("%s-%02d", prefix, i%devs)
			events = append(events, event.Event{EventID: fmt.Sprintf("%032x", len(events)+1), SchemaVersion: 1,
				ReceivedAt: base, Tenant: "t1", DeviceID: device, Kind: event.KindCommand, Command: event.CommandExec,
				Scope: event.ScopeDevice, CSP: event.CSPMSI, TargetID: target, Node: "DownloadInstall", Outcome: event.OutcomeRequested,
				MSIJob: &event.MSIJob{ProductVersion: version}})
			events = append(events, event.Event{EventID: fmt.Sprintf("%032x", len(events)+1), SchemaVersion: 1,
				ReceivedAt: base.Add(100 * time.Millisecond), Tenant: "t1", DeviceID: device,
				Kind: event.KindAlert, Scope: event.ScopeDevice, CSP: event.CSPMSI, TargetID: target, Node: "DownloadInstall",
				Code: 1603, CodeSpace: "win32", CodeName: "ERROR_INSTALL_FAILURE", Outcome: "failed",
				Product: &event.Product{Name: "Contoso " + target, Version: version}})
		}
	}
	for at := spikeAt.Add(-2 * time.Minute); at.Before(spikeAt.Add(time.Minute)); at = at.Add(bucket) {
		add(at, bucket, "PBG", "1.0", 2, 2, "bg")
		if !at.Before(spikeAt) {
			add(at, bucket, "PBAD", "2.1", 30, 20, "bad")
		}
	}
	nc := ns.Conn()
	publish := func(events []event.Event) {
		t.Helper()
		for _, e := range events {
			msg := nats.NewMsg(string(e.AppendSubject(nil)))
			msg.Data = eventjson.AppendJSON(nil, &e)
			msg.Header.Set(bus.MsgIDHeader, e.EventID)
			if err := nc.PublishMsg(msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(events)
	conn := db.Conn(t)
	stored := func() bool {
		var c uint64
		return conn.QueryRow(context.Background(), "SELECT count() FROM install_events").Scan(&c) == nil && c == uint64(len(events))
	}
	runUntil(t, []string{"run", "--alerts=false"}, env, "events stored", stored)

	// The replay delivers the open spike at start; then a spike on another
	// product, stored while the run goes on, fires once its bucket settles.
	decode := func(b []byte) alerts.Alert {
		var msg struct{ Data alerts.Alert }
		if err := json.Unmarshal(b, &msg); err != nil {
			t.Fatal(err)
		}
		return msg.Data
	}
	// Each sink delivers on its own queue, so the webhook may have both
	// alerts while the ClickHouse table is a moment behind; a stop then would
	// leave that row pending for the next run, which is right but not what
	// this test reads.
	inTable := func() bool {
		var c uint64
		return conn.QueryRow(context.Background(), "SELECT uniqExact(alert_id) FROM alerts WHERE tenant = 't1'").Scan(&c) == nil && c == 2
	}
	js, err := jetstream.New(ns.Conn())
	if err != nil {
		t.Fatal(err)
	}
	onSubject := func() uint64 {
		st, err := js.Stream(context.Background(), bus.AlertStreamName)
		if err != nil {
			return 0
		}
		info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(alerts.Subject("t1")))
		if err != nil {
			return 0
		}
		return info.State.Subjects[alerts.Subject("t1")]
	}
	var liveAt time.Time
	args := append([]string{"run", "--alert-webhook-url", srv.URL}, demoAlertFlags...)
	runUntil(t, args, env, "both alerts at every sink", func() bool {
		got := hooked()
		if len(got) == 1 && liveAt.IsZero() {
			liveAt = time.Now().UTC().Truncate(time.Second)
			n := len(events)
			add(liveAt, 0, "PLIVE", "3.0", 30, 20, "live") // within one second: one bucket
			publish(events[n:])
		}
		return len(got) >= 2 && inTable() && onSubject() >= 2
	})

	got := hooked()
	if len(got) != 2 {
		t.Fatalf("webhook got %d requests, want 2", len(got))
	}
	if a := decode(got[0]); a.Status != alerts.Firing || a.TargetID != "PBAD" || a.ProductVersion != "2.1" || a.Devices != 20 || !a.FirstSeen.Equal(spikeAt) {
		t.Errorf("alert %s %s %s devices %d first seen %v, want firing PBAD 2.1 on 20 devices at %v", a.Status, a.TargetID, a.ProductVersion, a.Devices, a.FirstSeen, spikeAt)
	}
	if a := decode(got[1]); a.Status != alerts.Firing || a.TargetID != "PLIVE" || a.Devices != 20 || !a.FirstSeen.Equal(liveAt.Truncate(bucket)) {
		t.Errorf("live alert %s %s devices %d first seen %v, want firing PLIVE on 20 devices at %v", a.Status, a.TargetID, a.Devices, a.FirstSeen, liveAt.Truncate(bucket))
	}
	if n := onSubject(); n != 2 {
		t.Errorf("%d messages on %s, want 2", n, alerts.Subject("t1"))
	}

	var out bytes.Buffer
	if err := Main(context.Background(), []string{"alerts", "--since", "1h", "--tenant", "t1"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	t.Logf("aggregator alerts:\n%s", out.String())
	for _, want := range []string{"tenant t1", "2 (2 firing, 0 resolved)", "Contoso PLIVE 3.0", "FIRING critical  product level", "Contoso PBAD 2.1",
		"(target PBAD)", "1603 (0x80070643) ERROR_INSTALL_FAILURE  [win32]", "30 failed in 5s", "20 (baseline 1), e.g. bad-00, bad-01, bad-02",
		"advice      Generic MSI failure", spikeAt.Format(time.RFC3339), "FROM install_attempts", "target_id = 'PBAD'", "cause_code = 1603"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("aggregator alerts lacks %q:\n%s", want, out.String())
		}
	}
	// The same as JSON and CSV.
	out.Reset()
	if err := Main(context.Background(), []string{"alerts", "--since", "1h", "--tenant", "t1", "--format", "json"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Firing int `json:"firing"`
		Alerts []struct {
			Status, Severity, Product, Version, TargetID, CodeSpace, CodeHex, Name, Category, Advice, Details string
			Code                                                                                              int64
			Attempts, Devices                                                                                 uint64
			SampleDevices                                                                                     []string
			FirstSeen                                                                                         time.Time
		} `json:"alerts"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("--format json: %v\n%s", err, out.String())
	}
	if doc.Firing != 2 || len(doc.Alerts) != 2 {
		t.Fatalf("--format json: %d firing, %d alerts, want 2:\n%s", doc.Firing, len(doc.Alerts), out.String())
	}
	// encoding/json matches the snake_case keys to these fields only where
	// they agree up to case; the others are checked in the raw text.
	for _, key := range []string{`"target_id": "PBAD"`, `"code_space": "win32"`, `"code_hex": "0x80070643"`, `"sample_devices": [`, `"first_seen": "`,
		`"attempts": 30`, `"devices": 20`, `"severity": "critical"`, `"product": "Contoso PBAD"`, `"version": "2.1"`, `"name": "ERROR_INSTALL_FAILURE"`, `"details": "SELECT`} {
		if !strings.Contains(out.String(), key) {
			t.Errorf("--format json lacks %s:\n%s", key, out.String())
		}
	}
	if a := doc.Alerts[0]; a.Status != "firing" || a.Code != 1603 || a.Advice == "" || a.Category == "" {
		t.Errorf("--format json: first alert %+v", a)
	}
	out.Reset()
	if err := Main(context.Background(), []string{"alerts", "--since", "1h", "--tenant", "t1", "--format", "csv"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(recs) != 3 || recs[0][0] != "status" || recs[1][0] != "firing" {
		t.Fatalf("--format csv: %v %q", err, recs)
	}
	out.Reset()
	if err := Main(context.Background(), []string{"alerts", "--tenant", "nobody"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "none") {
		t.Errorf("another tenant's alerts listed:\n%s", out.String())
	}
}

// runUntil runs Main with args until cond holds, then stops it and checks
// it stopped cleanly.
func runUntil(t *testing.T, args []string, env func(string) string, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- Main(ctx, args, env, &stdout, &stderr) }()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("aggregator %v ended: %v\n%s", args, err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("aggregator %v: %v\n%s", args, err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("aggregator did not stop")
	}
}
