package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers (https://www.standardwebhooks.com).
const (
	HeaderWebhookID        = "Webhook-Id"
	HeaderWebhookTimestamp = "Webhook-Timestamp"
	HeaderWebhookSignature = "Webhook-Signature"
)

// SecretPrefix marks a Standard Webhooks secret: the key is the base64 text
// after it. A secret without the prefix is used as key bytes as written.
const SecretPrefix = "whsec_"

// CredentialsFile is the JSON form of the credentials file:
//
//	{"tenants": [
//	  {"name": "contoso",
//	   "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "older-secret-still-accepted"],
//	   "tokens": ["a-long-random-bearer-token"]}
//	]}
//
// A tenant has HMAC secrets, bearer tokens or both; several of each allow
// rotation without downtime (add the new one, move the MDM server to it,
// remove the old one).
type CredentialsFile struct {
	Tenants []TenantCredentials `json:"tenants"`
}

// TenantCredentials are one tenant's secrets and tokens.
type TenantCredentials struct {
	Name    string   `json:"name"`
	Secrets []string `json:"secrets,omitempty"`
	Tokens  []string `json:"tokens,omitempty"`
}

// Credentials authenticates webhook requests. It is read-only after
// construction and safe for concurrent use.
type Credentials struct {
	secrets map[string][][]byte // tenant -> HMAC keys
	tokens  map[[32]byte]string // sha256(token) -> tenant
	tenants map[string]struct{} // every configured tenant
}

// LoadCredentials reads and checks a credentials file.
func LoadCredentials(path string) (*Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	c, err := ParseCredentials(b)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", path, err)
	}
	return c, nil
}

// ParseCredentials checks a credentials file's content: tenant names must be
// valid NATS subject tokens (letters, digits, '-' and '_', at most 64
// bytes), other than "commands", and unique, every tenant needs a secret or a token, secrets and
// tokens must be at least 16 bytes, and a token must not belong to two
// tenants.
func ParseCredentials(data []byte) (*Credentials, error) {
	var f CredentialsFile
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	c := &Credentials{
		secrets: map[string][][]byte{},
		tokens:  map[[32]byte]string{},
		tenants: map[string]struct{}{},
	}
	for i, t := range f.Tenants {
		if err := checkTenant(t.Name); err != nil {
			return nil, fmt.Errorf("tenant %d: %w", i, err)
		}
		if _, dup := c.tenants[t.Name]; dup {
			return nil, fmt.Errorf("tenant %q listed twice", t.Name)
		}
		if len(t.Secrets) == 0 && len(t.Tokens) == 0 {
			return nil, fmt.Errorf("tenant %q has neither secrets nor tokens", t.Name)
		}
		c.tenants[t.Name] = struct{}{}
		for j, s := range t.Secrets {
			key, err := secretKey(s)
			if err != nil {
				return nil, fmt.Errorf("tenant %q secret %d: %w", t.Name, j, err)
			}
			c.secrets[t.Name] = append(c.secrets[t.Name], key)
		}
		for j, tok := range t.Tokens {
			if len(tok) < 16 {
				return nil, fmt.Errorf("tenant %q token %d: shorter than 16 bytes", t.Name, j)
			}
			h := sha256.Sum256([]byte(tok))
			if other, dup := c.tokens[h]; dup {
				return nil, fmt.Errorf("tenant %q token %d: already a token of %q", t.Name, j, other)
			}
			c.tokens[h] = t.Name
		}
	}
	if len(c.tenants) == 0 {
		return nil, errors.New("no tenants")
	}
	return c, nil
}

// Tenants returns the number of configured tenants.
func (c *Credentials) Tenants() int { return len(c.tenants) }

func secretKey(s string) ([]byte, error) {
	if b64, ok := strings.CutPrefix(s, SecretPrefix); ok {
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
		return nil, errors.New("shorter than 16 bytes")
	}
	return []byte(s), nil
}

// checkTenant accepts names that are one NATS subject token as they are, so
// that two tenants never share a subject.
func checkTenant(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("tenant name %q: want 1 to 64 bytes", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("tenant name %q: only letters, digits, '-' and '_'", name)
		}
	}
	if name == endpointCommands {
		// /v1/syncml/commands is the server's-message endpoint, not the
		// device endpoint of a tenant of that name.
		return fmt.Errorf("tenant name %q: reserved (POST /v1/syncml/commands takes the server's messages)", name)
	}
	return nil
}

// authError is why a request was not authenticated. Reason is the metric
// label; public is what the client is told (unknown tenant and bad
// signature look the same from outside).
type authError struct {
	reason, public, detail string
}

func (e *authError) Error() string { return e.reason + ": " + e.detail }

var (
	errNoCredentials = &authError{"missing_credentials", "missing_credentials", "no Authorization bearer token and no webhook-signature"}
	errTenantNeeded  = &authError{"tenant_required", "tenant_required", "a signed request names its tenant in the path: /v1/syncml/{tenant}"}
	errUnknownTenant = &authError{"unknown_tenant", "bad_signature", "no signature matches"}
	errNoSecret      = &authError{"no_secret", "bad_signature", "no signature matches"}
	errBadSignature  = &authError{"bad_signature", "bad_signature", "no signature matches"}
	errBadTimestamp  = &authError{"bad_timestamp", "bad_timestamp", "webhook-timestamp is not unix seconds"}
	errNoWebhookID   = &authError{"missing_webhook_id", "missing_webhook_id", "webhook-id header missing"}
	errBadToken      = &authError{"bad_token", "bad_token", "bearer token not recognised"}
	errTokenTenant   = &authError{"bad_token", "bad_token", "bearer token not recognised"}
	errExpired       = &authError{"timestamp_out_of_window", "timestamp_out_of_window", "webhook-timestamp too far from now"}
)

// authenticate returns the tenant of a request from its credential alone.
// pathTenant is the tenant named in the URL ("" when none): it selects the
// secrets to check a signature against, and must match a bearer token's
// tenant. The signature is checked over the raw body bytes, before any
// decompression or parsing. The cost is one HMAC-SHA256 of the body per
// secret of the tenant, at most.
func (c *Credentials) authenticate(h http.Header, pathTenant string, body []byte, now time.Time, tolerance time.Duration) (string, *authError) {
	if sig := h.Get(HeaderWebhookSignature); sig != "" {
		if pathTenant == "" {
			return "", errTenantNeeded
		}
		if _, ok := c.tenants[pathTenant]; !ok {
			return "", errUnknownTenant
		}
		keys := c.secrets[pathTenant]
		if len(keys) == 0 {
			return "", errNoSecret
		}
		id := h.Get(HeaderWebhookID)
		if id == "" {
			return "", errNoWebhookID
		}
		tsText := h.Get(HeaderWebhookTimestamp)
		ts, err := strconv.ParseInt(tsText, 10, 64)
		if err != nil {
			return "", errBadTimestamp
		}
		if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
			return "", errExpired
		}
		if verify(keys, id, tsText, body, sig) {
			return pathTenant, nil
		}
		return "", errBadSignature
	}
	if tok, ok := bearer(h.Get("Authorization")); ok {
		tenant, found := c.tokens[sha256.Sum256([]byte(tok))]
		if !found {
			return "", errBadToken
		}
		if pathTenant != "" && pathTenant != tenant {
			return "", errTokenTenant
		}
		return tenant, nil
	}
	return "", errNoCredentials
}

// verify reports whether one of the space-separated "v1,<base64>" signatures
// is the HMAC-SHA256 of "id.timestamp.body" under one of keys. Comparisons
// are constant-time; signatures of other versions are ignored.
func verify(keys [][]byte, id, ts string, body []byte, header string) bool {
	// A v1 signature is 44 base64 characters; at most 8 are considered.
	var want [8][sha256.Size + 1]byte
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
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id))
		m.Write([]byte{'.'})
		m.Write([]byte(ts))
		m.Write([]byte{'.'})
		m.Write(body)
		got := m.Sum(sum[:0])
		ok := false
		for i := 0; i < n; i++ {
			// Every candidate is compared, so that timing does not tell
			// which one matched.
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

// Sign returns the Standard Webhooks signature header value ("v1,<base64>")
// of body under the secret (whsec_ form or raw), for clients and tests.
func Sign(secret, id string, ts int64, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

func bearer(h string) (string, bool) {
	const p = "Bearer "
	if len(h) > len(p) && strings.EqualFold(h[:len(p)], p) {
		return strings.TrimSpace(h[len(p):]), true
	}
	return "", false
}
