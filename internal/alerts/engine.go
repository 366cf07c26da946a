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
	// unique (internal/alerts/sink.FromConfig gives them).
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
		if r, ok := s.(RetryReporter); ok {
			r.OnRetry(func() { e.m.deliveries.WithLabelValues(name, "retried").Inc() })
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
		stream := bus.AlertStreamConfig()
		stream.Replicas = e.cfg.StateReplicas // the alert history lives as long as the state
		if _, err := bus.EnsureStream(ctx, e.js, stream); err != nil {
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
