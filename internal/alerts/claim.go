package alerts

import (
	"context"
	"errors"
	"slices"
	"time"
)

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
