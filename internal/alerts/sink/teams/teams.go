// Package teams is the Microsoft Teams alert sink: each transition is
// posted as an Adaptive Card message, the format of Teams Workflows
// webhooks, which the older Office 365 connector webhooks accept too.
package teams

import (
	"encoding/json"
	"net/http"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/post"
)

// New returns the Teams sink of a webhook url, named "teams", retrying per
// p. client may be nil.
func New(url string, p post.Policy, client *http.Client) *post.Sink {
	return post.NewSink("teams", url, p, client, Message)
}

// Message is a's Teams message: an Adaptive Card with the summary, the
// facts, the code's description and advice, and the SQL behind the alert.
func Message(a *alerts.Alert) ([]byte, error) {
	type fact struct {
		Title string `json:"title"`
		Value string `json:"value"`
	}
	color := "Attention"
	if a.Status == alerts.Resolved {
		color = "Good"
	}
	var fs []fact
	for _, f := range a.Facts() {
		fs = append(fs, fact{f[0], f[1]})
	}
	body := []map[string]any{
		{"type": "TextBlock", "text": a.Summary, "weight": "Bolder", "size": "Medium", "wrap": true, "color": color},
		{"type": "FactSet", "facts": fs},
	}
	if a.CodeDescription != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": a.CodeDescription, "wrap": true})
	}
	if a.Advice != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": "What to do: " + a.Advice, "wrap": true})
	}
	body = append(body,
		map[string]any{"type": "TextBlock", "text": "Details in ClickHouse:", "weight": "Bolder", "wrap": true},
		map[string]any{"type": "TextBlock", "text": a.Query, "fontType": "Monospace", "wrap": true},
	)
	msg := map[string]any{
		"type":    "message",
		"summary": a.Summary,
		"attachments": []map[string]any{{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"content": map[string]any{
				"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
				"type":    "AdaptiveCard",
				"version": "1.4",
				"body":    body,
				"msteams": map[string]any{"width": "Full"},
			},
		}},
	}
	return json.Marshal(msg)
}
