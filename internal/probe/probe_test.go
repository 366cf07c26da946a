package probe

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready {
			http.Error(w, "stream missing", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()

	tests := []struct {
		name    string
		ready   bool
		url     string
		fail    bool
		wantErr error // when set, the error must wrap it
	}{
		{"ready", true, srv.URL, false, nil},
		{"not ready", false, srv.URL, true, ErrNotReady},
		{"nobody listening", true, "http://127.0.0.1:1/readyz", true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ready = tc.ready
			err := Check(context.Background(), tc.url, 2*time.Second)
			if (err != nil) != tc.fail {
				t.Fatalf("Check = %v, want failure %v", err, tc.fail)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Check = %v, want it to wrap %v", err, tc.wantErr)
			}
		})
	}
}
