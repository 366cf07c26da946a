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
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
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

// Alerts reads the alerts table (alerts.List): the alerts with a
// transition since, and the open ones whatever since.
func (s StoreSource) Alerts(ctx context.Context, since time.Time, tenant string) ([]alerts.Alert, error) {
	return alerts.List(ctx, s.Store, alerts.ListOptions{Since: since, Tenant: tenant, IncludeOpen: true})
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
