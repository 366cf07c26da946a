// Package slack is the Slack alert sink: each transition is posted to an
// incoming webhook as a text fallback and Block Kit blocks.
package slack

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/post"
)

// New returns the Slack sink of an incoming-webhook url, named "slack",
// retrying per p. client may be nil.
func New(url string, p post.Policy, client *http.Client) *post.Sink {
	return post.NewSink("slack", url, p, client, Message)
}

// Message is a's Slack message: the summary, up to ten facts, the code's
// description and advice, and the SQL behind the alert.
func Message(a *alerts.Alert) ([]byte, error) {
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type block struct {
		Type   string `json:"type"`
		Text   *text  `json:"text,omitempty"`
		Fields []text `json:"fields,omitempty"`
	}
	icon := ":rotating_light:"
	if a.Status == alerts.Resolved {
		icon = ":white_check_mark:"
	}
	var fields []text
	for _, f := range a.Facts() {
		if len(fields) == 10 { // Slack's limit per section
			break
		}
		fields = append(fields, text{"mrkdwn", "*" + f[0] + "*\n" + escape(f[1])})
	}
	desc := a.CodeDescription
	if desc == "" {
		desc = "(no description in the catalog)"
	}
	if a.Advice != "" {
		desc += "\nWhat to do: " + a.Advice
	}
	msg := struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{
		Text: icon + " " + a.Summary,
		Blocks: []block{
			{Type: "section", Text: &text{"mrkdwn", icon + " *" + escape(a.Summary) + "*"}},
			{Type: "section", Fields: fields},
			{Type: "section", Text: &text{"mrkdwn", escape(desc)}},
			{Type: "section", Text: &text{"mrkdwn", "Details in ClickHouse:\n```" + escape(a.Query) + "```"}},
		},
	}
	return json.Marshal(msg)
}

// escape escapes the three characters Slack's mrkdwn reserves.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
