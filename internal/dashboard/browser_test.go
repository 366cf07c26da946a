package dashboard_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/cspwatch/cspwatch/internal/dashboard"
	"github.com/cspwatch/cspwatch/internal/dashboard/knownfleet"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
	"github.com/cspwatch/cspwatch/internal/testkit/externaltest"
)

func TestMain(m *testing.M) { os.Exit(clickhousetest.Main(m)) }

// browser starts headless Chromium with a new empty profile and returns a
// tab's context, bounded by the test's deadline; the browser stops when
// the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := externaltest.Require(t, externaltest.Chromium)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// The first Run starts the browser and lives as long as ctx: it must
	// not carry a timeout (see chromedp.Run); each step below does.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// consoleErrors collects the page's console errors, uncaught exceptions
// and browser log errors (a refused resource, a CSP violation).
type consoleErrors struct {
	mu   sync.Mutex
	errs []string
}

func (c *consoleErrors) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, s)
}

func (c *consoleErrors) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.errs
	c.errs = nil
	return e
}

// TestDashboardInBrowser loads every page of the dashboard over the known
// fleet in ClickHouse in headless Chromium, as a person would: it follows
// the links from the overview, checks that the failing version's failed
// devices are visible and equal to the report's, that charts are drawn and
// link to their rows, that no page logs an error, and saves a screenshot
// of each page (t.ArtifactDir; with -update also testdata/screenshots and
// docs/screenshots).
func TestDashboardInBrowser(t *testing.T) {
	db := clickhousetest.NewDB(t)
	st := db.Store(t, nil)
	now := time.Now().UTC().Truncate(time.Second)
	setup, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := knownfleet.Load(setup, st, now); err != nil {
		t.Fatal(err)
	}
	cfg := store.DefaultConfig()
	cfg.Addrs, cfg.Database = []string{db.Addr}, db.Database
	ro, err := store.OpenReadOnly(setup, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	const token = "s3cret-token"
	h, err := dashboard.New(dashboard.Options{Source: dashboard.StoreSource{Store: ro}, Token: token,
		QueryTimeout: 30 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	// The figures a person compares with: the report's, for the same window.
	rep, err := st.FleetReport(setup, store.ReportOptions{Now: now, Since: 24 * time.Hour, Tenant: knownfleet.Tenant, StuckAfter: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var wantFailed uint64
	for _, p := range rep.Products {
		if p.Product == knownfleet.VPN && p.Version == knownfleet.FailingVer {
			wantFailed = p.Failed
		}
	}
	if wantFailed != knownfleet.FailingCount {
		t.Fatalf("report: %d failed devices on %s %s, want %d", wantFailed, knownfleet.VPN, knownfleet.FailingVer, knownfleet.FailingCount)
	}

	ctx := browser(t)
	var console consoleErrors
	err = chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == "error" || ev.Type == "assert" {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				console.add(fmt.Sprintf("console.%s %s", ev.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			console.add("exception " + (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				console.add(fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	step := func(t *testing.T) (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, 30*time.Second)
	}
	{
		sctx, cancel := step(t)
		if _, err := chromedp.Call(sctx, cdplog.Enable, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(sctx, network.Enable, network.EnableParams{}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(sctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Authorization": "Bearer " + token}}); err != nil {
			t.Fatal(err)
		}
		cancel()
	}

	failedCell := fmt.Sprintf(`#products tr[data-tenant=%q][data-product=%q][data-version=%q] td[data-field="failed"]`,
		knownfleet.Tenant, knownfleet.VPN, knownfleet.FailingVer)
	// Each page is reached from the one before it, by its link.
	pages := []struct {
		name string
		// url is the page's address; "" follows link (a CSS selector of an
		// <a>) on the page before.
		url, link string
		check     func(t *testing.T, ctx context.Context)
	}{
		{"overview", "/?tenant=" + knownfleet.Tenant, "", func(t *testing.T, ctx context.Context) {
			mustText(t, ctx, failedCell, fmt.Sprint(wantFailed))
			mustCount(t, ctx, "svg.chart", 2)
			mustAttr(t, ctx, `figure a.chart-link[href="#products"]`, "href", "#products")
			mustVisible(t, ctx, `#products`)
			mustVisible(t, ctx, fmt.Sprintf(`tr[data-alert=%q]`, knownfleet.OpenAlertID))
			mustText(t, ctx, `#causes tr[data-cause="win32:1603"] td[data-field="devices"]`, fmt.Sprint(knownfleet.FailingCount))
		}},
		{"product", "", fmt.Sprintf(`#products tr[data-version=%q] a`, knownfleet.FailingVer), func(t *testing.T, ctx context.Context) {
			mustText(t, ctx, "h1", knownfleet.VPN+" (MSI)")
			// What a person checks: the failing version's failed devices,
			// visible, and the report's figure.
			mustText(t, ctx, failedCell, fmt.Sprint(wantFailed))
			mustCount(t, ctx, "#attempts tbody tr", knownfleet.FailingCount)
			mustCount(t, ctx, "svg.chart", 2)
			mustVisible(t, ctx, "#failures")
		}},
		{"device", "", fmt.Sprintf(`#attempts tr[data-device=%q] a`, knownfleet.FailedDevice), func(t *testing.T, ctx context.Context) {
			mustText(t, ctx, "h1", "Device "+knownfleet.FailedDevice)
			mustText(t, ctx, `#attempts tr[data-outcome="failed"] td.outcome-failed`, "failed")
			mustCount(t, ctx, "svg.chart", 1)
			body := text(t, ctx, "#attempts")
			if !strings.Contains(body, "1603") || !strings.Contains(body, "0x80070643") {
				t.Errorf("device attempts lack the cause 1603 / 0x80070643:\n%s", body)
			}
		}},
		{"alerts", "", `nav a[href^="alerts"]`, func(t *testing.T, ctx context.Context) {
			mustVisible(t, ctx, fmt.Sprintf(`tr[data-alert=%q]`, knownfleet.OpenAlertID))
			mustVisible(t, ctx, fmt.Sprintf(`tr[data-alert=%q]`, knownfleet.ResolvedAlertID))
			mustText(t, ctx, fmt.Sprintf(`tr[data-alert=%q] td:first-child`, knownfleet.ResolvedAlertID), "resolved")
		}},
	}
	for _, pg := range pages {
		t.Run(pg.name, func(t *testing.T) {
			sctx, cancel := step(t)
			defer cancel()
			target := srv.URL + pg.url
			if pg.url == "" {
				href, err := chromedp.Run(sctx, chromedp.AttributeValue(chromedp.CSS(pg.link), "href"))
				if err != nil || !href.Exists {
					t.Fatalf("link %s: %v (found %v)", pg.link, err, href.Exists)
				}
				cur, err := chromedp.Run(sctx, chromedp.Location())
				if err != nil {
					t.Fatal(err)
				}
				base, _ := url.Parse(cur)
				ref, err := url.Parse(href.Value)
				if err != nil {
					t.Fatal(err)
				}
				target = base.ResolveReference(ref).String()
			}
			resp, err := chromedp.Run(sctx, chromedp.NavigateResponse(target))
			if err != nil {
				t.Fatalf("navigate %s: %v", target, err)
			}
			if resp.Status != 200 {
				t.Fatalf("%s: status %d", target, resp.Status)
			}
			if err := chromedp.Do(sctx, chromedp.WaitVisible(chromedp.CSS("main footer"))); err != nil {
				t.Fatal(err)
			}
			pg.check(t, sctx)
			png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			saveScreenshot(t, pg.name+".png", png)
			for _, e := range console.take() {
				t.Errorf("console: %s", e)
			}
		})
	}
}

// saveScreenshot writes png to the test's artifact directory and, with
// -update, to testdata/screenshots and docs/screenshots.
func saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	dirs := []string{t.ArtifactDir()}
	if testkit.Update() {
		dirs = append(dirs, filepath.Join("testdata", "screenshots"), filepath.Join("..", "..", "docs", "screenshots"))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s", filepath.Join(dirs[0], name))
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// mustText waits until sel is visible and checks its text.
func mustText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	if got := text(t, ctx, sel); got != want {
		t.Errorf("%s: text %q, want %q", sel, got, want)
	}
}

func mustVisible(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Errorf("%s not visible: %v", sel, err)
	}
}

func mustCount(t *testing.T, ctx context.Context, sel string, want int) {
	t.Helper()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(sel), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	if len(nodes) != want {
		t.Errorf("%s: %d elements, want %d", sel, len(nodes), want)
	}
}

func mustAttr(t *testing.T, ctx context.Context, sel, name, want string) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil || !got.Exists || got.Value != want {
		t.Errorf("%s[%s] = %q (found %v, %v), want %q", sel, name, got.Value, got.Exists, err, want)
	}
}
