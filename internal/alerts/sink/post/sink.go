package post

import (
	"context"
	"fmt"
	"net/http"

	"github.com/cspwatch/cspwatch/internal/alerts"
)

// Sink is an alerts.Sink that posts each transition, in the format of its
// Format, to one Endpoint with the shared retrier. The Slack, Teams and
// generic webhook sinks are Sinks that differ only in Format and Sign.
type Sink struct {
	Endpoint Endpoint
	// Format is the request body of a transition; an error is permanent.
	Format func(a *alerts.Alert) ([]byte, error)
	// Sign, when set, returns the Signer of a's requests.
	Sign func(a *alerts.Alert) Signer
}

// NewSink returns a Sink named name posting to url.
func NewSink(name, url string, p Policy, client *http.Client, format func(*alerts.Alert) ([]byte, error)) *Sink {
	return &Sink{Endpoint: Endpoint{Name: name, URL: url, Policy: p, Client: client}, Format: format}
}

// Name implements alerts.Sink.
func (s *Sink) Name() string { return s.Endpoint.Name }

// OnRetry implements alerts.RetryReporter.
func (s *Sink) OnRetry(f func()) { s.Endpoint.OnRetry(f) }

// Deliver implements alerts.Sink: it posts a, retrying per the policy.
func (s *Sink) Deliver(ctx context.Context, a alerts.Alert) error {
	body, err := s.Format(&a)
	if err != nil {
		return fmt.Errorf("%s encode: %w: %w", s.Endpoint.Name, alerts.ErrPermanent, err)
	}
	var sign Signer
	if s.Sign != nil {
		sign = s.Sign(&a)
	}
	return s.Endpoint.Send(ctx, body, sign)
}
