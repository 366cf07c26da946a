package alerts

import (
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

// An alert that fired before the range and is still open is listed with
// IncludeOpen, whatever Since; a resolved one only when a transition is in
// the range; the tenant filter applies to both.
func TestListAlertsIncludeOpen(t *testing.T) {
	st := clickhousetest.NewDB(t).Store(t, nil)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	sink := ClickHouseSink{Store: st}
	mk := func(id, tenant string, fired time.Duration) Alert {
		return Alert{ID: id, Status: Firing, Level: LevelCode, Tenant: tenant, Code: 1603, FirstSeen: now.Add(-fired), BucketSeconds: 60}
	}
	oldOpen := mk("old-open", "t1", 36*time.Hour)
	otherTenant := mk("other-open", "t2", 36*time.Hour)
	oldResolved := mk("old-resolved", "t1", 40*time.Hour)
	oldResolvedEnd := oldResolved
	oldResolvedEnd.Status, oldResolvedEnd.ResolvedAt = Resolved, now.Add(-30*time.Hour)
	recentResolved := mk("recent-resolved", "t1", 30*time.Hour)
	recentResolvedEnd := recentResolved
	recentResolvedEnd.Status, recentResolvedEnd.ResolvedAt = Resolved, now.Add(-time.Hour)
	newOpen := mk("new-open", "t1", time.Hour)
	for _, a := range []Alert{oldOpen, otherTenant, oldResolved, oldResolvedEnd, recentResolved, recentResolvedEnd, newOpen} {
		if err := sink.Deliver(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	since := now.Add(-24 * time.Hour)
	ids := func(o ListOptions) map[string]Status {
		t.Helper()
		list, err := List(ctx, st, o)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]Status{}
		for _, a := range list {
			got[a.ID] = a.Status
		}
		return got
	}
	check := func(name string, got, want map[string]Status) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", name, got, want)
			return
		}
		for id, s := range want {
			if got[id] != s {
				t.Errorf("%s: %v, want %v", name, got, want)
				return
			}
		}
	}
	check("range only", ids(ListOptions{Since: since, Tenant: "t1"}),
		map[string]Status{"recent-resolved": Resolved, "new-open": Firing})
	check("with open", ids(ListOptions{Since: since, Tenant: "t1", IncludeOpen: true}),
		map[string]Status{"old-open": Firing, "recent-resolved": Resolved, "new-open": Firing})
	check("with open, all tenants", ids(ListOptions{Since: since, IncludeOpen: true}),
		map[string]Status{"old-open": Firing, "other-open": Firing, "recent-resolved": Resolved, "new-open": Firing})
	check("only open", ids(ListOptions{Since: now, IncludeOpen: true, Tenant: "t1"}),
		map[string]Status{"old-open": Firing, "new-open": Firing})
}
