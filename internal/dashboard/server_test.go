package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/dashboard"
	"github.com/cspwatch/cspwatch/internal/dashboard/knownfleet"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

// ioTimeout is the error of a read past its connection's deadline, as
// clickhouse-go returns it: it names the addresses.
func ioTimeout() error {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 38015}
	return fmt.Errorf("clickhouse [read]: %w", &net.OpError{Op: "read", Net: "tcp", Source: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 51234}, Addr: addr, Err: os.ErrDeadlineExceeded})
}

// A read that times out, whether the driver says so or only fails once the
// page's context ended, is 504 with a generic message; the detail goes to
// OnError. Any other failure stays 500.
func TestHandlerTimeouts(t *testing.T) {
	immediate := func(context.Context) error { return ioTimeout() }
	afterDeadline := func(ctx context.Context) error {
		<-ctx.Done()
		// clickhouse-go closes the connection: its error is not the
		// context's.
		return errors.New("read tcp 127.0.0.1:51234->127.0.0.1:38015: use of closed network connection")
	}
	tests := []struct {
		name, target string
		src          *fakeSource
		status       int
		logged       string
	}{
		{"overview, driver timeout", "/", &fakeSource{fleetErr: immediate}, 504, "i/o timeout"},
		{"overview, context ended", "/", &fakeSource{fleetErr: afterDeadline}, 504, "closed network connection"},
		{"overview, alerts read timed out", "/", &fakeSource{alertsErr: immediate}, 504, "i/o timeout"},
		{"product, driver timeout", "/product?product=x", &fakeSource{failingErr: immediate}, 504, "i/o timeout"},
		{"product, context ended", "/product?product=x", &fakeSource{failingErr: afterDeadline}, 504, "closed network connection"},
		{"alerts page, driver timeout", "/alerts", &fakeSource{alertsErr: immediate}, 504, "i/o timeout"},
		{"other failure", "/", &fakeSource{fleetErr: func(context.Context) error { return errors.New("code: 60, table missing") }}, 500, "table missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu     sync.Mutex
				logged []string
			)
			h, err := dashboard.New(dashboard.Options{Source: tt.src, QueryTimeout: 100 * time.Millisecond, Now: func() time.Time { return fixedTo },
				OnError: func(_ *http.Request, err error) {
					mu.Lock()
					defer mu.Unlock()
					logged = append(logged, err.Error())
				}})
			if err != nil {
				t.Fatal(err)
			}
			resp, body := get(t, h, "GET", tt.target, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tt.status, body)
			}
			mu.Lock()
			all := strings.Join(logged, "\n")
			mu.Unlock()
			if !strings.Contains(all, tt.logged) {
				t.Errorf("OnError was told %q, want the detail %q", all, tt.logged)
			}
			if tt.status == 504 {
				if !strings.Contains(body, "try a shorter range") {
					t.Errorf("504 page lacks the advice:\n%s", body)
				}
				for _, leak := range []string{"127.0.0.1", "i/o timeout", "closed network", "alerts unavailable"} {
					if strings.Contains(body, leak) {
						t.Errorf("504 page shows %q:\n%s", leak, body)
					}
				}
			} else if !strings.Contains(body, "table missing") {
				t.Errorf("500 page lacks the reason:\n%s", body)
			}
		})
	}
}

// slowSource delays every read of a source and records how many ran at
// once.
type slowSource struct {
	dashboard.Source
	delay     time.Duration
	cur, peak atomic.Int32
}

func (s *slowSource) wait(ctx context.Context) error {
	n := s.cur.Add(1)
	defer s.cur.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	select {
	case <-time.After(s.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *slowSource) FleetReport(ctx context.Context, o store.ReportOptions) (store.Report, error) {
	if err := s.wait(ctx); err != nil {
		return store.Report{}, err
	}
	return s.Source.FleetReport(ctx, o)
}

func (s *slowSource) OutcomesOverTime(ctx context.Context, w store.Window, f store.AttemptFilter, b time.Duration) ([]store.OutcomeBucket, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Source.OutcomesOverTime(ctx, w, f, b)
}

func (s *slowSource) FailuresByCause(ctx context.Context, w store.Window, f store.AttemptFilter, b time.Duration, n int) ([]store.CauseBucket, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Source.FailuresByCause(ctx, w, f, b, n)
}

func (s *slowSource) ProductVersions(ctx context.Context, w store.Window, f store.AttemptFilter) ([]store.ProductInstalls, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Source.ProductVersions(ctx, w, f)
}

func (s *slowSource) FailingDevices(ctx context.Context, w store.Window, f store.AttemptFilter, n int) ([]store.Attempt, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Source.FailingDevices(ctx, w, f, n)
}

func (s *slowSource) Attempts(ctx context.Context, w store.Window, f store.AttemptFilter, n int) ([]store.Attempt, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Source.Attempts(ctx, w, f, n)
}

func (s *slowSource) Tenants(ctx context.Context, w store.Window) ([]string, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Source.Tenants(ctx, w)
}

func (s *slowSource) Alerts(ctx context.Context, since time.Time, tenant string) ([]alerts.Alert, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Source.Alerts(ctx, since, tenant)
}

// A page's independent reads run at once: the overview's four (report,
// outcomes, alerts, tenants) and the product page's four take about one
// read's time, not the sum.
func TestHandlerConcurrentReads(t *testing.T) {
	const delay = 200 * time.Millisecond
	for _, tt := range []struct {
		target string
		reads  int32
	}{{"/", 4}, {"/product?product=Contoso+VPN", 4}, {"/alerts", 2}, {"/device?tenant=t1&device=d06", 2}} {
		t.Run(tt.target, func(t *testing.T) {
			src := &slowSource{Source: &fakeSource{}, delay: delay}
			h, err := dashboard.New(dashboard.Options{Source: src, Now: func() time.Time { return fixedTo }})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			resp, body := get(t, h, "GET", tt.target, nil)
			took := time.Since(start)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d\n%s", resp.StatusCode, body)
			}
			if got := src.peak.Load(); got != tt.reads {
				t.Errorf("%d reads at once, want %d", got, tt.reads)
			}
			if took >= 2*delay {
				t.Errorf("the page took %v: its reads of %v each ran one after another", took, delay)
			}
		})
	}
}

// Against ClickHouse: an alert that fired before the range and is still
// open is on /alerts whatever the range, and on the overview however old;
// a resolved alert is on /alerts only when a transition is in the range.
func TestDashboardOpenAlerts(t *testing.T) {
	db := clickhousetest.NewDB(t)
	st := db.Store(t, nil)
	now := time.Now().UTC().Truncate(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := knownfleet.Load(ctx, st, now); err != nil {
		t.Fatal(err)
	}
	mk := func(id string, fired time.Duration) alerts.Alert {
		return alerts.Alert{ID: id, Status: alerts.Firing, Level: alerts.LevelCode, Tenant: knownfleet.Tenant, Severity: alerts.Warning,
			CodeSpace: codes.SpaceWin32, Code: 1603, FirstSeen: now.Add(-fired), BucketSeconds: 300, Summary: id}
	}
	open36h, open40d := mk("open-36h", 36*time.Hour), mk("open-40d", 40*24*time.Hour)
	old, oldEnd := mk("resolved-30h", 40*time.Hour), mk("resolved-30h", 40*time.Hour)
	oldEnd.Status, oldEnd.ResolvedAt = alerts.Resolved, now.Add(-30*time.Hour)
	sink := alerts.ClickHouseSink{Store: st}
	for _, a := range []alerts.Alert{open36h, open40d, old, oldEnd} {
		if err := sink.Deliver(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	cfg := store.DefaultConfig()
	cfg.Addrs, cfg.Database = []string{db.Addr}, db.Database
	ro, err := store.OpenReadOnly(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	h, err := dashboard.New(dashboard.Options{Source: dashboard.StoreSource{Store: ro}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	alertIn := func(section, id string) bool { return strings.Contains(section, `data-alert="`+id+`"`) }
	for _, tt := range []struct {
		target                   string
		wantOpen, wantResolved   []string
		unwantOpen, unwantResolv []string
	}{
		{"/alerts", []string{"open-36h", "open-40d", knownfleet.OpenAlertID}, []string{knownfleet.ResolvedAlertID}, []string{"resolved-30h"}, []string{"resolved-30h"}},
		{"/alerts?range=1h", []string{"open-36h", "open-40d", knownfleet.OpenAlertID}, nil, nil, []string{"resolved-30h", knownfleet.ResolvedAlertID}},
		{"/alerts?range=7d", []string{"open-36h", "open-40d"}, []string{"resolved-30h", knownfleet.ResolvedAlertID}, nil, nil},
		{"/alerts?tenant=other", nil, nil, []string{"open-36h", "open-40d"}, nil},
		{"/", []string{"open-36h", "open-40d", knownfleet.OpenAlertID}, nil, []string{"resolved-30h", knownfleet.ResolvedAlertID}, nil},
	} {
		t.Run(tt.target, func(t *testing.T) {
			resp, body := get(t, h, "GET", tt.target, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d\n%s", resp.StatusCode, body)
			}
			open, resolved, _ := strings.Cut(body, `id="resolved"`)
			for _, id := range tt.wantOpen {
				if !alertIn(open, id) {
					t.Errorf("open alerts lack %s", id)
				}
			}
			for _, id := range tt.unwantOpen {
				if alertIn(open, id) {
					t.Errorf("open alerts list %s", id)
				}
			}
			for _, id := range tt.wantResolved {
				if !alertIn(resolved, id) {
					t.Errorf("resolved alerts lack %s", id)
				}
			}
			for _, id := range tt.unwantResolv {
				if alertIn(resolved, id) {
					t.Errorf("resolved alerts list %s", id)
				}
			}
		})
	}
}
