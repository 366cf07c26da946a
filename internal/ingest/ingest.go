// Package ingest is the webhook that MDM servers post SyncML messages to:
// the messages devices send them, and the messages they send devices. For
// each request it authenticates the tenant, bounds and decodes the body,
// scans the message, builds its install events (a device's answers, or the
// server's commands) and publishes them to JetStream, and answers 200 only
// after JetStream acknowledged every event.
//
// Endpoints:
//
//	POST /v1/syncml/{tenant}           a device's message: a signed (Standard Webhooks) or bearer request for tenant
//	POST /v1/syncml                    a device's message: a bearer request; the token names the tenant
//	POST /v1/syncml/commands/{tenant}  a server's message to a device (kind command events), signed or bearer
//	POST /v1/syncml/commands           a server's message to a device, bearer
//	GET  /metrics                      Prometheus metrics
//	GET  /healthz                      the process runs
//	GET  /readyz                       NATS connected and the stream present
//
// Both kinds of message share the authentication, limits, errors and
// answers; a server's message names the device in SyncHdr/Target (a 400
// no_device_id without one), and an install document its Exec carries that
// is rejected (DOCTYPE, size, depth, ...) is counted by reason but never
// fails the request: the command is published with payload_error.
//
// A signed request names its tenant in the path because the signature is
// checked against that tenant's secrets only: the tenant is then proven by
// the secret, never taken from a free header, and a request costs one HMAC
// per secret of one tenant, whatever the number of tenants.
package ingest

import (
	"errors"
	"fmt"
	"time"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

// Optional headers an MDM server may add.
const (
	// HeaderReceivedAt is when the MDM server received the message; copied
	// as sent (at most 64 bytes) into the events' mdm_received_at.
	HeaderReceivedAt = "MDM-Received-At"
	// HeaderGenericAlert is the device's MDM-GenericAlert HTTP header, which
	// marks a session triggered by a critical generic alert; copied as sent
	// (at most 1024 bytes) into the events' mdm_generic_alert.
	HeaderGenericAlert = "MDM-GenericAlert"
	// HeaderRequestID, when sent, names the request in logs and in the
	// answer; otherwise the webhook-id, otherwise a generated id.
	HeaderRequestID = "X-Request-Id"
)

// InsecureTenant is the tenant of every request when the service runs
// without credentials (--insecure, development only).
const InsecureTenant = "default"

// Config bounds what one request may cost and how long publishing may take.
type Config struct {
	// MaxBodyBytes bounds the body as sent (compressed or not): 413 beyond.
	MaxBodyBytes int64
	// MaxDecompressedBytes bounds a gzip body once decompressed: 413 beyond.
	MaxDecompressedBytes int64
	// Limits bound the scanner's work on one message.
	Limits syncml.Limits
	// Tolerance is how far a webhook-timestamp may be from now, either way.
	Tolerance time.Duration
	// PublishTimeout bounds the wait for the acknowledgements of one
	// message's events, including the wait for a free publish slot.
	PublishTimeout time.Duration
	// MaxPending bounds events published and not yet acknowledged, across
	// all requests; a request that finds no free slot within PublishTimeout
	// gets 503.
	MaxPending int
	// RetryAfter is the Retry-After of a 503.
	RetryAfter time.Duration
	// Stream is the stream whose presence /readyz checks.
	Stream string
	// Insecure accepts requests without credentials, all as InsecureTenant.
	Insecure bool
	// AccessLog logs every accepted request at info level; otherwise at
	// debug (rejections are always logged).
	AccessLog bool
}

// DefaultConfig returns limits that fit real device traffic (messages of a
// few KB, rarely more than 100 KB) with a wide margin.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:         1 << 20,
		MaxDecompressedBytes: 8 << 20,
		Limits:               syncml.DefaultLimits,
		Tolerance:            5 * time.Minute,
		PublishTimeout:       5 * time.Second,
		MaxPending:           16384,
		RetryAfter:           5 * time.Second,
		Stream:               bus.StreamName,
	}
}

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	switch {
	case c.MaxBodyBytes <= 0:
		return fmt.Errorf("ingest: max body bytes %d, want positive", c.MaxBodyBytes)
	case c.MaxDecompressedBytes < c.MaxBodyBytes:
		return fmt.Errorf("ingest: max decompressed bytes %d below max body bytes %d", c.MaxDecompressedBytes, c.MaxBodyBytes)
	case c.MaxDecompressedBytes > 1<<30:
		return fmt.Errorf("ingest: max decompressed bytes %d above 1 GiB", c.MaxDecompressedBytes)
	case c.Limits.MaxDepth <= 0 || c.Limits.MaxElements <= 0 || c.Limits.MaxAttrLen <= 0:
		return errors.New("ingest: scanner limits must be positive")
	case c.Tolerance <= 0:
		return fmt.Errorf("ingest: signature tolerance %v, want positive", c.Tolerance)
	case c.PublishTimeout <= 0:
		return fmt.Errorf("ingest: publish timeout %v, want positive", c.PublishTimeout)
	case c.MaxPending <= 0:
		return fmt.Errorf("ingest: max pending %d, want positive", c.MaxPending)
	case c.RetryAfter < time.Second:
		return fmt.Errorf("ingest: retry-after %v, want at least 1s", c.RetryAfter)
	case c.Stream == "":
		return errors.New("ingest: empty stream name")
	}
	return nil
}
