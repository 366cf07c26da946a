// Package webhooksig signs and verifies Standard Webhooks signatures
// (https://www.standardwebhooks.com): an HMAC-SHA256 of
// "<webhook-id>.<webhook-timestamp>.<body>", sent as "v1,<base64>" in the
// webhook-signature header.
//
// ingest verifies the MDM server's requests with it, the alert webhook sink
// and loadgen sign with it, so that both ends agree byte for byte.
package webhooksig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers, in canonical form.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

// SecretPrefix marks a Standard Webhooks secret: the key is the base64 text
// after it. A secret without the prefix is used as key bytes as written.
const SecretPrefix = "whsec_"

// MinKeyLen is the shortest key accepted, in bytes.
const MinKeyLen = 16

// Verification failures; Verify returns one of them.
var (
	ErrMissingID    = errors.New("webhook-id header missing")
	ErrBadTimestamp = errors.New("webhook-timestamp is not unix seconds")
	ErrExpired      = errors.New("webhook-timestamp too far from now")
	ErrBadSignature = errors.New("no signature matches")
)

// ParseSecret decodes a whsec_<base64> secret, or takes any other secret
// as its bytes; either key must hold at least MinKeyLen bytes.
func ParseSecret(s string) ([]byte, error) {
	if b64, ok := strings.CutPrefix(s, SecretPrefix); ok {
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("whsec_ secret: %w", err)
		}
		if len(key) < MinKeyLen {
			return nil, errors.New("whsec_ key shorter than 16 bytes")
		}
		return key, nil
	}
	if len(s) < MinKeyLen {
		return nil, errors.New("shorter than 16 bytes")
	}
	return []byte(s), nil
}

// Sign returns the webhook-signature value "v1,<base64>" of body under key.
// It costs one HMAC-SHA256 of the body.
func Sign(key []byte, id string, ts int64, body []byte) string {
	var sum [sha256.Size]byte
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(ts, 10), body, sum[:0]))
}

// SignSecret is Sign under a secret in ParseSecret's forms.
func SignSecret(secret, id string, ts int64, body []byte) (string, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return "", err
	}
	return Sign(key, id, ts, body), nil
}

// SetHeaders sets the three Standard Webhooks headers of a request with
// body, signed under key at ts.
func SetHeaders(h http.Header, key []byte, id string, ts int64, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(key, id, ts, body))
}

// Verify checks a request's webhook-id, webhook-timestamp and
// webhook-signature values against keys: the id must be set, the
// timestamp within tolerance of now either way (against replays), and one
// of the header's v1 signatures the HMAC of the body under one of the keys.
// It returns nil or one of the Err values above, checked in that order. It
// costs one HMAC-SHA256 of the body per key, at most.
func Verify(keys [][]byte, id, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if id == "" {
		return ErrMissingID
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrExpired
	}
	if !Match(keys, id, timestamp, body, signature) {
		return ErrBadSignature
	}
	return nil
}

// maxSignatures bounds the v1 signatures of one header considered, so that
// a long header costs no more than a short one.
const maxSignatures = 8

// Match reports whether one of the space-separated "v1,<base64>"
// signatures of header is the HMAC-SHA256 of "id.ts.body" under one of
// keys, with no check of the timestamp. Comparisons are constant-time and
// every candidate is compared, so timing does not tell which one matched;
// signatures of other versions are ignored.
func Match(keys [][]byte, id, ts string, body []byte, header string) bool {
	// A v1 signature is 44 base64 characters.
	var want [maxSignatures][sha256.Size + 1]byte
	n := 0
	for _, f := range strings.Fields(header) {
		b64, ok := strings.CutPrefix(f, "v1,")
		if !ok || len(b64) != 44 || n == len(want) {
			continue
		}
		if k, err := base64.StdEncoding.Decode(want[n][:], []byte(b64)); err == nil && k == sha256.Size {
			n++
		}
	}
	if n == 0 {
		return false
	}
	var sum [sha256.Size]byte
	for _, key := range keys {
		got := mac(key, id, ts, body, sum[:0])
		ok := false
		for i := range n {
			if hmac.Equal(got, want[i][:sha256.Size]) {
				ok = true
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// mac appends the HMAC-SHA256 of "id.ts.body" under key to dst.
func mac(key []byte, id, ts string, body, dst []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(dst)
}
