package ingest

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

// work is the reusable state of one request.
type work struct {
	scanner *syncml.Scanner
	builder normalize.Builder
	// events come from BuildTransient: their strings live in builder and
	// change with the next request, so nothing may keep them past this one
	// (the connection copies subject, header and data at publish).
	events   []event.Event
	enc      eventjson.Encoder
	body     []byte
	res      []byte // the 200 answer's body
	plain    []byte
	data     []byte // the events' JSON, back to back
	ends     []int
	subj     []byte
	reply    []byte
	subjects map[string]string // interned subjects: a few per tenant
	msg      nats.Msg
	msgID    []string // msg's Nats-Msg-Id header value
	batch    batch
	gz       *gzip.Reader
}

// apiError is a 4xx or 5xx answer with the reason a client and a metric see.
type apiError struct {
	status int
	reason string
	detail string
}

// reqLog holds what a request's log lines name; the fields are added only
// to lines that are written, so that an accepted request logged at a
// disabled level costs nothing.
type reqLog struct {
	base       *zerolog.Logger
	id, tenant string
	endpoint   string
	device     []byte // valid until the scanner's next message
}

func (l *reqLog) with(e *zerolog.Event) *zerolog.Event {
	if e == nil {
		return nil
	}
	e = e.Str("request_id", l.id)
	if l.endpoint == endpointCommands {
		e = e.Str("endpoint", l.endpoint)
	}
	if l.tenant != "" {
		e = e.Str("tenant", l.tenant)
	}
	if len(l.device) > 0 {
		e = e.Bytes("device", l.device[:min(len(l.device), 256)])
	}
	return e
}

func (s *Server) fail(w http.ResponseWriter, log *reqLog, e *apiError) {
	s.m.answered(log.endpoint, e.status)
	switch {
	case e.status == http.StatusServiceUnavailable:
		log.with(log.base.Error()).Str("reason", e.reason).Str("detail", e.detail).Msg("webhook not published")
		w.Header().Set("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter/time.Second)))
	case e.status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="cspwatch"`)
	default:
		s.m.rejected.WithLabelValues(e.reason).Inc()
		log.with(log.base.Warn()).Int("status", e.status).Str("reason", e.reason).Str("detail", e.detail).Msg("webhook rejected")
	}
	if e.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	body, _ := json.Marshal(struct {
		Error  string `json:"error"`
		Detail string `json:"detail,omitempty"`
	}{e.reason, e.detail})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	w.Write(append(body, '\n'))
}

func (wk *work) reset() {
	wk.msg.Data = nil
	// Events hold strings of the last message; drop them unless the slice
	// is small enough to be worth keeping.
	if cap(wk.events) > 4096 {
		wk.events = nil
	}
	if cap(wk.body) > 1<<20 {
		wk.body = nil
	}
	if cap(wk.plain) > 1<<20 {
		wk.plain = nil
	}
	if cap(wk.data) > 4<<20 {
		wk.data = nil
	}
}

var errTooLarge = errors.New("too large")

// readLimited appends r to dst, failing with errTooLarge past limit bytes.
func readLimited(dst []byte, r io.Reader, limit int64) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)) > limit {
			return dst, errTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

func (wk *work) gunzip(dst, src []byte, limit int64) ([]byte, error) {
	br := bytes.NewReader(src)
	if wk.gz == nil {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return dst, err
		}
		wk.gz = zr
	} else if err := wk.gz.Reset(br); err != nil {
		return dst, err
	}
	return readLimited(dst, wk.gz, limit)
}

// syncmlType accepts the SyncML DM XML media type and generic XML types
// (some proxies rewrite it), with any parameters. WBXML is refused: the
// scanner reads XML only.
func syncmlType(ct string) bool {
	if ct == "application/vnd.syncml.dm+xml" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch mt {
	case "application/vnd.syncml.dm+xml", "application/vnd.syncml+xml", "application/xml", "text/xml":
		return true
	}
	return false
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// idGen makes request ids: a random process prefix and a counter.
type idGen struct {
	prefix string
	n      atomic.Uint64
}

func (g *idGen) init() {
	var b [4]byte
	rand.Read(b[:])
	g.prefix = hex.EncodeToString(b[:]) + "-"
}

func requestID(r *http.Request, g *idGen) string {
	if v := r.Header.Get(HeaderRequestID); v != "" && len(v) <= 128 {
		return v
	}
	if v := r.Header.Get(HeaderWebhookID); v != "" && len(v) <= 128 {
		return v
	}
	return g.prefix + strconv.FormatUint(g.n.Add(1), 10)
}
