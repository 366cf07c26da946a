package alerts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/codes"
)

// Clock is the engine's time source. The wall clock serves production; tests
// inject a manual one so that every bucket boundary is crossed on purpose.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed on this clock.
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// EngineOptions are what an Engine runs on.
type EngineOptions struct {
	// Config must be valid.
	Config Config
	// Source reads the failed-attempt counts of closed buckets
	// (ClickHouseSource; a zero Lookback of one is set from
	// Config.Lookback).
	Source Source
	// JetStream holds the shared state bucket (created when absent) and the
	// alert stream (created or updated at start).
	JetStream jetstream.JetStream
	// Sinks receive every transition this replica claims; names must be
	// unique (see NewSinks).
	Sinks []Sink
	// Clock defaults to the wall clock.
	Clock Clock
	Log   zerolog.Logger
	// Registerer receives the engine's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Describe names codes; nil uses internal/codes.
	Describe func(codes.Space, int64) codes.Info
}

// Engine runs the Detector over ClickHouse and delivers its transitions.
//
// At start it replays the trailing Window from the Source into a fresh
// detector (the same buckets give the same baselines and open alerts on
// every replica), then reconciles with the shared state: alerts open there
// are adopted, alerts the replay opened that nobody delivered are claimed.
// Then, each bucket, Lateness after the bucket closes, it reconciles again,
// reads the buckets closed since the last one, observes them and claims each
// transition in the shared state with a conditional write. Only the replica
// whose write wins delivers, so several replicas and restarts yield one
// firing and one resolve per spike.
//
// Deliveries run on one goroutine per sink, in claim order, so a slow or
// failing notifier delays neither detection nor the other sinks. The shared
// state records which sinks are still pending; a failed delivery is retried
// at every bucket, and one left unfinished by a replica that died is taken
// over by another after ClaimLease. A delivery may therefore happen twice
// (crash after delivering, before recording it); every sink is idempotent
// on the alert id and status.
//
// Costs per bucket: one read of every shared-state record (the alerts open
// or resolved within Retention) and the two GROUP BY queries of the Source
// over the new bucket.
type Engine struct {
	cfg      Config
	src      Source
	js       jetstream.JetStream
	sinks    []Sink
	names    []string
	clock    Clock
	log      zerolog.Logger
	m        *engineMetrics
	describe func(codes.Space, int64) codes.Info

	// Owned by the goroutine running start and step.
	det    *Detector
	state  *sharedState
	cursor time.Time // start of the first bucket not yet observed

	queues   map[string]chan delivery
	mu       sync.Mutex
	inflight map[string]bool // sink|alert id|status queued or being delivered
	// sent holds the deliveries this process made whose record may still
	// list them as pending (a read of the state raced the update), so that
	// they are not made twice.
	sent map[string]bool
	wg   sync.WaitGroup // deliveries queued or running
}

// delivery is one transition for one sink, or, when resend is set, the
// shared state's alerts for a Resender.
type delivery struct {
	sink   Sink
	alert  Alert
	resend []Alert
}

func (d delivery) key() string {
	if d.resend != nil {
		return d.sink.Name() + "|resend"
	}
	return deliveryKey(d.sink.Name(), &d.alert)
}

func deliveryKey(sink string, a *Alert) string { return sink + "|" + a.ID + "|" + string(a.Status) }

// queueLen bounds each sink's in-memory queue; a transition that does not
// fit stays pending in the shared state and is queued at the next bucket.
const queueLen = 64

// NewEngine checks o and returns an engine ready to Run.
func NewEngine(o EngineOptions) (*Engine, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Source == nil || o.JetStream == nil {
		return nil, errors.New("alerts engine: source and jetstream are required")
	}
	e := &Engine{
		cfg: o.Config, src: o.Source, js: o.JetStream, clock: o.Clock, log: o.Log,
		m: newEngineMetrics(o.Registerer), describe: o.Describe,
		queues: map[string]chan delivery{}, inflight: map[string]bool{}, sent: map[string]bool{},
	}
	if e.clock == nil {
		e.clock = wallClock{}
	}
	if cs, ok := e.src.(ClickHouseSource); ok && cs.Lookback == 0 {
		cs.Lookback = o.Config.lookback()
		e.src = cs
	}
	for _, s := range o.Sinks {
		name := s.Name()
		if e.queues[name] != nil {
			return nil, fmt.Errorf("alerts engine: two sinks named %q", name)
		}
		e.queues[name] = make(chan delivery, queueLen)
		e.sinks = append(e.sinks, s)
		e.names = append(e.names, name)
		_, resends := s.(Resender)
		e.m.initSink(name, resends)
		if n, ok := s.(failureReporter); ok {
			n.setOnFailure(func(retrying bool) {
				if retrying {
					e.m.deliveries.WithLabelValues(name, "retried").Inc()
				}
			})
		}
	}
	return e, nil
}

// Run detects and delivers until ctx ends, then returns nil. Failures of
// ClickHouse or NATS are logged, counted and retried (at start with a
// bounded back-off, later at the next bucket); they never end Run. An
// Engine runs once.
func (e *Engine) Run(ctx context.Context) error {
	retry := min(e.cfg.Bucket, 10*time.Second)
	wait := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-e.clock.After(d):
			return true
		}
	}
	for {
		err := e.start(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		e.m.errors.WithLabelValues("start").Inc()
		e.log.Error().Err(err).Dur("retry_in", retry).Msg("alerts: start")
		if !wait(retry) {
			return nil
		}
	}
	e.log.Info().Dur("bucket", e.cfg.Bucket).Dur("lateness", e.cfg.Lateness).Dur("window", e.cfg.Window).
		Float64("factor", e.cfg.Factor).Int("min_devices", e.cfg.MinDevices).Strs("sinks", e.names).
		Int("open", len(e.det.Open())).Msg("alerts: detector running")
	for {
		d := e.cursor.Add(e.cfg.Bucket + e.cfg.Lateness).Sub(e.clock.Now())
		if d > 0 && !wait(d) {
			return nil
		}
		if err := e.step(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			e.log.Error().Err(err).Dur("retry_in", retry).Msg("alerts: evaluation")
			if !wait(retry) {
				return nil
			}
		}
	}
}

// settled returns the end of the last bucket that closed at least Lateness
// before now.
func (e *Engine) settled(now time.Time) time.Time {
	return align(now.Add(-e.cfg.Lateness), e.cfg.Bucket)
}

// start binds the shared state, starts the delivery workers, rebuilds the
// detector from the trailing window and reconciles it with the shared state.
// It may be called again after an error.
func (e *Engine) start(ctx context.Context) error {
	if e.state == nil {
		if _, err := bus.EnsureStream(ctx, e.js, bus.AlertStreamConfig()); err != nil {
			return fmt.Errorf("alerts start: %w", err)
		}
		st, err := openState(ctx, e.js, e.cfg)
		if err != nil {
			return fmt.Errorf("alerts start: %w", err)
		}
		e.state = st
		for _, s := range e.sinks {
			go e.worker(ctx, s, e.queues[s.Name()])
		}
	}
	now := e.clock.Now()
	to := e.settled(now)
	from := align(to.Add(-e.cfg.Window), e.cfg.Bucket)
	buckets, err := e.src.Buckets(ctx, from, to, e.cfg.Bucket)
	if err != nil {
		e.m.errors.WithLabelValues("source").Inc()
		return fmt.Errorf("alerts replay: %w", err)
	}
	det := NewDetector(e.cfg, e.describe)
	last := map[Key]Alert{}
	for _, b := range buckets {
		for _, a := range det.Observe(b.Start, b.Counts) {
			last[a.key] = a
		}
	}
	e.det, e.cursor = det, to
	// A spike that ended while no replica ran resolves now rather than after
	// a cooldown, if its firing was delivered.
	for _, a := range sortedAlerts(last) {
		if a.Status == Resolved {
			e.claim(ctx, a, now)
		}
	}
	if err := e.reconcile(ctx, now); err != nil {
		return err
	}
	e.log.Info().Time("from", from).Time("to", to).Int("buckets", len(buckets)).Msg("alerts: replayed the trailing window")
	return nil
}

func sortedAlerts(m map[Key]Alert) []Alert {
	out := make([]Alert, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, byKey)
	return out
}

// step reconciles with the shared state, then observes every bucket settled
// since the last step and claims the transitions. On an error the buckets
// are left for the next step (at most Window of them are caught up).
func (e *Engine) step(ctx context.Context) error {
	now := e.clock.Now()
	if err := e.reconcile(ctx, now); err != nil {
		return err
	}
	to := e.settled(now)
	if !to.After(e.cursor) {
		return nil
	}
	from := e.cursor
	if to.Sub(from) > e.cfg.Window {
		from = align(to.Add(-e.cfg.Window), e.cfg.Bucket)
		e.log.Warn().Time("skipped_from", e.cursor).Time("skipped_to", from).Msg("alerts: behind by more than the window; older buckets are not evaluated")
	}
	buckets, err := e.src.Buckets(ctx, from, to, e.cfg.Bucket)
	if err != nil {
		e.m.errors.WithLabelValues("source").Inc()
		return fmt.Errorf("alerts evaluation: %w", err)
	}
	for _, b := range buckets {
		for _, a := range e.det.Observe(b.Start, b.Counts) {
			e.claim(ctx, a, now)
		}
		e.m.buckets.Inc()
	}
	e.cursor = to
	e.m.open.Set(float64(len(e.det.Open())))
	return nil
}

// claim records a transition in the shared state and, if this replica's
// write wins, queues it for every sink. A failure is logged and counted:
// the next reconcile claims a firing alert the state lacks, and re-adopts
// an alert whose resolve was not recorded so that it resolves again.
func (e *Engine) claim(ctx context.Context, a Alert, now time.Time) {
	var (
		won bool
		err error
	)
	if a.Status == Firing {
		e.name(ctx, &a)
		won, err = e.claimFiring(ctx, a, now)
	} else {
		won, err = e.claimResolve(ctx, &a, now)
	}
	l := e.log.With().Str("alert_id", a.ID).Str("status", string(a.Status)).Str("tenant", a.Tenant).Logger()
	switch {
	case err != nil:
		e.m.errors.WithLabelValues("claim").Inc()
		l.Error().Err(err).Msg("alerts: claim")
	case won && a.Status == Firing:
		e.m.fired.WithLabelValues(string(a.Level)).Inc()
		l.Warn().Str("level", string(a.Level)).Str("severity", string(a.Severity)).Str("csp", a.CSP).Str("product", a.product()).
			Str("code", a.codeLabel()).Uint64("attempts", a.Attempts).Uint64("devices", a.Devices).Float64("baseline", a.Baseline).Msg(a.Summary)
	case won:
		e.m.resolved.WithLabelValues(string(a.Level)).Inc()
		l.Info().Str("level", string(a.Level)).Msg(a.Summary)
	default:
		l.Debug().Msg("alerts: transition claimed by another replica")
	}
}

// name names a product-level alert's product from the catalog (Namer): the
// catalog's name, which an administrator's overrides what devices reported,
// else the events' own; and the catalog's version when the events carried
// none. Neither is part of the key or the id, so replicas that name it
// differently (or not at all, on error) still agree. Only the firing is
// named here; its resolve takes the names the firing was claimed with
// (claimResolve), so that both transitions of a spike name it alike, which
// a receiver matching them by labels (Alertmanager) needs.
func (e *Engine) name(ctx context.Context, a *Alert) {
	n, ok := e.src.(Namer)
	if !ok || a.Level != LevelProduct {
		return
	}
	p, err := n.Product(ctx, a.Tenant, a.CSP, a.TargetID)
	if err != nil {
		e.m.errors.WithLabelValues("name").Inc()
		e.log.Warn().Err(err).Str("target", a.TargetID).Msg("alerts: product name")
		return
	}
	changed := false
	if p.Known && p.Name != a.ProductName {
		a.ProductName, changed = p.Name, true
	}
	if a.ProductVersion == "" && p.Version != "" {
		a.ProductVersion, a.VersionFromCatalog, changed = p.Version, true, true
	}
	if changed {
		a.Summary = a.summarise()
	}
}

// maxCAS bounds the conditional-write retries of one claim or update; each
// retry means another replica wrote the key in between.
const maxCAS = 8

var errContended = errors.New("alert state: too many concurrent writers")

// claimFiring creates (or replaces a resolved spike's) record for a. When the
// state already holds this alert, or another open alert of the key, the
// detector adopts it instead and nothing is delivered.
func (e *Engine) claimFiring(ctx context.Context, a Alert, now time.Time) (bool, error) {
	key := stateKey(a.key)
	for range maxCAS {
		rec, rev, err := e.state.get(ctx, key)
		if err != nil {
			return false, err
		}
		if rec != nil {
			switch {
			case rec.Alert.ID == a.ID && rec.Alert.Status == Firing:
				return false, nil
			case rec.Alert.Status == Firing:
				// Another replica's alert for this spike: resolve that one.
				e.det.Adopt(rec.Alert)
				return false, nil
			case a.FirstSeen.Before(rec.Alert.ResolvedAt):
				// The same spike, already resolved elsewhere.
				e.det.Close(a.key)
				return false, nil
			}
		}
		won, err := e.put(ctx, key, a, rev, now)
		if err != nil || won {
			return won, err
		}
	}
	return false, errContended
}

// claimResolve turns the record of a's firing into its resolve, named as
// the firing was (see name). Nothing is delivered when the firing was never
// recorded or another replica resolved it already.
func (e *Engine) claimResolve(ctx context.Context, a *Alert, now time.Time) (bool, error) {
	key := stateKey(a.key)
	for range maxCAS {
		rec, rev, err := e.state.get(ctx, key)
		if err != nil {
			return false, err
		}
		if rec == nil || rec.Alert.ID != a.ID || rec.Alert.Status != Firing {
			return false, nil
		}
		f := &rec.Alert
		if a.ProductName != f.ProductName || a.ProductVersion != f.ProductVersion || a.VersionFromCatalog != f.VersionFromCatalog {
			a.ProductName, a.ProductVersion, a.VersionFromCatalog = f.ProductName, f.ProductVersion, f.VersionFromCatalog
			a.Summary = a.summarise()
		}
		won, err := e.put(ctx, key, *a, rev, now)
		if err != nil || won {
			return won, err
		}
	}
	return false, errContended
}

// put writes a as key's transition, pending for every sink, over revision
// rev (0: create); on success it queues the deliveries. It reports false
// without error when another replica wrote first.
func (e *Engine) put(ctx context.Context, key string, a Alert, rev uint64, now time.Time) (bool, error) {
	rec := &record{Alert: a, Pending: slices.Clone(e.names), Claimer: e.cfg.Replica, ClaimedAt: now.UTC()}
	_, err := e.state.put(ctx, key, rec, rev)
	if errors.Is(err, errLost) {
		e.m.claimsLost.Inc()
		return false, nil
	}
	if err != nil {
		return false, err
	}
	e.enqueue(a, rec.Pending)
	return true, nil
}

// reconcile aligns the detector with the shared state and looks after
// pending deliveries: an open alert in the state becomes the detector's; an
// alert the detector holds open that the state lacks (or resolved before it
// began) is claimed; deliveries this replica claimed are queued again,
// those of a replica silent for ClaimLease are taken over, those older than
// Retention abandoned; resolved records older than Retention are purged.
func (e *Engine) reconcile(ctx context.Context, now time.Time) error {
	entries, err := e.state.all(ctx)
	if err != nil {
		e.m.errors.WithLabelValues("state").Inc()
		return err
	}
	known := make(map[Key]*record, len(entries))
	pending := map[string]bool{}
	for _, en := range entries {
		for _, s := range en.rec.Pending {
			pending[deliveryKey(s, &en.rec.Alert)] = true
		}
	}
	e.mu.Lock()
	for k := range e.sent {
		if !pending[k] {
			delete(e.sent, k)
		}
	}
	e.mu.Unlock()
	for _, en := range entries {
		rec := en.rec
		k := rec.Alert.key
		known[k] = rec
		id, open := e.det.IsOpen(k)
		switch rec.Alert.Status {
		case Firing:
			if !open || id != rec.Alert.ID {
				e.det.Adopt(rec.Alert)
			}
		case Resolved:
			if open && id == rec.Alert.ID {
				e.det.Close(k)
			}
		}
		if err := e.tend(ctx, en, now); err != nil {
			e.m.errors.WithLabelValues("state").Inc()
			e.log.Error().Err(err).Str("alert_id", rec.Alert.ID).Msg("alerts: pending deliveries")
		}
	}
	for _, a := range e.det.Open() {
		if rec := known[a.key]; rec == nil || rec.Alert.Status == Resolved && rec.Alert.ID != a.ID {
			e.claim(ctx, a, now)
		}
	}
	e.m.open.Set(float64(len(e.det.Open())))
	e.resend(entries)
	return nil
}

// resend queues the state's alerts for every Resender, after what this
// replica has queued already, so that in its order a resend never precedes
// a transition claimed before it. A resend still queued or running from the
// previous reconcile is not doubled. The records read at the start of the
// reconcile miss what it claimed itself: those are queued for delivery
// anyway, and the next reconcile resends them. Every replica resends, so an
// alert stays current in Alertmanager while any replica runs; Alertmanager
// merges the copies (same labels).
func (e *Engine) resend(entries []entry) {
	alerts := make([]Alert, 0, len(entries))
	for _, en := range entries {
		alerts = append(alerts, en.rec.Alert)
	}
	if len(alerts) == 0 {
		return
	}
	slices.SortFunc(alerts, byKey)
	for _, s := range e.sinks {
		if _, ok := s.(Resender); !ok {
			continue
		}
		d := delivery{sink: s, resend: alerts}
		e.mu.Lock()
		if e.inflight[d.key()] {
			e.mu.Unlock()
			continue
		}
		e.inflight[d.key()] = true
		e.mu.Unlock()
		e.wg.Add(1)
		select {
		case e.queues[s.Name()] <- d:
		default:
			e.done(d)
		}
	}
}

// tend handles one record's pending deliveries and its expiry.
func (e *Engine) tend(ctx context.Context, en entry, now time.Time) error {
	rec := en.rec
	at := rec.Alert.FirstSeen
	if rec.Alert.Status == Resolved {
		at = rec.Alert.ResolvedAt
	}
	old := now.Sub(at) > e.cfg.Retention
	switch {
	case len(rec.Pending) == 0:
		if old && rec.Alert.Status == Resolved {
			if err := e.state.purge(ctx, en.key, en.rev); err != nil && !errors.Is(err, errLost) {
				return err
			}
		}
		return nil
	case old:
		for _, s := range rec.Pending {
			e.m.deliveries.WithLabelValues(s, "abandoned").Inc()
		}
		e.log.Error().Str("alert_id", rec.Alert.ID).Strs("sinks", rec.Pending).Msg("alerts: delivery abandoned after the retention")
		next := *rec
		next.Pending = nil
		_, err := e.state.put(ctx, en.key, &next, en.rev)
		if errors.Is(err, errLost) {
			return nil
		}
		return err
	case rec.Claimer == e.cfg.Replica:
		e.enqueue(rec.Alert, rec.Pending)
		return nil
	case now.Sub(rec.ClaimedAt) >= e.cfg.ClaimLease:
		next := *rec
		next.Claimer, next.ClaimedAt = e.cfg.Replica, now.UTC()
		_, err := e.state.put(ctx, en.key, &next, en.rev)
		if errors.Is(err, errLost) {
			return nil
		}
		if err != nil {
			return err
		}
		e.log.Warn().Str("alert_id", rec.Alert.ID).Str("status", string(rec.Alert.Status)).Str("from", rec.Claimer).
			Strs("sinks", rec.Pending).Msg("alerts: took over unfinished deliveries")
		e.enqueue(rec.Alert, rec.Pending)
	}
	return nil
}

// enqueue queues a for the named sinks not already holding it. A sink this
// replica lacks (configured only on another replica) is left pending.
func (e *Engine) enqueue(a Alert, sinks []string) {
	for _, s := range e.sinks {
		if !slices.Contains(sinks, s.Name()) {
			continue
		}
		d := delivery{sink: s, alert: a}
		e.mu.Lock()
		if e.inflight[d.key()] || e.sent[d.key()] {
			e.mu.Unlock()
			continue
		}
		e.inflight[d.key()] = true
		e.mu.Unlock()
		e.wg.Add(1)
		select {
		case e.queues[s.Name()] <- d:
		default:
			e.done(d)
			e.log.Warn().Str("sink", s.Name()).Str("alert_id", a.ID).Msg("alerts: delivery queue full; retried at the next bucket")
		}
	}
}

func (e *Engine) done(d delivery) {
	e.mu.Lock()
	delete(e.inflight, d.key())
	e.mu.Unlock()
	e.wg.Done()
}

// drain waits until every queued delivery has been tried; for tests and
// for shutdown.
func (e *Engine) drain() { e.wg.Wait() }

// worker delivers one sink's transitions in order until ctx ends.
func (e *Engine) worker(ctx context.Context, s Sink, q chan delivery) {
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case d := <-q:
					e.done(d)
				default:
					return
				}
			}
		case d := <-q:
			if d.resend != nil {
				e.deliverResend(ctx, d)
			} else {
				e.deliver(ctx, d)
			}
			e.done(d)
		}
	}
}

func (e *Engine) deliver(ctx context.Context, d delivery) {
	name := d.sink.Name()
	l := e.log.With().Str("sink", name).Str("alert_id", d.alert.ID).Str("status", string(d.alert.Status)).Logger()
	err := d.sink.Deliver(ctx, d.alert)
	switch {
	case err == nil:
		e.m.deliveries.WithLabelValues(name, "delivered").Inc()
		l.Debug().Msg("alerts: delivered")
	case errors.Is(err, ErrPermanent):
		// Retrying will not help: record it as done so it is not retried.
		e.m.deliveries.WithLabelValues(name, "abandoned").Inc()
		l.Error().Err(err).Msg("alerts: delivery refused for good")
	case ctx.Err() != nil:
		return // shutting down: left pending for a restart or another replica
	default:
		e.m.deliveries.WithLabelValues(name, "failed").Inc()
		l.Error().Err(err).Msg("alerts: delivery failed; retried at the next bucket")
		return
	}
	e.mu.Lock()
	e.sent[d.key()] = true
	e.mu.Unlock()
	if err := e.markDelivered(ctx, d); err != nil {
		e.m.errors.WithLabelValues("state").Inc()
		l.Error().Err(err).Msg("alerts: recording the delivery (it may be repeated)")
	}
}

// deliverResend hands the state's alerts to a Resender; a failure is
// counted and logged, and the next reconcile sends again.
func (e *Engine) deliverResend(ctx context.Context, d delivery) {
	name := d.sink.Name()
	if err := d.sink.(Resender).Resend(ctx, d.resend); err != nil {
		if ctx.Err() != nil {
			return
		}
		e.m.resends.WithLabelValues(name, "failed").Inc()
		e.log.Warn().Err(err).Str("sink", name).Int("alerts", len(d.resend)).Msg("alerts: resend failed; sent again at the next bucket")
		return
	}
	e.m.resends.WithLabelValues(name, "sent").Inc()
}

// markDelivered removes the sink from the record's pending list, if the
// record still holds this transition.
func (e *Engine) markDelivered(ctx context.Context, d delivery) error {
	key := stateKey(d.alert.key)
	for range maxCAS {
		rec, rev, err := e.state.get(ctx, key)
		if err != nil {
			return err
		}
		if rec == nil || rec.Alert.ID != d.alert.ID || rec.Alert.Status != d.alert.Status || !slices.Contains(rec.Pending, d.sink.Name()) {
			return nil
		}
		rec.Pending = slices.DeleteFunc(rec.Pending, func(s string) bool { return s == d.sink.Name() })
		_, err = e.state.put(ctx, key, rec, rev)
		if !errors.Is(err, errLost) {
			return err
		}
	}
	return errContended
}

type engineMetrics struct {
	fired, resolved *prometheus.CounterVec
	deliveries      *prometheus.CounterVec
	resends         *prometheus.CounterVec
	errors          *prometheus.CounterVec
	claimsLost      prometheus.Counter
	buckets         prometheus.Counter
	open            prometheus.Gauge
}

func newEngineMetrics(reg prometheus.Registerer) *engineMetrics {
	const ns, sub = "cspwatch", "alerts"
	m := &engineMetrics{
		fired: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "fired_total",
			Help: "Spike alerts fired and claimed by this replica, by level (code, product); summed over replicas it is the number of alerts."}, []string{"level"}),
		resolved: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "resolved_total",
			Help: "Spike alerts resolved and claimed by this replica, by level."}, []string{"level"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "deliveries_total",
			Help: "Alert deliveries by sink and result: delivered; retried (a failed try another follows); failed (retried at the next bucket); abandoned (refused for good, or older than the retention)."},
			[]string{"sink", "result"}),
		resends: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "resends_total",
			Help: "Periodic resends of the open (and recently resolved) alerts to a sink that forgets alerts not sent again (Alertmanager), by sink and result: sent, failed (sent again at the next bucket)."},
			[]string{"sink", "result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "Detector errors by stage (start, source, state, claim, name); each is retried, and an alert not named is delivered with what the events said."}, []string{"stage"}),
		claimsLost: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "claims_lost_total",
			Help: "Transitions another replica claimed first (expected with several replicas)."}),
		buckets: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "buckets_evaluated_total",
			Help: "Closed buckets read from ClickHouse and evaluated after start."}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "open",
			Help: "Alerts open in this replica's detector."}),
	}
	for _, l := range []Level{LevelCode, LevelProduct} {
		m.fired.WithLabelValues(string(l))
		m.resolved.WithLabelValues(string(l))
	}
	for _, s := range []string{"start", "source", "state", "claim", "name"} {
		m.errors.WithLabelValues(s)
	}
	if reg != nil {
		reg.MustRegister(m.fired, m.resolved, m.deliveries, m.resends, m.errors, m.claimsLost, m.buckets, m.open)
	}
	return m
}

func (m *engineMetrics) initSink(name string, resends bool) {
	for _, r := range []string{"delivered", "retried", "failed", "abandoned"} {
		m.deliveries.WithLabelValues(name, r)
	}
	if resends {
		m.resends.WithLabelValues(name, "sent")
		m.resends.WithLabelValues(name, "failed")
	}
}
