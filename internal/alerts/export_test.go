package alerts

import "context"

// Internals the external tests (package alerts_test) use: those tests
// import the sink packages, which import alerts, so they cannot be in
// package alerts.

var (
	AlertID      = alertID
	KeyFromAlert = keyFromAlert
	StateKey     = stateKey
	T0           = t0
)

// Start replays the window and reconciles, as Run does first.
func (e *Engine) Start(ctx context.Context) error { return e.start(ctx) }

// Step evaluates the buckets settled since the last step, as Run does at
// each bucket.
func (e *Engine) Step(ctx context.Context) error { return e.step(ctx) }

// Drain waits until every queued delivery has been tried.
func (e *Engine) Drain() { e.drain() }

// Detector is the engine's detector.
func (e *Engine) Detector() *Detector { return e.det }

// StateRecord is what the shared state holds of one key: its alert and the
// sinks still pending, nil when it holds nothing.
type StateRecord struct {
	Alert   Alert
	Pending []string
}

// StateRecord reads the shared state's record of key (StateKey).
func (e *Engine) StateRecord(ctx context.Context, key string) (*StateRecord, error) {
	rec, _, err := e.state.get(ctx, key)
	if rec == nil || err != nil {
		return nil, err
	}
	return &StateRecord{Alert: rec.Alert, Pending: rec.Pending}, nil
}
