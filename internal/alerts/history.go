package alerts

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/store"
)

// ListOptions select alerts from the alerts table.
type ListOptions struct {
	// Since keeps the alerts with a transition at or after it.
	Since time.Time
	// IncludeOpen also keeps, whatever Since, the alerts still open: those
	// with no resolved transition (latest status firing). An alert fires
	// once and stays open until it resolves, so a range that starts after
	// it fired would otherwise hide it.
	IncludeOpen bool
	// Tenant keeps one tenant's alerts; all when empty.
	Tenant string
	// Table is the alerts table; "alerts" when empty.
	Table string
	// Limit bounds the rows read (two per resolved alert); 0 means 10000.
	Limit int
}

// List reads the alerts table (store.AlertRows, with FINAL, so that a
// transition delivered twice counts once) and returns one Alert per spike
// in its latest status, oldest first. It reads the table's rows since
// o.Since (and, with o.IncludeOpen, those of every alert not resolved); the
// table holds a handful of rows per spike.
func List(ctx context.Context, st *store.Store, o ListOptions) ([]Alert, error) {
	rows, err := st.AlertRows(ctx, store.AlertRowsOptions{Since: o.Since, IncludeOpen: o.IncludeOpen, Tenant: o.Tenant, Table: o.Table, Limit: o.Limit})
	if err != nil {
		return nil, err
	}
	var (
		out   []Alert
		index = map[string]int{}
	)
	for i := range rows {
		a := alertFromRow(&rows[i])
		// Rows come firing before resolved: the later row is the latest status.
		if i, ok := index[a.ID]; ok {
			out[i] = a
			continue
		}
		index[a.ID] = len(out)
		out = append(out, a)
	}
	return out, nil
}

// row is a as a row of the alerts table.
func (a *Alert) row() store.AlertRow {
	at, resolved := a.FirstSeen, time.Unix(0, 0).UTC()
	if a.Status == Resolved {
		at, resolved = a.ResolvedAt, a.ResolvedAt
	}
	return store.AlertRow{
		AlertID: a.ID, Status: string(a.Status), Level: string(a.Level), At: at.UTC(),
		Tenant: a.Tenant, CSP: a.CSP, TargetID: a.TargetID, ProductName: a.ProductName, ProductVersion: a.ProductVersion,
		CodeSpace: string(a.CodeSpace), Code: a.Code, CodeHex: a.CodeHex, CodeName: a.CodeName, CodeDescription: a.CodeDescription, Category: a.Category,
		Failures: a.Failures, Devices: a.Devices, Peak: a.Peak, Baseline: a.Baseline, Factor: a.Factor, SampleDevices: a.SampleDevices,
		FirstSeen: a.FirstSeen.UTC(), ResolvedAt: resolved, BucketSeconds: uint32(a.BucketSeconds), Summary: a.Summary, Query: a.Query,
		Severity: string(a.Severity), Advice: a.Advice, CodeSource: a.CodeSource, Attempts: a.Attempts, Finished: a.Finished,
		FailedShare: a.Share, DeviceBaseline: a.DeviceBaseline,
	}
}

// alertFromRow is the alert one row of the alerts table records.
func alertFromRow(r *store.AlertRow) Alert {
	a := Alert{
		ID: r.AlertID, Status: Status(r.Status), Level: Level(r.Level),
		Tenant: r.Tenant, CSP: r.CSP, TargetID: r.TargetID, ProductName: r.ProductName, ProductVersion: r.ProductVersion,
		Severity: Severity(r.Severity), CodeSpace: codes.Space(r.CodeSpace), Code: r.Code, CodeHex: r.CodeHex, CodeName: r.CodeName,
		CodeDescription: r.CodeDescription, Category: r.Category, Advice: r.Advice, CodeSource: r.CodeSource,
		Attempts: r.Attempts, Failures: r.Failures, Devices: r.Devices, Finished: r.Finished, Share: r.FailedShare, Peak: r.Peak,
		Baseline: r.Baseline, DeviceBaseline: r.DeviceBaseline, Factor: r.Factor, SampleDevices: r.SampleDevices,
		FirstSeen: r.FirstSeen.UTC(), BucketSeconds: int(r.BucketSeconds), Summary: r.Summary, Query: r.Query,
	}
	if a.Attempts == 0 {
		a.Attempts = a.Failures // a row written before attempts were counted
	}
	if r.ResolvedAt.Unix() > 0 {
		a.ResolvedAt = r.ResolvedAt.UTC()
	}
	a.key = keyFromAlert(&a)
	if a.Level == LevelProduct && a.ProductVersion != "" && !strings.HasPrefix(a.ID, a.key.Hash()+"-") {
		// The table has no column saying the version came from the
		// catalog; the id, made from the key, does.
		k := a.key
		k.Version = ""
		if strings.HasPrefix(a.ID, k.Hash()+"-") {
			a.key, a.VersionFromCatalog = k, true
		}
	}
	return a
}

// ClickHouseSink inserts each transition as a row of the alerts table
// (store.InsertAlert), a ReplacingMergeTree keyed by (tenant, alert_id,
// status), so that a redelivered transition collapses into one row.
type ClickHouseSink struct {
	Store *store.Store
	// Table is the alerts table; "alerts" when empty.
	Table string
}

// Name implements Sink.
func (ClickHouseSink) Name() string { return "clickhouse" }

// Deliver implements Sink.
func (s ClickHouseSink) Deliver(ctx context.Context, a Alert) error {
	if err := s.Store.InsertAlert(ctx, s.Table, a.row()); err != nil {
		return fmt.Errorf("clickhouse sink: %w", err)
	}
	return nil
}
