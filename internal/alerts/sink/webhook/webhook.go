// Package webhook is the generic JSON alert sink: each transition is posted
// as {"type", "timestamp", "data": the alert}, signed per Standard Webhooks
// (internal/webhooksig) so that a receiver can check it and drop
// duplicates.
package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/post"
	"github.com/cspwatch/cspwatch/internal/webhooksig"
)

// New returns the webhook sink of url, named "webhook". Each request
// carries the Standard Webhooks headers: webhook-id (the alert id and
// status, the same on every retry so a receiver can drop duplicates),
// webhook-timestamp (Unix seconds of that try) and webhook-signature under
// secret (whsec_<base64> or raw bytes, at least 16). client may be nil.
func New(url, secret string, p post.Policy, client *http.Client) (*post.Sink, error) {
	return newAt(url, secret, p, client, time.Now)
}

// newAt is New on the clock now.
func newAt(url, secret string, p post.Policy, client *http.Client, now func() time.Time) (*post.Sink, error) {
	key, err := webhooksig.ParseSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	s := post.NewSink("webhook", url, p, client, func(a *alerts.Alert) ([]byte, error) {
		return json.Marshal(struct {
			Type      string        `json:"type"`
			Timestamp time.Time     `json:"timestamp"`
			Data      *alerts.Alert `json:"data"`
		}{"cspwatch.alert.spike." + string(a.Status), now().UTC().Truncate(time.Millisecond), a})
	})
	s.Sign = func(a *alerts.Alert) post.Signer {
		id := a.ID + "." + string(a.Status)
		return func(h http.Header, body []byte) { webhooksig.SetHeaders(h, key, id, now().Unix(), body) }
	}
	return s, nil
}
