package store

import (
	"context"
	"fmt"
)

// Tally is what the tables hold, each counted the way its readers must
// count it (schema/001-003): install_events with FINAL, the rollups by the
// union of their event sets. On a database that kept the exactly-once
// guarantee, Events == Distinct, DuplicateIDs == 0, RollupEvents == Events
// and StateEvents == TargetEvents, whatever was written twice.
type Tally struct {
	// Events is the rows of install_events read with FINAL.
	Events uint64
	// Distinct is the distinct event ids of install_events.
	Distinct uint64
	// DuplicateIDs is the event ids that FINAL still shows more than once:
	// the same event stored with two sorting keys, which only a publish
	// outside the stream's duplicate window can cause.
	DuplicateIDs uint64
	// Stored is the rows on disk, copies not merged yet included: what a
	// plain count() sees. It equals Events after OPTIMIZE ... FINAL.
	Stored uint64
	// TargetEvents is the events with a target, which install_state counts.
	TargetEvents uint64
	// RollupEvents is the events install_rollup_hourly counts.
	RollupEvents uint64
	// StateEvents is the events install_state counts.
	StateEvents uint64
}

// Tally counts every table. It reads each table whole: for tests, checks
// after an incident and the upgrade, not for a hot path.
func (s *Store) Tally(ctx context.Context) (Tally, error) {
	var t Tally
	queries := []struct {
		q   string
		dst []any
	}{
		{"SELECT count(), countIf(target_id != '') FROM install_events FINAL", []any{&t.Events, &t.TargetEvents}},
		{"SELECT uniqExact(event_id), count() FROM install_events", []any{&t.Distinct, &t.Stored}},
		{"SELECT count() FROM (SELECT event_id FROM install_events FINAL GROUP BY event_id HAVING count() > 1)", []any{&t.DuplicateIDs}},
		{"SELECT uniqExactMerge(events) FROM install_rollup_hourly", []any{&t.RollupEvents}},
		{"SELECT uniqExactMerge(events) FROM install_state", []any{&t.StateEvents}},
	}
	for _, q := range queries {
		if err := s.conn.QueryRow(ctx, q.q).Scan(q.dst...); err != nil {
			return t, fmt.Errorf("tally: %s: %w", q.q, err)
		}
	}
	return t, nil
}

// Exact reports whether t shows every event once in every table, and if
// not, what differs.
func (t Tally) Exact() (bool, string) {
	switch {
	case t.Distinct != t.Events:
		return false, fmt.Sprintf("%d events read with FINAL but %d distinct ids", t.Events, t.Distinct)
	case t.DuplicateIDs != 0:
		return false, fmt.Sprintf("%d event ids stored under two sorting keys", t.DuplicateIDs)
	case t.RollupEvents != t.Events:
		return false, fmt.Sprintf("rollup counts %d events, install_events holds %d", t.RollupEvents, t.Events)
	case t.StateEvents != t.TargetEvents:
		return false, fmt.Sprintf("install_state counts %d events, install_events holds %d with a target", t.StateEvents, t.TargetEvents)
	}
	return true, ""
}
