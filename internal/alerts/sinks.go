package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/event"
)

// Subject returns the alert subject of a tenant:
// cspwatch.alert.spike.<tenant>, the tenant sanitised to one subject token as
// install subjects are.
func Subject(tenant string) string {
	return string(event.AppendToken([]byte(bus.AlertSubjectPrefix), tenant))
}

// JetStreamSink publishes each transition as JSON on the tenant's alert
// subject, with Nats-Msg-Id "<alert id>.<status>" so that a redelivery within
// the stream's duplicate window is stored once.
type JetStreamSink struct{ JS jetstream.JetStream }

// Name implements Sink.
func (JetStreamSink) Name() string { return "jetstream" }

// Deliver implements Sink.
func (s JetStreamSink) Deliver(ctx context.Context, a Alert) error {
	b, err := json.Marshal(&a)
	if err != nil {
		return fmt.Errorf("alert publish encode: %w: %w", ErrPermanent, err)
	}
	if _, err := s.JS.Publish(ctx, Subject(a.Tenant), b, jetstream.WithMsgID(a.ID+"."+string(a.Status))); err != nil {
		return fmt.Errorf("alert publish: %w", err)
	}
	return nil
}

// ClickHouseSink inserts each transition as a row of the alerts table
// (schema/100_alerts.sql, 101_alert_attempts.sql), a ReplacingMergeTree keyed by (tenant, alert_id,
// status), so that a redelivered transition collapses into one row.
type ClickHouseSink struct {
	Conn driver.Conn
	// Table is the alerts table; "alerts" when empty.
	Table string
}

// Name implements Sink.
func (ClickHouseSink) Name() string { return "clickhouse" }

const alertColumns = `alert_id, status, level, at, tenant, csp, target_id, product_name, product_version,
	code_space, code, code_hex, code_name, code_description, category,
	failures, devices, peak, baseline, factor, sample_devices,
	first_seen, resolved_at, bucket_seconds, summary, query,
	severity, advice, code_source, attempts, finished, failed_share, device_baseline`

// Deliver implements Sink.
func (s ClickHouseSink) Deliver(ctx context.Context, a Alert) error {
	table := s.Table
	if table == "" {
		table = "alerts"
	}
	batch, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+alertColumns+")")
	if err != nil {
		return fmt.Errorf("alerts table insert: %w", err)
	}
	at, resolved := a.FirstSeen, time.Unix(0, 0).UTC()
	if a.Status == Resolved {
		at, resolved = a.ResolvedAt, a.ResolvedAt
	}
	err = batch.Append(a.ID, string(a.Status), string(a.Level), at.UTC(), a.Tenant, a.CSP, a.TargetID, a.ProductName, a.ProductVersion,
		string(a.CodeSpace), a.Code, a.CodeHex, a.CodeName, a.CodeDescription, a.Category,
		a.Failures, a.Devices, a.Peak, a.Baseline, a.Factor, a.SampleDevices,
		a.FirstSeen.UTC(), resolved, uint32(a.BucketSeconds), a.Summary, a.Query,
		string(a.Severity), a.Advice, a.CodeSource, a.Attempts, a.Finished, a.Share, a.DeviceBaseline)
	if err != nil {
		_ = batch.Abort()
		return fmt.Errorf("alerts table insert: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("alerts table insert: %w", err)
	}
	return nil
}

// NewSinks returns the sinks cfg asks for: the alert subject and the alerts
// table always, then each HTTP notifier that has a URL and the Alertmanager
// sink when Alertmanagers are given, all retrying per cfg's notify
// settings. client may be nil (http.DefaultClient settings).
func NewSinks(cfg Config, js jetstream.JetStream, conn driver.Conn, client *http.Client) ([]Sink, error) {
	sinks := []Sink{JetStreamSink{JS: js}, ClickHouseSink{Conn: conn}}
	p := cfg.retryPolicy()
	if cfg.WebhookURL != "" {
		n, err := NewWebhook(cfg.WebhookURL, cfg.WebhookSecret, p, client)
		if err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		sinks = append(sinks, n)
	}
	if cfg.SlackURL != "" {
		sinks = append(sinks, NewSlack(cfg.SlackURL, p, client))
	}
	if cfg.TeamsURL != "" {
		sinks = append(sinks, NewTeams(cfg.TeamsURL, p, client))
	}
	if len(cfg.AlertmanagerURLs) > 0 {
		am, err := NewAlertmanager(AlertmanagerOptions{
			URLs: cfg.AlertmanagerURLs, Username: cfg.AlertmanagerUser, Password: cfg.AlertmanagerPassword,
			BearerToken: cfg.AlertmanagerToken, Horizon: cfg.alertmanagerHorizon(), DashboardURL: cfg.DashboardURL,
			Policy: p, Client: client,
		})
		if err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		sinks = append(sinks, am)
	}
	return sinks, nil
}
