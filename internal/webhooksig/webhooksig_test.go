package webhooksig

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A vector from the Standard Webhooks reference implementation's tests.
func TestSignReferenceVector(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestParseSecret(t *testing.T) {
	for s, want := range map[string]string{
		"short":                                  "shorter than 16",
		"whsec_!!!":                              "whsec_",
		"whsec_c2hvcnQ=":                         "whsec_ key shorter",
		"raw-secret-0123456789":                  "",
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw": "",
	} {
		_, err := ParseSecret(s)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("ParseSecret(%q) = %v, want %q", s, err, want)
		}
	}
}

func TestVerify(t *testing.T) {
	key := []byte("test-secret-0123456789")
	now := time.Unix(1_700_000_000, 0)
	body := []byte("<SyncML/>")
	h := http.Header{}
	SetHeaders(h, key, "msg_1", now.Unix(), body)
	id, ts, sig := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	other := []byte("another-secret-0123456789")
	tests := []struct {
		name        string
		keys        [][]byte
		id, ts, sig string
		now         time.Time
		want        error
	}{
		{"good", [][]byte{key}, id, ts, sig, now, nil},
		{"rotated", [][]byte{other, key}, id, ts, sig, now, nil},
		{"at tolerance", [][]byte{key}, id, ts, sig, now.Add(5 * time.Minute), nil},
		{"no id", [][]byte{key}, "", ts, sig, now, ErrMissingID},
		{"bad timestamp", [][]byte{key}, id, "soon", sig, now, ErrBadTimestamp},
		{"old", [][]byte{key}, id, ts, sig, now.Add(5*time.Minute + time.Second), ErrExpired},
		{"future", [][]byte{key}, id, ts, sig, now.Add(-5*time.Minute - time.Second), ErrExpired},
		{"other key", [][]byte{other}, id, ts, sig, now, ErrBadSignature},
		{"other id", [][]byte{key}, "msg_2", ts, sig, now, ErrBadSignature},
		{"other timestamp", [][]byte{key}, id, strconv.FormatInt(now.Unix()+1, 10), sig, now, ErrBadSignature},
		{"among others", [][]byte{key}, id, ts, "v2,x v1," + strings.Repeat("A", 44) + " " + sig, now, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Verify(tt.keys, tt.id, tt.ts, tt.sig, body, tt.now, 5*time.Minute); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzMatch: any signature header, id and timestamp is handled without
// panicking, and only the true signature verifies.
func FuzzMatch(f *testing.F) {
	f.Add("msg_1", "1700000000", "v1,AAAA", []byte("body"))
	f.Add("msg_2", "1700000000", "v1,"+strings.Repeat("A", 44)+" v2,x v1,", []byte(""))
	f.Add("", "", strings.Repeat("v1,", 100), []byte("<SyncML/>"))
	key := []byte("fuzz-secret-0123456789")
	f.Fuzz(func(t *testing.T, id, ts, header string, body []byte) {
		if Match([][]byte{key}, id, ts, body, header) {
			t.Fatalf("random header %q verified", header)
		}
		tsn, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || strconv.FormatInt(tsn, 10) != ts {
			return
		}
		// At most 8 v1 signatures are considered: the true one goes first.
		if !Match([][]byte{key}, id, ts, body, Sign(key, id, tsn, body)+" "+header) {
			t.Fatalf("true signature before %q not verified", header)
		}
	})
}
