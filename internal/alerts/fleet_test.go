// The race detector makes the fleet's simulation and normalisation ten
// times slower (over ten minutes on two cores) and finds nothing here that
// the engine's race tests do not: make test runs this file without -race.

//go:build !race

package alerts

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/sim/fleet"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/syncml"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

// demoFleet is `make demo`'s traffic (cmd/demo): a fleet of 5,000 devices
// posting 400 device messages a second for 60 s, each with the server's
// message it answers, on a fixed clock; with spike, Google Chrome's newest
// version fails with 1603 on 60% of the devices from 40% of the run on.
type demoFleet struct {
	seed     int64
	devices  int
	messages int
	step     time.Duration
	spike    bool
}

func (d demoFleet) spikeAt() int { return d.messages * 4 / 10 }

// fleetStart is the demo fleet's first message; a multiple of the buckets.
var fleetStart = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// store writes the fleet's events as ingest would have stored them: each
// device message received at its time, the server's message it answers a
// millisecond before (after, when the fleet says the MDM server handed its
// copy over late). It returns the end of the last message's bucket.
func (d demoFleet) store(t *testing.T, st *store.Store) time.Time {
	t.Helper()
	cfg := fleet.Config{Devices: d.devices, Seed: d.seed, Tenant: "contoso", Commands: true, Start: fleetStart, Step: d.step}
	if d.spike {
		cfg.Spike = &fleet.Spike{Product: "Google Chrome", Code: 1603, Start: d.spikeAt(), Fraction: 0.6}
	}
	fl, err := fleet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc := syncml.NewScanner(syncml.DefaultLimits)
	var (
		b    normalize.Builder
		evs  []event.Event
		last time.Time
	)
	flush := func() {
		if err := st.InsertEvents(t.Context(), evs); err != nil {
			t.Fatal(err)
		}
		evs = evs[:0]
	}
	for range d.messages {
		m := fl.Next()
		msg, err := sc.Parse(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		evs, _ = b.Build(msg, normalize.Meta{Tenant: "contoso", ReceivedAt: m.At}, evs)
		if m.Server != nil {
			at := m.At.Add(-time.Millisecond)
			if m.Server.Late {
				at = m.At.Add(time.Millisecond)
			}
			msg, err := sc.Parse(m.Server.Body)
			if err != nil {
				t.Fatal(err)
			}
			evs, _ = b.BuildCommands(msg, normalize.Meta{Tenant: "contoso", ReceivedAt: at}, evs)
		}
		if len(evs) >= 20000 {
			flush()
		}
		last = m.At
	}
	flush()
	return last
}

// demoConfig is the detector as `make demo` runs it (cmd/demo: 5 s
// buckets and its alertDemoFlags), every threshold at its default.
func demoConfig() Config {
	c := testConfig()
	b := 5 * time.Second
	c.Bucket, c.Lateness, c.Window = b, b/2, 10*time.Minute
	c.WarmUp, c.Cooldown, c.HalfLife = 4*b, 2*b, 12*b
	return c
}

// chromeNewest is the product version the demo's spike hits.
func chromeNewest(t *testing.T) fleet.ProductVersion {
	t.Helper()
	var out fleet.ProductVersion
	for _, pv := range fleet.Table(nil) {
		if pv.Name == "Google Chrome" {
			out = pv // oldest first: the last is the newest
		}
	}
	if out.ProductID == "" {
		t.Fatal("no Google Chrome in the fleet's products")
	}
	return out
}

// The demo's traffic, stored and read back through ClickHouseSource, over
// five seeds: its steady failures (1603, 1618, 17002, OMA-DM 404, 405, 406,
// 418, 500 on many products, and the fleet's own ramp-up) raise nothing;
// with the demo's injected spike (Google Chrome's newest version failing
// 1603 on 60% of its devices, after a rollout of that version to every
// device), the only alerts are that spike at the product level (and at the
// code level, at most) and its resolve, although the rollout also brings a
// burst of the usual command failures on that version. Each run is judged
// replayed, one query for the whole run as the engine does at start; the
// first seed's also live, one query per bucket as the engine evaluates
// (about a second a bucket on 18.16, which is why not every seed's).
func TestFleetAlertsOnlyTheInjectedSpike(t *testing.T) {
	if testing.Short() {
		t.Skip("stores ten runs of the demo's traffic")
	}
	chrome := chromeNewest(t)
	for seed := int64(1); seed <= 5; seed++ {
		for _, spike := range []bool{false, true} {
			name := fmt.Sprintf("seed %d/no spike", seed)
			if spike {
				name = fmt.Sprintf("seed %d/1603 spike on %s %s", seed, chrome.Name, chrome.Version)
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				st := clickhousetest.NewDB(t).Store(t, nil)
				d := demoFleet{seed: seed, devices: 5000, messages: 24000, step: 2500 * time.Microsecond, spike: spike}
				end := d.store(t, st)
				cfg := demoConfig()
				src := ClickHouseSource{Store: st}
				to := align(end, cfg.Bucket).Add(4 * cfg.Bucket) // the spike's cooldown after the traffic ends
				live, replay := NewDetector(cfg, nil), NewDetector(cfg, nil)
				var got, replayed []Alert
				for b := fleetStart; seed == 1 && b.Before(to); b = b.Add(cfg.Bucket) {
					bs, err := src.Buckets(t.Context(), b, b.Add(cfg.Bucket), cfg.Bucket)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, live.Observe(bs[0].Start, bs[0].Counts)...)
				}
				bs, err := src.Buckets(t.Context(), fleetStart, to, cfg.Bucket)
				if err != nil {
					t.Fatal(err)
				}
				for _, b := range bs {
					replayed = append(replayed, replay.Observe(b.Start, b.Counts)...)
				}
				modes := map[string][]Alert{"replayed": replayed}
				if seed == 1 {
					modes["live"] = got
				}
				for mode, alerts := range modes {
					if !spike {
						for _, a := range alerts {
							t.Errorf("%s: no spike injected, got %s", mode, a.Summary)
						}
						continue
					}
					checkInjectedSpike(t, st, mode, alerts, chrome)
				}
			})
		}
	}
}

// checkInjectedSpike checks that alerts are exactly the demo spike's
// product-level firing and resolve, and at most a code-level 1603 firing
// and resolve, with the alert's content an admin acts on.
func checkInjectedSpike(t *testing.T, st *store.Store, mode string, alerts []Alert, chrome fleet.ProductVersion) {
	t.Helper()
	var fired, resolvedAlerts []Alert
	for _, a := range alerts {
		switch {
		case a.Level == LevelProduct && a.TargetID == chrome.ProductID && a.ProductVersion == chrome.Version &&
			a.CodeSpace == "win32" && a.Code == 1603:
		case a.Level == LevelCode && a.CodeSpace == "win32" && a.Code == 1603:
		default:
			t.Errorf("%s: not the injected spike: %s", mode, a.Summary)
			continue
		}
		if a.Status == Firing {
			fired = append(fired, a)
		} else {
			resolvedAlerts = append(resolvedAlerts, a)
		}
	}
	product := 0
	for _, a := range fired {
		if a.Level == LevelProduct {
			product++
		}
	}
	if product != 1 || len(fired) != len(resolvedAlerts) {
		t.Fatalf("%s: %d product-level firings, %d firings and %d resolves, want the product-level spike once, each firing resolved:\n%v",
			mode, product, len(fired), len(resolvedAlerts), alerts)
	}
	for _, a := range fired {
		if a.Level != LevelProduct {
			continue
		}
		want := codes.Classify(codes.SpaceWin32, 1603)
		if a.ProductName != chrome.Name || a.CSP != event.CSPMSI || a.CodeHex != "0x80070643" || a.CodeName != want.Name ||
			a.Advice == "" || a.Advice != want.Advice || a.Category != string(want.Category) || a.Severity == "" {
			t.Errorf("%s: alert content %+v", mode, a)
		}
		if a.Devices < uint64(demoConfig().MinDevices) || a.Attempts < a.Devices || a.Finished < a.Attempts || len(a.SampleDevices) != 3 {
			t.Errorf("%s: counts: %d attempts on %d devices of %d finished, samples %v", mode, a.Attempts, a.Devices, a.Finished, a.SampleDevices)
		}
		if !strings.HasPrefix(a.Summary, "[contoso] "+string(a.Severity)+": Google Chrome "+chrome.Version+": 1603 ERROR_INSTALL_FAILURE on ") {
			t.Errorf("%s: summary %q", mode, a.Summary)
		}
		// The details list the failed attempts, the sample devices among them.
		rows, err := st.Conn().Query(context.Background(), "SELECT DISTINCT device_id FROM ("+a.Query+")")
		if err != nil {
			t.Fatalf("%s: details query: %v\n%s", mode, err, a.Query)
		}
		listed := map[string]bool{}
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				t.Fatal(err)
			}
			listed[d] = true
		}
		rows.Close()
		for _, d := range a.SampleDevices {
			if !listed[d] {
				t.Errorf("%s: sample device %q is not among the %d the details list", mode, d, len(listed))
			}
		}
	}
}
