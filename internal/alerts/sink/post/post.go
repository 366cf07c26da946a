// Package post is the HTTP delivery every HTTP alert sink shares: one POST
// of a JSON body, classified as permanent or retryable, under one retrier
// (exponential back-off with jitter, github.com/cenkalti/backoff/v5).
//
// Classification: a 2xx answer is success; 408, 429, 5xx, network errors
// and time-outs are retryable; any other answer (4xx) and a request that
// cannot be built are permanent and wrap alerts.ErrPermanent. A retryable
// answer's Retry-After (seconds) lengthens the next wait, up to
// Policy.MaxBackoff.
package post

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/cspwatch/cspwatch/internal/alerts"
)

// Policy bounds one delivery's tries: Attempts tries in all, the first wait
// about Backoff, doubled per try up to MaxBackoff, each wait drawn at
// random within ±Jitter of its nominal value (so that replicas and sinks
// failing together do not retry in step), each request limited to Timeout.
type Policy struct {
	Attempts   int
	Backoff    time.Duration
	MaxBackoff time.Duration
	Timeout    time.Duration
}

// Jitter is the randomization factor of every wait: a nominal wait d is
// drawn from [d(1-Jitter), d(1+Jitter)], then capped at MaxBackoff.
const Jitter = 0.5

// Endpoint posts JSON bodies to one URL. Its fields are set before the
// first Send and not changed after.
type Endpoint struct {
	// Name prefixes errors ("slack", "alertmanager am:9093").
	Name string
	URL  string
	// Header is added to every request (an Authorization).
	Header http.Header
	Policy Policy
	// Client may be nil (http.DefaultClient settings).
	Client *http.Client

	onRetry func()
}

// OnRetry sets f to be called after each failed try that another follows
// (the engine counts them; see alerts.RetryReporter).
func (e *Endpoint) OnRetry(f func()) { e.onRetry = f }

// Signer adds headers computed from the body to one try's request (a
// signature with that try's timestamp); nil adds none.
type Signer func(h http.Header, body []byte)

// Send posts body in at most Policy.Attempts tries. It returns nil once an
// answer is 2xx, else the last try's error, which wraps alerts.ErrPermanent
// when retrying would not help. Cost: the tries and the waits between them,
// at most Attempts × Timeout + (Attempts-1) × MaxBackoff.
func (e *Endpoint) Send(ctx context.Context, body []byte, sign Signer) error {
	return e.send(ctx, body, sign, e.Policy.Attempts)
}

// SendOnce posts body in one try, for a sender that tries again on its own
// schedule (the Alertmanager resend).
func (e *Endpoint) SendOnce(ctx context.Context, body []byte) error {
	return e.send(ctx, body, nil, 1)
}

func (e *Endpoint) send(ctx context.Context, body []byte, sign Signer, attempts int) error {
	b := &hintedBackOff{max: e.Policy.MaxBackoff, exp: &backoff.ExponentialBackOff{
		InitialInterval:     e.Policy.Backoff,
		RandomizationFactor: Jitter,
		Multiplier:          2,
		MaxInterval:         e.Policy.MaxBackoff,
	}}
	tries := 0
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		tries++
		hint, err := e.post(ctx, body, sign)
		b.hint, last = hint, err
		if errors.Is(err, alerts.ErrPermanent) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxTries(uint(max(attempts, 1))), backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(error, time.Duration) {
			if e.onRetry != nil {
				e.onRetry()
			}
		}))
	if err == nil {
		return nil
	}
	if last == nil {
		last = err
	}
	return fmt.Errorf("%s notify after %d tries: %w", e.Name, tries, last)
}

// hintedBackOff is an exponential back-off whose next wait is at least the
// last answer's Retry-After, and at most max.
type hintedBackOff struct {
	exp  *backoff.ExponentialBackOff
	hint time.Duration
	max  time.Duration
}

func (b *hintedBackOff) Reset() { b.exp.Reset(); b.hint = 0 }

func (b *hintedBackOff) NextBackOff() time.Duration {
	d := max(b.exp.NextBackOff(), b.hint)
	b.hint = 0
	if b.max > 0 {
		d = min(d, b.max)
	}
	return d
}

// post makes one try; it returns the answer's Retry-After when retryable.
func (e *Endpoint) post(ctx context.Context, body []byte, sign Signer) (retryAfter time.Duration, err error) {
	if e.Policy.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.Policy.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", alerts.ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cspwatch-alerts")
	for k, v := range e.Header {
		req.Header[k] = v
	}
	if sign != nil {
		sign(req.Header, body)
	}
	client := e.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil
	}
	err = fmt.Errorf("http %d: %s", resp.StatusCode, strings.TrimSpace(string(snippet)))
	if !Retryable(resp.StatusCode) {
		return 0, fmt.Errorf("%w: %w", alerts.ErrPermanent, err)
	}
	if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return retryAfter, err
}

// Retryable reports whether an HTTP answer of status (not 2xx) may succeed
// when tried again: 408, 429 and 5xx.
func Retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}
