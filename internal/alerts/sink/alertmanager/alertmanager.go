// Package alertmanager is the Prometheus Alertmanager alert sink: it posts
// alerts to Alertmanager's API v2 and resends them every bucket, as
// Alertmanager expects of its clients.
package alertmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/post"
	"github.com/cspwatch/cspwatch/internal/store"
)

// AlertName is the alertname label of every cspwatch alert in
// Alertmanager.
const AlertName = "CspwatchInstallFailureSpike"

// Options configure a Sink.
type Options struct {
	// URLs are the Alertmanagers, every member of an HA cluster (they do not
	// share alerts with each other: a client posts to each). A URL is the
	// server's base (http://am:9093, with its --web.route-prefix if any);
	// /api/v2/alerts is appended unless it is there already.
	URLs []string
	// Username and Password (HTTP basic auth) or BearerToken, when the
	// Alertmanagers sit behind a proxy that asks for them; empty for none.
	Username, Password string
	BearerToken        string
	// Horizon is how far past now a firing alert's endsAt is set at each
	// post; Alertmanager resolves the alert by itself if no post renews it
	// before then. It must exceed the engine's resend period (one bucket).
	Horizon time.Duration
	// DashboardURL is the base URL of the cspwatch dashboard; when set, each
	// alert links to its page there (generatorURL and the dashboard
	// annotation).
	DashboardURL string
	// Policy bounds the tries of one transition's post to each
	// Alertmanager.
	Policy post.Policy
	// Client may be nil (http.DefaultClient settings).
	Client *http.Client
}

// Sink posts alerts to Alertmanager's API v2 (POST
// /api/v2/alerts, a JSON array of postable alerts), built on the standard
// library only.
//
// A transition (Deliver) is posted to every Alertmanager at once, each with
// the HTTP notifiers' retries (network errors, 408, 429 and 5xx are retried;
// another 4xx is permanent). It counts as delivered when at least one
// Alertmanager accepted it, as Prometheus does; the others catch up at the
// next resend.
//
// Alertmanager expects a client to resend an alert while it fires, and
// resolves one that is not renewed by its endsAt (resolve_timeout when a
// post has none). The engine delivers each transition once, so it hands
// this sink the shared state's alerts at every bucket (Resend) and the sink
// posts each firing one with endsAt = now + Horizon, and each resolved one,
// for Horizon after it resolved, with endsAt = its resolve time. A spike
// therefore stays active while any replica runs, ends at the resolve (the
// resolve is posted with endsAt in the past), and ends by itself Horizon
// after the last replica stopped resending, rather than never. Resending
// the resolves undoes a stale firing post another replica made just after
// a resolve, and informs an Alertmanager that was down when it was sent.
type Sink struct {
	targets   []*post.Endpoint
	horizon   time.Duration
	dashboard string
	now       func() time.Time
}

// New returns the Alertmanager sink of o.
func New(o Options) (*Sink, error) {
	if len(o.URLs) == 0 {
		return nil, errors.New("alertmanager: no url")
	}
	if o.Horizon <= 0 {
		return nil, fmt.Errorf("alertmanager: horizon %v, want positive", o.Horizon)
	}
	header := http.Header{}
	switch {
	case o.BearerToken != "" && o.Username != "":
		return nil, errors.New("alertmanager: set a user or a bearer token, not both")
	case o.BearerToken != "":
		header.Set("Authorization", "Bearer "+o.BearerToken)
	case o.Username != "":
		r := http.Request{Header: http.Header{}}
		r.SetBasicAuth(o.Username, o.Password)
		header.Set("Authorization", r.Header.Get("Authorization"))
	case o.Password != "":
		return nil, errors.New("alertmanager: password without user")
	}
	s := &Sink{horizon: o.Horizon, dashboard: strings.TrimRight(o.DashboardURL, "/"), now: time.Now}
	for _, raw := range o.URLs {
		u, err := alerts.AlertmanagerEndpoint(raw)
		if err != nil {
			return nil, err
		}
		s.targets = append(s.targets, &post.Endpoint{Name: "alertmanager " + u.Host, URL: u.String(), Header: header, Policy: o.Policy, Client: o.Client})
	}
	return s, nil
}

// Name implements alerts.Sink.
func (*Sink) Name() string { return "alertmanager" }

// OnRetry implements alerts.RetryReporter: every Alertmanager's retried
// tries count.
func (s *Sink) OnRetry(f func()) {
	for _, t := range s.targets {
		t.OnRetry(f)
	}
}

// Deliver implements alerts.Sink: it posts a to every Alertmanager, with retries,
// and succeeds when one accepted it. The error wraps alerts.ErrPermanent only when
// every Alertmanager refused it for good.
func (s *Sink) Deliver(ctx context.Context, a alerts.Alert) error {
	body, err := json.Marshal([]postableAlert{s.postable(&a, s.now())})
	if err != nil {
		return fmt.Errorf("alertmanager encode: %w: %w", alerts.ErrPermanent, err)
	}
	errs := s.post(ctx, body, false)
	var failed []error
	for _, err := range errs {
		if err == nil {
			return nil
		}
		failed = append(failed, err)
	}
	return joinTargetErrors(failed)
}

// Resend implements alerts.Resender: one post (one try) of the firing
// alerts and of those resolved within the horizon to every Alertmanager. It
// reports any Alertmanager that failed.
func (s *Sink) Resend(ctx context.Context, list []alerts.Alert) error {
	now := s.now()
	var out []postableAlert
	for i := range list {
		a := &list[i]
		if a.Status == alerts.Resolved && now.Sub(a.ResolvedAt) >= s.horizon {
			continue
		}
		out = append(out, s.postable(a, now))
	}
	if len(out) == 0 {
		return nil
	}
	body, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("alertmanager encode: %w: %w", alerts.ErrPermanent, err)
	}
	var failed []error
	for _, err := range s.post(ctx, body, true) {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("alertmanager resend of %d alerts: %w", len(out), errors.Join(failed...))
}

// post sends body to every Alertmanager at once, with the retry policy's
// tries or, when once, one try each, and returns each one's error.
func (s *Sink) post(ctx context.Context, body []byte, once bool) []error {
	errs := make([]error, len(s.targets))
	var wg sync.WaitGroup
	for i, t := range s.targets {
		if once {
			wg.Go(func() { errs[i] = t.SendOnce(ctx, body) })
		} else {
			wg.Go(func() { errs[i] = t.Send(ctx, body, nil) })
		}
	}
	wg.Wait()
	return errs
}

// joinTargetErrors combines the Alertmanagers' errors; it wraps
// alerts.ErrPermanent only when every one is permanent, since a retry may still
// reach the others.
func joinTargetErrors(errs []error) error {
	var retry []error
	var permanent []string
	for _, err := range errs {
		if errors.Is(err, alerts.ErrPermanent) {
			permanent = append(permanent, err.Error())
		} else {
			retry = append(retry, err)
		}
	}
	if len(retry) == 0 {
		return errors.Join(errs...)
	}
	if len(permanent) == 0 {
		return errors.Join(retry...)
	}
	return fmt.Errorf("%w\n%s", errors.Join(retry...), strings.Join(permanent, "\n"))
}

// postableAlert is one element of Alertmanager's API v2 postableAlerts.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// postable is a as Alertmanager takes it, posted at now: a firing alert
// ends Horizon after now (or after it started, should its start be later
// than this process's clock), a resolved one at its resolve time.
func (s *Sink) postable(a *alerts.Alert, now time.Time) postableAlert {
	p := postableAlert{
		Labels:      alertmanagerLabels(a),
		Annotations: alertmanagerAnnotations(a),
		StartsAt:    a.FirstSeen.UTC(),
	}
	switch {
	case a.Status == alerts.Resolved && !a.ResolvedAt.IsZero():
		p.EndsAt = a.ResolvedAt.UTC()
	case a.Status == alerts.Resolved:
		p.EndsAt = now.UTC()
	default:
		p.EndsAt = maxTime(now, a.FirstSeen).Add(s.horizon).UTC()
	}
	if link := s.link(a, now); link != "" {
		p.GeneratorURL = link
		p.Annotations["dashboard"] = link
	}
	return p
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// link is the dashboard's alerts page of the alert's tenant (internal/
// dashboard: /alerts?tenant=), over a range that holds the alert when it
// fired more than a day before now, the page's default; "" when no
// dashboard URL is configured.
func (s *Sink) link(a *alerts.Alert, now time.Time) string {
	if s.dashboard == "" {
		return ""
	}
	q := url.Values{"tenant": {a.Tenant}, "alert": {a.ID}}
	if age := now.Sub(a.FirstSeen); age > 23*time.Hour {
		q.Set("range", strconv.Itoa(int(age/(24*time.Hour))+2)+"d")
	}
	return s.dashboard + "/alerts?" + q.Encode()
}

// alertmanagerLabels identify the spike in Alertmanager, which groups,
// routes, silences and inhibits by them. They are the same on both
// transitions of a spike (the engine names a resolve as its firing), so the
// resolve ends the alert the firing opened. Empty values are left out
// (Alertmanager treats a missing label as empty).
func alertmanagerLabels(a *alerts.Alert) map[string]string {
	l := map[string]string{"alertname": AlertName}
	set := func(k, v string) {
		if v != "" {
			l[k] = v
		}
	}
	set("tenant", a.Tenant)
	set("level", string(a.Level))
	set("severity", string(a.Severity))
	set("cause", a.Cause())
	set("code_hex", a.CodeHex)
	if a.Level == alerts.LevelProduct {
		set("csp", a.CSP)
		set("target_id", a.TargetID)
		name := a.ProductName
		if name == "" {
			name = store.UnknownLabel(a.TargetID)
		}
		set("product", name)
		set("version", a.ProductVersion)
	}
	return l
}

// alertmanagerAnnotations are what a notification shows: the summary, the
// facts of the chat notifiers, what to do, and the SQL that lists the
// failed attempts behind the alert.
func alertmanagerAnnotations(a *alerts.Alert) map[string]string {
	var d strings.Builder
	for _, f := range a.Facts() {
		if f[1] == "" {
			continue
		}
		d.WriteString(f[0])
		d.WriteString(": ")
		d.WriteString(f[1])
		d.WriteByte('\n')
	}
	if a.CodeDescription != "" {
		d.WriteString(a.CodeDescription)
		d.WriteByte('\n')
	}
	out := map[string]string{
		"summary":     a.Summary,
		"description": strings.TrimSuffix(d.String(), "\n"),
		"alert_id":    a.ID,
		"details_sql": a.Query,
	}
	if a.Advice != "" {
		out["advice"] = a.Advice
	}
	if a.CodeName != "" {
		out["code_name"] = a.CodeName
	}
	if len(a.SampleDevices) > 0 {
		out["sample_devices"] = strings.Join(a.SampleDevices, ", ")
	}
	return out
}
