package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
)

// Sink delivers alert transitions. Deliver is called with the same alert
// (same ID and status) again when an earlier delivery may not have completed,
// so a sink should be idempotent where its target allows: the JetStream sink
// sets Nats-Msg-Id, the ClickHouse table replaces by (alert_id, status), the
// generic webhook repeats its webhook-id.
type Sink interface {
	Name() string
	Deliver(ctx context.Context, a Alert) error
}

// failureReporter is a sink that reports each failed try of a delivery,
// with whether another try follows (the engine counts the retries).
type failureReporter interface {
	setOnFailure(func(retrying bool))
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
// 4xx other than 408 and 429, an alert that cannot be encoded).
var ErrPermanent = errors.New("permanent")

// RetryPolicy bounds an HTTP notifier's tries: Attempts tries in all, the
// first wait Backoff, doubled per try up to MaxBackoff, each request limited
// to Timeout. A Retry-After answer is honoured up to MaxBackoff.
type RetryPolicy struct {
	Attempts   int
	Backoff    time.Duration
	MaxBackoff time.Duration
	Timeout    time.Duration
}

func (c Config) retryPolicy() RetryPolicy {
	return RetryPolicy{Attempts: c.NotifyAttempts, Backoff: c.NotifyBackoff, MaxBackoff: c.NotifyMaxBackoff, Timeout: c.NotifyTimeout}
}

// HTTPNotifier posts alerts to an HTTP endpoint in one of three formats:
// the generic signed JSON webhook, Slack and Microsoft Teams.
type HTTPNotifier struct {
	name string
	url  string
	key  []byte // signing key of the generic webhook
	// header is added to every request (the Alertmanager sink's
	// Authorization).
	header http.Header
	format func(a *Alert) ([]byte, error)
	policy RetryPolicy
	client *http.Client
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	// onFailure is called for every failed try, with whether another follows.
	onFailure func(retrying bool)
}

// NewWebhook returns the generic JSON notifier. Each request carries the
// Standard Webhooks headers: webhook-id (the alert id and status, the same
// on every retry so a receiver can drop duplicates), webhook-timestamp (Unix
// seconds) and webhook-signature "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" under secret (whsec_<base64> or raw bytes, at least
// 16). The body is {"type", "timestamp", "data": the alert}.
func NewWebhook(url, secret string, p RetryPolicy, client *http.Client) (*HTTPNotifier, error) {
	key, err := secretKey(secret)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	n := newHTTPNotifier("webhook", url, p, client)
	n.key = key
	n.format = func(a *Alert) ([]byte, error) {
		return json.Marshal(struct {
			Type      string    `json:"type"`
			Timestamp time.Time `json:"timestamp"`
			Data      *Alert    `json:"data"`
		}{"cspwatch.alert.spike." + string(a.Status), n.now().UTC().Truncate(time.Millisecond), a})
	}
	return n, nil
}

// NewSlack returns a notifier in Slack's incoming-webhook format: a text
// fallback and Block Kit blocks.
func NewSlack(url string, p RetryPolicy, client *http.Client) *HTTPNotifier {
	n := newHTTPNotifier("slack", url, p, client)
	n.format = slackMessage
	return n
}

// NewTeams returns a notifier posting an Adaptive Card message, the format
// of Microsoft Teams Workflows webhooks, which the older Office 365
// connector webhooks accept too.
func NewTeams(url string, p RetryPolicy, client *http.Client) *HTTPNotifier {
	n := newHTTPNotifier("teams", url, p, client)
	n.format = teamsMessage
	return n
}

func newHTTPNotifier(name, url string, p RetryPolicy, client *http.Client) *HTTPNotifier {
	if client == nil {
		client = &http.Client{}
	}
	if p.Attempts < 1 {
		p.Attempts = 1
	}
	return &HTTPNotifier{name: name, url: url, policy: p, client: client, now: time.Now, sleep: sleepCtx, onFailure: func(bool) {}}
}

// Name implements Sink.
func (n *HTTPNotifier) Name() string { return n.name }

// Deliver posts a, retrying with exponential backoff on network errors,
// time-outs, 408, 429 and 5xx. It returns the last error, wrapped in
// ErrPermanent when retrying would not help.
func (n *HTTPNotifier) Deliver(ctx context.Context, a Alert) error {
	body, err := n.format(&a)
	if err != nil {
		return fmt.Errorf("%s notify encode: %w: %w", n.name, ErrPermanent, err)
	}
	return n.send(ctx, &a, body, n.policy.Attempts)
}

// send posts body in at most attempts tries, with Deliver's back-off. a,
// when not nil, names the request for the generic webhook's signature.
func (n *HTTPNotifier) send(ctx context.Context, a *Alert, body []byte, attempts int) error {
	wait := n.policy.Backoff
	for attempt := 1; ; attempt++ {
		retryAfter, err := n.post(ctx, a, body)
		if err == nil {
			return nil
		}
		last := attempt >= attempts || errors.Is(err, ErrPermanent) || ctx.Err() != nil
		n.onFailure(!last)
		if last {
			return fmt.Errorf("%s notify after %d tries: %w", n.name, attempt, err)
		}
		d := wait
		if retryAfter > d {
			d = retryAfter
		}
		d = min(d, n.policy.MaxBackoff)
		if err := n.sleep(ctx, d); err != nil {
			return fmt.Errorf("%s notify: %w", n.name, err)
		}
		wait = min(2*wait, n.policy.MaxBackoff)
	}
}

// setOnFailure implements failureReporter.
func (n *HTTPNotifier) setOnFailure(f func(retrying bool)) { n.onFailure = f }

func (n *HTTPNotifier) post(ctx context.Context, a *Alert, body []byte) (retryAfter time.Duration, err error) {
	if n.policy.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.policy.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cspwatch-alerts")
	for k, v := range n.header {
		req.Header[k] = v
	}
	if n.key != nil && a != nil {
		id := a.ID + "." + string(a.Status)
		ts := n.now().Unix()
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("webhook-signature", sign(n.key, id, ts, body))
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil
	}
	err = fmt.Errorf("http %d: %s", resp.StatusCode, strings.TrimSpace(string(snippet)))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			retryAfter = time.Duration(s) * time.Second
		}
		return retryAfter, err
	default:
		return 0, fmt.Errorf("%w: %w", ErrPermanent, err)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sign is the Standard Webhooks signature header value.
func sign(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// secretKey decodes a whsec_<base64> secret or takes a raw one as bytes; both
// must hold at least 16 bytes, as ingest requires of its secrets.
func secretKey(s string) ([]byte, error) {
	if b64, ok := strings.CutPrefix(s, "whsec_"); ok {
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("whsec_ secret: %w", err)
		}
		if len(key) < 16 {
			return nil, errors.New("whsec_ key shorter than 16 bytes")
		}
		return key, nil
	}
	if len(s) < 16 {
		return nil, errors.New("secret shorter than 16 bytes")
	}
	return []byte(s), nil
}

// facts are the alert's fields as label/value pairs for chat messages.
func facts(a *Alert) [][2]string {
	code := strconv.FormatInt(a.Code, 10)
	if a.CodeHex != "" && a.CodeSpace != codes.SpaceHRESULT {
		code += " (" + a.CodeHex + ")"
	} else if a.CodeHex != "" {
		code = a.CodeHex
	}
	if a.CodeName != "" {
		code += " " + a.CodeName
	}
	status := string(a.Status)
	if a.Status == Firing && a.Severity != "" {
		status += ", " + string(a.Severity)
	}
	out := [][2]string{
		{"Status", status},
		{"Tenant", a.Tenant},
	}
	if p := a.product(); p != "" {
		out = append(out, [2]string{"Product", p + " (" + a.CSP + ")"})
	} else {
		out = append(out, [2]string{"Product", "all products (code level)"})
	}
	out = append(out,
		[2]string{"Cause", code + " [" + string(a.CodeSpace) + "]"},
		[2]string{"Category", a.Category},
		[2]string{"Devices", fmt.Sprintf("%d (baseline %.1f), e.g. %s", a.Devices, a.DeviceBaseline, strings.Join(a.SampleDevices, ", "))},
		[2]string{"Failed attempts", fmt.Sprintf("%d in %ds (peak %d), baseline %.1f, threshold %.1f×", a.Attempts, a.BucketSeconds, a.Peak, a.Baseline, a.Factor)},
		[2]string{"First seen", a.FirstSeen.UTC().Format(time.RFC3339)},
	)
	if !a.ResolvedAt.IsZero() {
		out = append(out, [2]string{"Resolved", a.ResolvedAt.UTC().Format(time.RFC3339)})
	}
	return out
}

func slackMessage(a *Alert) ([]byte, error) {
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
	if a.Status == Resolved {
		icon = ":white_check_mark:"
	}
	var fields []text
	for _, f := range facts(a) {
		if len(fields) == 10 { // Slack's limit per section
			break
		}
		fields = append(fields, text{"mrkdwn", "*" + f[0] + "*\n" + slackEscape(f[1])})
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
			{Type: "section", Text: &text{"mrkdwn", icon + " *" + slackEscape(a.Summary) + "*"}},
			{Type: "section", Fields: fields},
			{Type: "section", Text: &text{"mrkdwn", slackEscape(desc)}},
			{Type: "section", Text: &text{"mrkdwn", "Details in ClickHouse:\n```" + slackEscape(a.Query) + "```"}},
		},
	}
	return json.Marshal(msg)
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func teamsMessage(a *Alert) ([]byte, error) {
	type fact struct {
		Title string `json:"title"`
		Value string `json:"value"`
	}
	color := "Attention"
	if a.Status == Resolved {
		color = "Good"
	}
	var fs []fact
	for _, f := range facts(a) {
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
