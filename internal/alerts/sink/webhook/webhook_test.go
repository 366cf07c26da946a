package webhook

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/post"
	"github.com/cspwatch/cspwatch/internal/webhooksig"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// Every try carries the same webhook-id and a signature that verifies at
// its own timestamp; the body is the typed envelope of the alert.
func TestDeliverSignsEveryTry(t *testing.T) {
	type req struct {
		h    http.Header
		body []byte
	}
	var (
		mu   sync.Mutex
		reqs []req
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, req{r.Header.Clone(), b})
		n := len(reqs)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	now := time.Unix(1_795_413_600, 0)
	clock := func() time.Time { now = now.Add(time.Second); return now }
	s, err := newAt(srv.URL, secret, post.Policy{Attempts: 2, Backoff: time.Millisecond, MaxBackoff: time.Millisecond, Timeout: 5 * time.Second}, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	a := alerts.Alert{ID: "abc-1795413600", Status: alerts.Firing, Tenant: "contoso", Summary: "spike"}
	if err := s.Deliver(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	key, _ := webhooksig.ParseSecret(secret)
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		id := r.h.Get(webhooksig.HeaderID)
		if id != "abc-1795413600.firing" {
			t.Errorf("try %d: webhook-id %q", i, id)
		}
		if err := webhooksig.Verify([][]byte{key}, id, r.h.Get(webhooksig.HeaderTimestamp), r.h.Get(webhooksig.HeaderSignature), r.body, now, time.Minute); err != nil {
			t.Errorf("try %d: %v", i, err)
		}
		var msg struct {
			Type string       `json:"type"`
			Data alerts.Alert `json:"data"`
		}
		if err := json.Unmarshal(r.body, &msg); err != nil || msg.Type != "cspwatch.alert.spike.firing" || msg.Data.ID != a.ID {
			t.Errorf("try %d: body %s (%v)", i, r.body, err)
		}
	}
	if reqs[0].h.Get(webhooksig.HeaderTimestamp) == reqs[1].h.Get(webhooksig.HeaderTimestamp) {
		t.Error("the retry reused the first try's timestamp")
	}
}

func TestNewRejectsShortSecret(t *testing.T) {
	if _, err := New("http://hook", "short", post.Policy{Attempts: 1}, nil); err == nil {
		t.Error("New accepted a 5-byte secret")
	}
}
