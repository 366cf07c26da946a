package alerts

import (
	"context"
	"errors"
	"slices"
)

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
		// A full queue drops the resend: the next reconcile sends again.
		e.offer(delivery{sink: s, resend: alerts})
	}
}

// enqueue queues a for the named sinks not already holding it. A sink this
// replica lacks (configured only on another replica) is left pending.
func (e *Engine) enqueue(a Alert, sinks []string) {
	for _, s := range e.sinks {
		if !slices.Contains(sinks, s.Name()) {
			continue
		}
		if !e.offer(delivery{sink: s, alert: a}) {
			e.log.Warn().Str("sink", s.Name()).Str("alert_id", a.ID).Msg("alerts: delivery queue full; retried at the next bucket")
		}
	}
}

// offer queues d for its sink unless it is queued or running already, or,
// for a transition, was delivered by this process and the state may not
// say so yet (sent). It reports false when the sink's queue was full and d
// was dropped.
func (e *Engine) offer(d delivery) bool {
	k := d.key()
	e.mu.Lock()
	if e.inflight[k] || e.sent[k] {
		e.mu.Unlock()
		return true
	}
	e.inflight[k] = true
	e.mu.Unlock()
	e.wg.Add(1)
	select {
	case e.queues[d.sink.Name()] <- d:
		return true
	default:
		e.done(d)
		return false
	}
}

// done ends d's turn: it may be queued again.
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
