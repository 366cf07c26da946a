package post

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/cspwatch/cspwatch/internal/alerts"
)

// server answers its statuses in turn (200 once they run out), with
// Retry-After when retryAfter is set, and counts the requests.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	n        int
}

func newServer(t *testing.T, retryAfter string, statuses ...int) *server {
	s := &server{statuses: statuses}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.n++
		status := http.StatusOK
		if len(s.statuses) > 0 {
			status, s.statuses = s.statuses[0], s.statuses[1:]
		}
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

var fast = Policy{Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Timeout: 5 * time.Second}

func TestSendClassifies(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		wantErr   bool
		permanent bool
		requests  int
		retries   int
	}{
		{"ok", nil, false, false, 1, 0},
		{"503 then ok", []int{503}, false, false, 2, 1},
		{"408 and 429 retried", []int{408, 429}, false, false, 3, 2},
		{"5xx every try", []int{500, 502, 503}, true, false, 3, 2},
		{"400 permanent", []int{400}, true, true, 1, 0},
		{"404 permanent", []int{404}, true, true, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, "", tt.statuses...)
			e := &Endpoint{Name: "test", URL: srv.URL, Policy: fast}
			retries := 0
			e.OnRetry(func() { retries++ })
			err := e.Send(t.Context(), []byte(`{}`), nil)
			if (err != nil) != tt.wantErr || errors.Is(err, alerts.ErrPermanent) != tt.permanent {
				t.Errorf("Send = %v, want error %v, permanent %v", err, tt.wantErr, tt.permanent)
			}
			if srv.requests() != tt.requests || retries != tt.retries {
				t.Errorf("%d requests, %d retries reported; want %d and %d", srv.requests(), retries, tt.requests, tt.retries)
			}
		})
	}
}

// A network error is retryable; SendOnce makes one try.
func TestSendNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	e := &Endpoint{Name: "test", URL: url, Policy: fast}
	retries := 0
	e.OnRetry(func() { retries++ })
	if err := e.Send(t.Context(), nil, nil); err == nil || errors.Is(err, alerts.ErrPermanent) || retries != 2 {
		t.Errorf("Send = %v with %d retries, want a retryable error after 3 tries", err, retries)
	}
	retries = 0
	if err := e.SendOnce(t.Context(), nil); err == nil || retries != 0 {
		t.Errorf("SendOnce = %v with %d retries, want an error after one try", err, retries)
	}
}

// Every try is signed afresh and carries the endpoint's headers.
func TestSendSignsEachTry(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("X-Try")+" "+r.Header.Get("Authorization")+" "+r.Header.Get("Content-Type"))
		n := len(seen)
		mu.Unlock()
		if n < 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	e := &Endpoint{Name: "test", URL: srv.URL, Policy: fast, Header: http.Header{"Authorization": {"Bearer x"}}}
	tries := 0
	if err := e.Send(t.Context(), []byte(`{}`), func(h http.Header, body []byte) {
		tries++
		h.Set("X-Try", string(rune('0'+tries)))
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != "1 Bearer x application/json" || seen[1] != "2 Bearer x application/json" {
		t.Errorf("requests %q", seen)
	}
}

// The wait after a retryable answer is the back-off with jitter, at least
// the answer's Retry-After, and never more than MaxBackoff.
func TestBackOffHonoursRetryAfterUpToMax(t *testing.T) {
	b := &hintedBackOff{max: time.Second, exp: &backoff.ExponentialBackOff{
		InitialInterval: 100 * time.Millisecond, RandomizationFactor: Jitter, Multiplier: 2, MaxInterval: time.Second,
	}}
	b.Reset()
	for i, nominal := range []time.Duration{100, 200, 400, 800, 1000} {
		nominal *= time.Millisecond
		d := b.NextBackOff()
		lo, hi := time.Duration(float64(nominal)*(1-Jitter)), min(time.Duration(float64(nominal)*(1+Jitter)), time.Second)
		if d < lo || d > hi {
			t.Errorf("wait %d = %v, want within [%v, %v]", i, d, lo, hi)
		}
	}
	b.Reset()
	b.hint = 700 * time.Millisecond
	if d := b.NextBackOff(); d < 700*time.Millisecond || d > time.Second {
		t.Errorf("wait after Retry-After 700ms = %v, want at least 700ms", d)
	}
	b.hint = time.Hour
	if d := b.NextBackOff(); d != time.Second {
		t.Errorf("wait after Retry-After 1h = %v, want the 1s maximum", d)
	}
	if d := b.NextBackOff(); d > time.Second {
		t.Errorf("the hint outlived its wait: %v", d)
	}
}

// A Retry-After answer is read into the next wait.
func TestSendReadsRetryAfter(t *testing.T) {
	srv := newServer(t, "1", 429)
	e := &Endpoint{Name: "test", URL: srv.URL, Policy: fast}
	hint, err := e.post(t.Context(), nil, nil)
	if err == nil || hint != time.Second {
		t.Errorf("post = %v, %v; want a retryable error and a 1s hint", hint, err)
	}
	if err := e.Send(t.Context(), nil, nil); err != nil {
		t.Errorf("Send after the 429 = %v", err)
	}
}
