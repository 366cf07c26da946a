package dashboard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/output"
	"github.com/cspwatch/cspwatch/internal/store"
)

// Source is what the dashboard reads. *store.Store's read methods and the
// alerts table make one: see StoreSource. Every method only reads.
type Source interface {
	FleetReport(ctx context.Context, o store.ReportOptions) (store.Report, error)
	OutcomesOverTime(ctx context.Context, w store.Window, f store.AttemptFilter, bucket time.Duration) ([]store.OutcomeBucket, error)
	FailuresByCause(ctx context.Context, w store.Window, f store.AttemptFilter, bucket time.Duration, limit int) ([]store.CauseBucket, error)
	ProductVersions(ctx context.Context, w store.Window, f store.AttemptFilter) ([]store.ProductInstalls, error)
	FailingDevices(ctx context.Context, w store.Window, f store.AttemptFilter, limit int) ([]store.Attempt, error)
	Attempts(ctx context.Context, w store.Window, f store.AttemptFilter, limit int) ([]store.Attempt, error)
	Tenants(ctx context.Context, w store.Window) ([]string, error)
	// Alerts lists the spike alerts with a transition at or after since
	// and, whatever since, those still open (latest status firing), one
	// per spike in its latest status (alerts.ListAlerts with IncludeOpen).
	Alerts(ctx context.Context, since time.Time, tenant string) ([]alerts.Alert, error)
}

// StoreSource is the Source of a store: open it with store.OpenReadOnly.
type StoreSource struct{ *store.Store }

// Alerts reads the alerts table (alerts.ListAlerts): the alerts with a
// transition since, and the open ones whatever since.
func (s StoreSource) Alerts(ctx context.Context, since time.Time, tenant string) ([]alerts.Alert, error) {
	return alerts.ListAlerts(ctx, s.Conn(), alerts.ListOptions{Since: since, Tenant: tenant, IncludeOpen: true})
}

// Options configure the dashboard's handler.
type Options struct {
	Source Source
	// Token, when set, is required of every request: as a bearer token
	// (Authorization: Bearer T) or, for a browser, as the password of
	// HTTP basic authentication (any user name).
	Token string
	// QueryTimeout bounds the reads of one page; 30s when zero.
	QueryTimeout time.Duration
	// Lookback is how far before a window events are read
	// (store.DefaultReportLookback when zero); StuckAfter lists attempts
	// still active this long after their command (4h when zero).
	Lookback, StuckAfter time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// OnError, when set, is told of every failed read and page.
	OnError func(r *http.Request, err error)
}

// Ranges are the time ranges the selector offers; any Go duration (or a
// number of days, "14d") between MinRange and MaxRange is accepted.
var Ranges = []string{"1h", "6h", "24h", "7d", "30d"}

// Bounds of the range parameter.
const (
	MinRange     = 5 * time.Minute
	MaxRange     = 90 * 24 * time.Hour
	defaultRange = "24h"
	// maxParam bounds the length of a query parameter's value.
	maxParam = 256
)

var pages = map[string]*template.Template{
	"overview": parse("layout.html", "overview.html"),
	"product":  parse("layout.html", "product.html"),
	"device":   parse("layout.html", "device.html"),
	"alerts":   parse("layout.html", "alerts.html"),
	"error":    parse("layout.html", "error.html"),
}

// New returns the dashboard's handler: GET / (fleet overview), /product
// (product=NAME, optional csp), /device (tenant and device), /alerts; each
// takes tenant= and range= (a duration such as 24h or 7d). A bad parameter
// is answered 400, an unknown path 404, a method other than GET or HEAD
// 405, a missing or wrong token 401; a read that fails, 500 with the
// reason on the page; a read that outlasts QueryTimeout or times out on
// its connection, 504 with a generic message (the detail goes to OnError).
//
// Guarantees: the handler only reads (Source); every value it shows is
// escaped by html/template; every page is whole or not sent (rendered in
// memory first); pages carry a Content-Security-Policy that forbids every
// script and every request beyond the page. Cost per page: the overview
// runs FleetReport (five queries) plus three, the product page four, the
// device and alerts pages two; each computes AttemptsQuery over the range
// and the lookback, so the range bounds the cost. A page's independent
// reads run concurrently: a page takes about its slowest read (FleetReport
// on the overview), not their sum.
func New(o Options) (http.Handler, error) {
	if o.Source == nil {
		return nil, errors.New("dashboard: no source")
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 30 * time.Second
	}
	if o.Lookback <= 0 {
		o.Lookback = store.DefaultReportLookback
	}
	if o.StuckAfter <= 0 {
		o.StuckAfter = 4 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &server{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page(s.overview))
	mux.HandleFunc("GET /product", s.page(s.product))
	mux.HandleFunc("GET /device", s.page(s.device))
	mux.HandleFunc("GET /alerts", s.page(s.alerts))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: the dashboard only reads", http.StatusMethodNotAllowed)
			return
		}
		s.fail(w, r, params{Range: defaultRange, Since: 24 * time.Hour}, http.StatusNotFound, fmt.Errorf("no page %s: the pages are /, /product, /device and /alerts", r.URL.Path))
	})
	var h http.Handler = mux
	if o.Token != "" {
		h = s.authorize(h)
	}
	return headers(h), nil
}

type server struct{ o Options }

// headers sets the security headers of every answer.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// authorize requires the token: bearer, or basic authentication's
// password. Both compare SHA-256 digests in constant time, so neither the
// token's content nor its length leaks through timing.
func (s *server) authorize(h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(s.o.Token))
	ok := func(got string) bool {
		g := sha256.Sum256([]byte(got))
		return subtle.ConstantTimeCompare(g[:], want[:]) == 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme's name is case-insensitive (RFC 7235 section 2.1).
		scheme, t, found := strings.Cut(r.Header.Get("Authorization"), " ")
		if found && strings.EqualFold(scheme, "Bearer") && ok(strings.TrimSpace(t)) {
			h.ServeHTTP(w, r)
			return
		}
		if _, pw, found := r.BasicAuth(); found && ok(pw) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="cspwatch dashboard", charset="UTF-8"`)
		http.Error(w, "unauthorized: send the dashboard token as a bearer token, or as the password when the browser asks", http.StatusUnauthorized)
	})
}

// params are a page's query parameters, checked.
type params struct {
	Tenant, Range string
	Since         time.Duration
	Product, CSP  string
	Device        string
	// from and to are the window (window); now is the clock's time it
	// was taken at.
	from, to, now time.Time
}

// errBadParam marks a parameter error: 400.
var errBadParam = errors.New("bad parameter")

// parseParams checks the query: each known parameter at most once, at
// most maxParam bytes of printable UTF-8; range a duration within bounds.
func parseParams(q url.Values) (params, error) {
	p := params{Range: defaultRange}
	get := func(name string) (string, error) {
		vs := q[name]
		switch {
		case len(vs) == 0:
			return "", nil
		case len(vs) > 1:
			return "", fmt.Errorf("%w: %s given %d times", errBadParam, name, len(vs))
		}
		v := strings.TrimSpace(vs[0])
		if len(v) > maxParam || !utf8.ValidString(v) || strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			return "", fmt.Errorf("%w: %s must be printable text of at most %d bytes", errBadParam, name, maxParam)
		}
		return v, nil
	}
	var err error
	for _, f := range []struct {
		name string
		dst  *string
	}{{"tenant", &p.Tenant}, {"range", &p.Range}, {"product", &p.Product}, {"csp", &p.CSP}, {"device", &p.Device}} {
		if *f.dst, err = get(f.name); err != nil {
			return p, err
		}
	}
	if p.Range == "" {
		p.Range = defaultRange
	}
	if p.Since, err = parseRange(p.Range); err != nil {
		return p, err
	}
	return p, nil
}

// parseRange reads a Go duration or a whole number of days ("7d").
func parseRange(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%w: range %q: want a duration such as 6h or 7d", errBadParam, s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%w: range %q: want a duration such as 6h or 7d", errBadParam, s)
		}
	}
	if d < MinRange || d > MaxRange {
		return 0, fmt.Errorf("%w: range %q: want between 5m and 90d", errBadParam, s)
	}
	return d, nil
}

// link is a relative link to a page with the current tenant and range and
// the given extra parameters (name, value pairs; an empty value is left
// out).
func (p params) link(page string, kv ...string) string {
	v := url.Values{}
	if p.Tenant != "" {
		v.Set("tenant", p.Tenant)
	}
	if p.Range != defaultRange {
		v.Set("range", p.Range)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			v.Del(kv[i])
			continue
		}
		v.Set(kv[i], kv[i+1])
	}
	if page == "" {
		page = "./"
	}
	if len(v) == 0 {
		return page
	}
	return page + "?" + v.Encode()
}

// productLink is the product page of a product name (and CSP).
func (p params) productLink(tenant, csp, product string) string {
	q := p
	if tenant != "" {
		q.Tenant = tenant
	}
	return q.link("product", "product", product, "csp", csp)
}

func (p params) deviceLink(tenant, device string) string {
	q := p
	q.Tenant = tenant
	return q.link("device", "device", device)
}

// window is the page's window: it ends at now rounded up to the second, as
// FleetReport's does.
func (s *server) window(p *params) store.Window {
	now := s.o.Now()
	to := now.UTC().Truncate(time.Second)
	if to.Before(now) {
		to = to.Add(time.Second)
	}
	p.from, p.to, p.now = to.Add(-p.Since), to, now
	return store.Window{From: p.from, To: p.to, Lookback: s.o.Lookback}
}

// layout is the data of layout.html.
type layout struct {
	CSS                  template.CSS
	Page, Title, Heading string
	Scope                string
	From, To             time.Time
	Tenant               string
	Tenants              []string
	Ranges               []rangeOption
	Action               string
	Hidden               []hidden
	Nav                  struct{ Overview, Alerts string }
	Errors               []string
	Body                 any
}

type rangeOption struct {
	Value, Label string
	Selected     bool
}

type hidden struct{ Name, Value string }

// pageFunc reads and lays out one page; an error is the page's failure.
type pageFunc func(ctx context.Context, p params, l *layout) error

// page wraps a pageFunc: it checks the parameters, bounds the reads by
// QueryTimeout, renders into memory and writes the page whole. The
// tenants of the selector are read alongside the page's reads.
func (s *server) page(f pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := parseParams(r.URL.Query())
		if err != nil {
			s.fail(w, r, params{Range: defaultRange, Since: 24 * time.Hour}, http.StatusBadRequest, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.o.QueryTimeout)
		defer cancel()
		win := s.window(&p)
		l := s.layout(p)
		var (
			tenants    []string
			tenantsErr error
			tenantsTo  = make(chan struct{})
		)
		go func() {
			defer close(tenantsTo)
			tenants, tenantsErr = s.o.Source.Tenants(ctx, win)
		}()
		if err := f(ctx, p, &l); err != nil {
			late := timedOut(ctx, err) // before cancel ends ctx
			cancel()
			<-tenantsTo
			switch {
			case errors.Is(err, errBadParam):
				s.fail(w, r, p, http.StatusBadRequest, err)
			case late:
				// The driver's text names the server's address: it goes
				// to the log, the page says what happened.
				s.failShown(w, r, p, http.StatusGatewayTimeout, fmt.Errorf("timeout: %w", err),
					fmt.Sprintf("The page's reads took longer than %s or timed out: try a shorter range.", s.o.QueryTimeout))
			default:
				s.fail(w, r, p, http.StatusInternalServerError, err)
			}
			return
		}
		<-tenantsTo
		if tenantsErr == nil {
			l.Tenants = tenants
		} else {
			s.report(r, tenantsErr)
		}
		if l.Tenant != "" && !contains(l.Tenants, l.Tenant) {
			l.Tenants = append(l.Tenants, l.Tenant)
		}
		s.write(w, r, pages[l.Page], l, http.StatusOK)
	}
}

// timedOut tells whether err is a read that ran out of time: the page's
// context ended (clickhouse-go then answers with its connection's error,
// not the context's), or the connection's deadline passed.
func timedOut(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// parallel runs the reads concurrently and waits for them all. It returns
// the first error; once one fails, the others' context is canceled.
func parallel(ctx context.Context, reads ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, read := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := read(ctx); err != nil {
				once.Do(func() {
					first = err
					cancel()
				})
			}
		}()
	}
	wg.Wait()
	return first
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (s *server) report(r *http.Request, err error) {
	if s.o.OnError != nil {
		s.o.OnError(r, err)
	}
}

// layout is the common part of a page for p.
func (s *server) layout(p params) layout {
	l := layout{CSS: css, From: p.from, To: p.to, Tenant: p.Tenant, Scope: "all tenants"}
	if p.Tenant != "" {
		l.Scope = "tenant " + p.Tenant
	}
	found := false
	for _, r := range Ranges {
		sel := r == p.Range
		found = found || sel
		l.Ranges = append(l.Ranges, rangeOption{Value: r, Label: "last " + r, Selected: sel})
	}
	if !found {
		l.Ranges = append(l.Ranges, rangeOption{Value: p.Range, Label: "last " + p.Range, Selected: true})
	}
	l.Nav.Overview = p.link("")
	l.Nav.Alerts = p.link("alerts")
	return l
}

// fail writes the error page with status, showing err.
func (s *server) fail(w http.ResponseWriter, r *http.Request, p params, status int, err error) {
	s.failShown(w, r, p, status, err, err.Error())
}

// failShown writes the error page with status, showing shown; err goes to
// OnError.
func (s *server) failShown(w http.ResponseWriter, r *http.Request, p params, status int, err error, shown string) {
	s.report(r, err)
	if p.to.IsZero() {
		s.window(&p)
	}
	l := s.layout(p)
	l.Page, l.Title, l.Heading = "error", http.StatusText(status), http.StatusText(status)
	l.Action = "./"
	l.Errors = []string{shown}
	l.Body = struct{ Home string }{p.link("")}
	s.write(w, r, pages["error"], l, status)
}

// write renders t into memory and sends it with status.
func (s *server) write(w http.ResponseWriter, r *http.Request, t *template.Template, l layout, status int) {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", l); err != nil {
		s.report(r, fmt.Errorf("render %s: %w", l.Page, err))
		http.Error(w, "dashboard: page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = b.WriteTo(w)
	}
}

// alertRow is a row of an alerts table.
type alertRow struct {
	alerts.Alert
	ProductLabel, ProductHref string
}

func (p params) alertRows(list []alerts.Alert, status alerts.Status) []alertRow {
	var out []alertRow
	for _, a := range list {
		if a.Status != status {
			continue
		}
		r := alertRow{Alert: a, ProductLabel: "every product (code-level)"}
		if a.Level == alerts.LevelProduct {
			r.ProductLabel = a.ProductName
			if r.ProductLabel == "" {
				r.ProductLabel = store.UnknownLabel(a.TargetID)
			}
			if a.ProductVersion != "" {
				r.ProductLabel += " " + a.ProductVersion
			}
			name := a.ProductName
			if name == "" {
				name = store.UnknownLabel(a.TargetID)
			}
			r.ProductHref = p.productLink(a.Tenant, a.CSP, name)
		}
		out = append(out, r)
	}
	// Newest first.
	sort.SliceStable(out, func(i, j int) bool { return out[i].FirstSeen.After(out[j].FirstSeen) })
	return out
}

// overviewBody is the data of overview.html.
type overviewBody struct {
	Totals                   totals
	RateChart, ProductsChart figure
	Products                 []productRow
	Causes                   []causeRow
	Stuck                    []stuckRow
	Buckets                  buckets
	Open                     []alertRow
	AlertsErr                string
	AlertsHref, Longer       string
	StuckAfter               string
}

func (s *server) overview(ctx context.Context, p params, l *layout) error {
	l.Page, l.Title, l.Heading, l.Action = "overview", "Fleet overview", "Fleet overview", "./"
	step := Step(p.Since)
	var (
		rep       store.Report
		outcomes  []store.OutcomeBucket
		list      []alerts.Alert
		alertsErr error
	)
	// FleetReport's window, from the same clock reading, is the page's:
	// the reads need not wait for it.
	err := parallel(ctx,
		func(ctx context.Context) (err error) {
			rep, err = s.o.Source.FleetReport(ctx, store.ReportOptions{Now: p.now, Since: p.Since, Lookback: s.o.Lookback,
				Tenant: p.Tenant, StuckAfter: s.o.StuckAfter})
			return err
		},
		func(ctx context.Context) (err error) {
			w := store.Window{From: p.from, To: p.to, Lookback: s.o.Lookback}
			outcomes, err = s.o.Source.OutcomesOverTime(ctx, w, store.AttemptFilter{Tenant: p.Tenant}, step)
			return err
		},
		func(ctx context.Context) error {
			// The open alerts, whenever they fired (the source lists
			// them whatever since); a failure other than a timeout shows
			// in place.
			list, alertsErr = s.o.Source.Alerts(ctx, p.to, p.Tenant)
			if alertsErr != nil && timedOut(ctx, alertsErr) {
				return alertsErr
			}
			return nil
		})
	if err != nil {
		return err
	}
	b := overviewBody{
		Totals:     reportTotals(rep),
		Products:   productRows(rep.Products, func(x store.ProductInstalls) string { return p.productLink(x.Tenant, x.CSP, x.Product) }),
		Causes:     causeRows(rep.Causes, p.Tenant == "", func(x store.CauseProduct) string { return p.productLink(x.Tenant, x.CSP, x.Product) }),
		Stuck:      stuckRows(rep.Stuck, p.deviceLink),
		Buckets:    bucketTable(outcomes, step, false),
		AlertsHref: p.link("alerts"),
		Longer:     p.link("", "range", "7d", "tenant", ""),
		StuckAfter: output.ShortDuration(s.o.StuckAfter),
	}
	b.RateChart = newFigure("#outcomes", fmt.Sprintf("Succeeded / finished attempts per %s.", output.ShortDuration(step)),
		"No install attempt finished in this window: is the aggregator running? Try a longer range.", func() (template.HTML, error) {
			return TimeChart("Install success rate over time", "% of finished attempts", rep.From, rep.To, 100, rateSeries(outcomes))
		})
	b.ProductsChart = newFigure("#products", "Devices by their latest attempt of each version; the table below links to each product.",
		"No product had an install attempt in this window.", func() (template.HTML, error) {
			return DevicesBarChart("Products and versions by failed devices", productBars(rep.Products, p.Tenant == ""))
		})
	if alertsErr != nil {
		b.AlertsErr = "alerts unavailable: " + alertsErr.Error()
	}
	b.Open = p.alertRows(list, alerts.Firing)
	l.Body = b
	return nil
}

// productBody is the data of product.html.
type productBody struct {
	Product                    string
	VersionsChart, CausesChart figure
	Versions                   []productRow
	Failing                    []attemptRow
	FailingLimit               int
	CauseRows                  []causeBucketRow
	Longer                     string
}

type causeBucketRow struct {
	store.CauseBucket
	Name string
}

// failingLimit bounds the product page's failing devices.
const failingLimit = 50

// maxCauseSeries bounds the causes drawn as their own line; the rest are
// summed as "other causes".
const maxCauseSeries = 5

func (s *server) product(ctx context.Context, p params, l *layout) error {
	if p.Product == "" {
		return fmt.Errorf("%w: product is required (the product's name, as the overview lists it)", errBadParam)
	}
	l.Page, l.Title, l.Heading, l.Action = "product", p.Product, p.Product, "product"
	l.Hidden = []hidden{{"product", p.Product}}
	if p.CSP != "" {
		l.Hidden = append(l.Hidden, hidden{"csp", p.CSP})
		l.Heading += " (" + event.CSPLabel(p.CSP) + ")"
	}
	w := store.Window{From: p.from, To: p.to, Lookback: s.o.Lookback}
	f := store.AttemptFilter{Tenant: p.Tenant, CSP: p.CSP, Product: p.Product, AnyVersion: true}
	step := Step(p.Since)
	var (
		versions []store.ProductInstalls
		causes   []store.CauseBucket
		failing  []store.Attempt
	)
	err := parallel(ctx,
		func(ctx context.Context) (err error) {
			versions, err = s.o.Source.ProductVersions(ctx, w, f)
			return err
		},
		func(ctx context.Context) (err error) {
			causes, err = s.o.Source.FailuresByCause(ctx, w, f, step, 0)
			return err
		},
		func(ctx context.Context) (err error) {
			failing, err = s.o.Source.FailingDevices(ctx, w, f, failingLimit)
			return err
		})
	if err != nil {
		return err
	}
	b := productBody{
		Product:      p.Product,
		Versions:     productRows(versions, nil),
		Failing:      attemptRows(failing, func(a store.Attempt) string { return p.deviceLink(a.Tenant, a.DeviceID) }, nil),
		FailingLimit: failingLimit,
		Longer:       p.link("product", "product", p.Product, "csp", p.CSP, "range", "7d"),
	}
	for _, c := range causes {
		b.CauseRows = append(b.CauseRows, causeBucketRow{CauseBucket: c, Name: codes.Classify(codes.Space(c.Space), c.Code).Name})
	}
	b.VersionsChart = newFigure("#products", "Devices per version by their latest attempt; rows in the versions table.",
		"No version of this product had an install attempt in this window.", func() (template.HTML, error) {
			return DevicesBarChart("Versions by failed devices", productBars(versions, p.Tenant == ""))
		})
	b.CausesChart = newFigure("#failures", fmt.Sprintf("Failed attempts per %s by cause; rows in the table below.", output.ShortDuration(step)),
		"No failed attempt finished in this window.", func() (template.HTML, error) {
			return TimeChart("Failures over time by cause", "failed attempts", p.from, p.to, 0, causeSeries(causes, p.from, p.to, step))
		})
	l.Body = b
	return nil
}

// causeSeries are the failed attempts per bucket of the most frequent
// causes, one series each, and of the others summed.
func causeSeries(bs []store.CauseBucket, from, to time.Time, step time.Duration) []Series {
	if len(bs) == 0 {
		return nil
	}
	type key struct {
		space string
		code  int64
	}
	total := map[key]uint64{}
	for _, b := range bs {
		total[key{b.Space, b.Code}] += b.Failed
	}
	keys := make([]key, 0, len(total))
	for k := range total {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if total[keys[i]] != total[keys[j]] {
			return total[keys[i]] > total[keys[j]]
		}
		return keys[i].space+strconv.FormatInt(keys[i].code, 10) < keys[j].space+strconv.FormatInt(keys[j].code, 10)
	})
	index := map[key]int{}
	n := min(len(keys), maxCauseSeries)
	for i, k := range keys[:n] {
		index[k] = i
	}
	other := len(keys) > n
	starts := []time.Time{}
	for t := floorTime(from, step); t.Before(to); t = t.Add(step) {
		starts = append(starts, t)
	}
	values := make([][]float64, n+1)
	for i := range values {
		values[i] = make([]float64, len(starts))
	}
	for _, b := range bs {
		i := int(b.Start.Sub(starts[0]) / step)
		if i < 0 || i >= len(starts) {
			continue
		}
		s, ok := index[key{b.Space, b.Code}]
		if !ok {
			s = n
		}
		values[s][i] += float64(b.Failed)
	}
	var out []Series
	for s := 0; s <= n; s++ {
		if s == n && !other {
			break
		}
		name := "other causes"
		if s < n {
			k := keys[s]
			name = strconv.FormatInt(k.code, 10)
			if hex := store.CauseHex(k.space, k.code); hex != "" {
				name += " (" + hex + ")"
			}
			if c := codes.Classify(codes.Space(k.space), k.code).Name; c != "" {
				name += " " + c
			}
		}
		ser := Series{Name: name}
		for i, t := range starts {
			ser.Points = append(ser.Points, Point{At: t, Value: values[s][i]})
		}
		out = append(out, ser)
	}
	return out
}

// deviceBody is the data of device.html.
type deviceBody struct {
	Tenant, Device string
	TimelineChart  figure
	Attempts       []attemptRow
	Longer         string
}

// deviceLimit bounds the attempts of the device page.
const deviceLimit = 200

func (s *server) device(ctx context.Context, p params, l *layout) error {
	if p.Tenant == "" || p.Device == "" {
		return fmt.Errorf("%w: tenant and device are required", errBadParam)
	}
	l.Page, l.Title, l.Heading, l.Action = "device", "Device "+p.Device, "Device "+p.Device, "device"
	l.Hidden = []hidden{{"device", p.Device}}
	w := store.Window{From: p.from, To: p.to, Lookback: s.o.Lookback}
	as, err := s.o.Source.Attempts(ctx, w, store.AttemptFilter{Tenant: p.Tenant, DeviceID: p.Device}, deviceLimit)
	if err != nil {
		return err
	}
	b := deviceBody{
		Tenant: p.Tenant, Device: p.Device,
		Attempts: attemptRows(as, nil, func(a store.Attempt) string { return p.productLink(a.Tenant, a.CSP, a.Product) }),
		Longer:   p.link("device", "device", p.Device, "range", "30d"),
	}
	var spans []Span
	// The chart spans the device's attempts, not the whole range, so
	// that a week's range does not squeeze a morning's attempts to a dot.
	from := p.to
	for _, a := range as {
		if a.RequestedAt.Before(from) {
			from = a.RequestedAt
		}
	}
	from = from.Add(-max(time.Hour, p.to.Sub(from)/10))
	for _, a := range as {
		end := a.LastSeen
		if !a.FinishedAt.IsZero() {
			end = a.FinishedAt
		}
		label := a.Product
		if a.Version != "" {
			label += " " + a.Version
		}
		spans = append(spans, Span{Row: label, Start: a.RequestedAt, End: end, Outcome: a.Outcome})
	}
	b.TimelineChart = newFigure("#attempts", "Each attempt from its command (or first event) to its outcome; rows in the table below.",
		"No attempt.", func() (template.HTML, error) {
			return TimelineChart("Install attempts of "+p.Device, from, p.to, spans)
		})
	l.Body = b
	return nil
}

// alertsBody is the data of alerts.html.
type alertsBody struct{ Open, Resolved []alertRow }

func (s *server) alerts(ctx context.Context, p params, l *layout) error {
	l.Page, l.Title, l.Heading, l.Action = "alerts", "Alerts", "Spike alerts", "alerts"
	// Open alerts whenever they fired; resolved ones with a transition in
	// the range.
	list, err := s.o.Source.Alerts(ctx, p.from, p.Tenant)
	if err != nil {
		return err
	}
	l.Body = alertsBody{Open: p.alertRows(list, alerts.Firing), Resolved: p.alertRows(list, alerts.Resolved)}
	return nil
}
