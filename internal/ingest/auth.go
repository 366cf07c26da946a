package ingest

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/internal/webhooksig"
)

// Standard Webhooks headers (https://www.standardwebhooks.com).
const (
	HeaderWebhookID        = webhooksig.HeaderID
	HeaderWebhookTimestamp = webhooksig.HeaderTimestamp
	HeaderWebhookSignature = webhooksig.HeaderSignature
)

// SecretPrefix marks a Standard Webhooks secret: the key is the base64 text
// after it. A secret without the prefix is used as key bytes as written.
const SecretPrefix = webhooksig.SecretPrefix

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
			key, err := webhooksig.ParseSecret(s)
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
		switch webhooksig.Verify(keys, h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), sig, body, now, tolerance) {
		case nil:
			return pathTenant, nil
		case webhooksig.ErrMissingID:
			return "", errNoWebhookID
		case webhooksig.ErrBadTimestamp:
			return "", errBadTimestamp
		case webhooksig.ErrExpired:
			return "", errExpired
		default:
			return "", errBadSignature
		}
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

func bearer(h string) (string, bool) {
	const p = "Bearer "
	if len(h) > len(p) && strings.EqualFold(h[:len(p)], p) {
		return strings.TrimSpace(h[len(p):]), true
	}
	return "", false
}
