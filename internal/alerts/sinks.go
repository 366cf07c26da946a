package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/event"
)

// Subject returns the alert subject of a tenant:
// cspwatch.alert.spike.<tenant>, the tenant sanitised to one subject token as
// install subjects are.
func Subject(tenant string) string {
	return string(event.AppendToken([]byte(bus.AlertSubjectPrefix), tenant))
}

// JetStreamSink publishes each transition as JSON on the tenant's alert
// subject, with Nats-Msg-Id "<alert id>.<status>" so that a redelivery within
// the stream's duplicate window is stored once.
type JetStreamSink struct{ JS jetstream.JetStream }

// Name implements Sink.
func (JetStreamSink) Name() string { return "jetstream" }

// Deliver implements Sink.
func (s JetStreamSink) Deliver(ctx context.Context, a Alert) error {
	b, err := json.Marshal(&a)
	if err != nil {
		return fmt.Errorf("alert publish encode: %w: %w", ErrPermanent, err)
	}
	if _, err := s.JS.Publish(ctx, Subject(a.Tenant), b, jetstream.WithMsgID(a.ID+"."+string(a.Status))); err != nil {
		return fmt.Errorf("alert publish: %w", err)
	}
	return nil
}

// Sink delivers alert transitions. Deliver is called with the same alert
// (same ID and status) again when an earlier delivery may not have completed,
// so a sink should be idempotent where its target allows: the JetStream sink
// sets Nats-Msg-Id, the ClickHouse table replaces by (alert_id, status), the
// generic webhook repeats its webhook-id. The HTTP sinks live in
// internal/alerts/sink/...; internal/alerts/sink assembles them from a
// Config.
type Sink interface {
	Name() string
	Deliver(ctx context.Context, a Alert) error
}

// RetryReporter is a Sink that retries a delivery itself and reports each
// failed try that another follows, so that the engine counts the retries.
type RetryReporter interface {
	Sink
	OnRetry(f func())
}

// Resender is a Sink whose target forgets an alert that is not sent again:
// Alertmanager ends a firing alert at its endsAt. At every reconcile (each
// bucket, and at start) the engine hands it, in key order, the alert of
// every record of the shared state: the open ones and those resolved within
// Config.Retention. Resend posts what it needs of them once, without
// retries: the next bucket sends again.
type Resender interface {
	Sink
	Resend(ctx context.Context, alerts []Alert) error
}

// ErrPermanent marks a delivery error that retrying will not fix (an HTTP
// 4xx other than 408 and 429, an alert that cannot be encoded); the engine
// then records the delivery as done rather than retrying it.
var ErrPermanent = errors.New("permanent")
