// Package sink assembles the alert sinks a Config asks for. Each HTTP sink
// is its own package below this one (webhook, slack, teams, alertmanager),
// and all of them deliver through post, the one HTTP retrier.
//
// To add a sink: a package here whose New returns an alerts.Sink (a
// post.Sink when it posts one JSON body per transition), its settings in
// alerts.Config, and a line in FromConfig.
package sink

import (
	"fmt"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/alertmanager"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/post"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/slack"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/teams"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/webhook"
	"github.com/cspwatch/cspwatch/internal/store"
)

// Policy is cfg's notify settings as the retrier's policy.
func Policy(cfg alerts.Config) post.Policy {
	return post.Policy{Attempts: cfg.NotifyAttempts, Backoff: cfg.NotifyBackoff, MaxBackoff: cfg.NotifyMaxBackoff, Timeout: cfg.NotifyTimeout}
}

// FromConfig returns the sinks cfg asks for: the alert subject and the
// alerts table always, then the webhook, Slack and Teams sinks that have a
// URL, and the Alertmanager sink when Alertmanagers are given, all retrying
// per cfg's notify settings. client may be nil (http.DefaultClient
// settings). It makes no request.
func FromConfig(cfg alerts.Config, js jetstream.JetStream, st *store.Store, client *http.Client) ([]alerts.Sink, error) {
	sinks := []alerts.Sink{alerts.JetStreamSink{JS: js}, alerts.ClickHouseSink{Store: st}}
	p := Policy(cfg)
	if cfg.WebhookURL != "" {
		n, err := webhook.New(cfg.WebhookURL, cfg.WebhookSecret, p, client)
		if err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		sinks = append(sinks, n)
	}
	if cfg.SlackURL != "" {
		sinks = append(sinks, slack.New(cfg.SlackURL, p, client))
	}
	if cfg.TeamsURL != "" {
		sinks = append(sinks, teams.New(cfg.TeamsURL, p, client))
	}
	if len(cfg.AlertmanagerURLs) > 0 {
		am, err := alertmanager.New(alertmanager.Options{
			URLs: cfg.AlertmanagerURLs, Username: cfg.AlertmanagerUser, Password: cfg.AlertmanagerPassword,
			BearerToken: cfg.AlertmanagerToken, Horizon: cfg.AlertmanagerHorizonOrDefault(), DashboardURL: cfg.DashboardURL,
			Policy: p, Client: client,
		})
		if err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		sinks = append(sinks, am)
	}
	return sinks, nil
}
