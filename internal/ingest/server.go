package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/ops"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

// Server is the webhook service. It is safe for concurrent use; its handler
// serves any number of requests at once, bounded in what they publish by
// Config.MaxPending.
type Server struct {
	cfg   Config
	creds *Credentials
	nc    *nats.Conn
	js    jetstream.JetStream
	pub   *publisher
	log   zerolog.Logger
	m     *metrics
	mux   *http.ServeMux
	work  sync.Pool
	ids   idGen
	now   func() time.Time

	ready struct {
		sync.Mutex
		at  time.Time
		err error
	}
}

// New builds the service over a NATS connection. creds is nil only with
// cfg.Insecure, which makes every request tenant InsecureTenant.
func New(cfg Config, creds *Credentials, nc *nats.Conn, log zerolog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if creds == nil && !cfg.Insecure {
		return nil, errors.New("ingest: no credentials configured (set a credentials file, or run insecure for development)")
	}
	if creds != nil && cfg.Insecure {
		return nil, errors.New("ingest: credentials and insecure mode exclude each other")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("ingest: jetstream: %w", err)
	}
	pub, err := newPublisher(nc, cfg.MaxPending)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	s := &Server{cfg: cfg, creds: creds, nc: nc, js: js, pub: pub, log: log, now: time.Now}
	s.m = newMetrics(func() float64 { return float64(pub.pendingCount()) })
	s.ids.init()
	lim := cfg.Limits
	s.work.New = func() any { return &work{scanner: syncml.NewScanner(lim)} }
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/v1/syncml", s.handleSyncML)
	s.mux.HandleFunc("/v1/syncml/{tenant}", s.handleSyncML)
	// More specific than /v1/syncml/{tenant}, which no tenant named
	// "commands" can therefore use (ParseCredentials refuses the name).
	s.mux.HandleFunc("/v1/syncml/commands", s.handleCommands)
	s.mux.HandleFunc("/v1/syncml/commands/{tenant}", s.handleCommands)
	ops.Routes(s.mux, s.m.reg, s.Ready)
	return s, nil
}

// Handler returns the service's HTTP handler (all endpoints).
func (s *Server) Handler() http.Handler { return s.mux }

// Registry returns the service's Prometheus registry.
func (s *Server) Registry() *prometheus.Registry { return s.m.reg }

// HTTPServer returns an http.Server for the handler with timeouts against
// slow clients and a header size limit. WriteTimeout leaves room for the
// publish timeout.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      s.cfg.PublishTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// net/http's own complaints (TLS handshakes, bad requests) go to
		// the service log.
		ErrorLog: stdlog.New(s.log.With().Str("component", "http").Logger(), "", 0),
	}
}

// Serve answers on ln (with TLS when tlsCfg is not nil) until ctx ends, then
// shuts down gracefully: it stops accepting, lets the requests in flight
// finish (at most grace), and returns. The NATS connection is the caller's
// to drain afterwards.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsCfg *tls.Config, grace time.Duration) error {
	return ops.Serve(ctx, s.HTTPServer(), ln, tlsCfg, grace)
}

// Endpoints, the values of the requests counter's endpoint label.
const (
	endpointDevice   = "device"   // /v1/syncml: a device's message
	endpointCommands = "commands" // /v1/syncml/commands: the server's message to a device
)

// handleSyncML serves a device's message: its answers and alerts.
func (s *Server) handleSyncML(w http.ResponseWriter, r *http.Request) {
	s.handle(w, r, endpointDevice)
}

// handleCommands serves a message the MDM server sent to a device: its
// commands.
func (s *Server) handleCommands(w http.ResponseWriter, r *http.Request) {
	s.handle(w, r, endpointCommands)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, endpoint string) {
	start := s.now()
	s.m.inFlight.Inc()
	defer s.m.inFlight.Dec()

	reqID := requestID(r, &s.ids)
	w.Header().Set(HeaderRequestID, reqID)
	log := reqLog{base: &s.log, id: reqID, endpoint: endpoint}

	wk := s.work.Get().(*work)
	defer func() {
		wk.reset()
		s.work.Put(wk)
	}()

	status, res, aerr := s.process(r, wk, &log)
	s.m.requestLat.Observe(s.now().Sub(start).Seconds())
	if aerr != nil {
		s.fail(w, &log, aerr)
		return
	}
	s.m.answered(endpoint, status)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(res)
}

// process handles one webhook request; it returns the 200 body, valid until
// wk is reset, or the error to answer.
func (s *Server) process(r *http.Request, wk *work, log *reqLog) (int, []byte, *apiError) {
	if r.Method != http.MethodPost {
		return 0, nil, &apiError{http.StatusMethodNotAllowed, "method_not_allowed", "use POST"}
	}
	if ct := r.Header.Get("Content-Type"); !syncmlType(ct) {
		return 0, nil, &apiError{http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Content-Type " + strconv.Quote(clip(ct, 64)) + ", want application/vnd.syncml.dm+xml"}
	}
	gz := false
	switch ce := r.Header.Get("Content-Encoding"); ce {
	case "", "identity":
	case "gzip", "x-gzip":
		gz = true
	default:
		return 0, nil, &apiError{http.StatusUnsupportedMediaType, "unsupported_encoding",
			"Content-Encoding " + strconv.Quote(clip(ce, 64)) + ", want gzip or none"}
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return 0, nil, &apiError{http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("body of %d bytes, limit %d", r.ContentLength, s.cfg.MaxBodyBytes)}
	}
	var err error
	wk.body, err = readLimited(wk.body[:0], r.Body, s.cfg.MaxBodyBytes)
	if errors.Is(err, errTooLarge) {
		return 0, nil, &apiError{http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("body over the limit of %d bytes", s.cfg.MaxBodyBytes)}
	}
	if err != nil {
		return 0, nil, &apiError{http.StatusBadRequest, "read_error", "reading the body: " + err.Error()}
	}

	// Authenticate on the raw bytes, before any decompression or parsing.
	tenant := InsecureTenant
	if s.creds != nil {
		t, aerr := s.creds.authenticate(r.Header, r.PathValue("tenant"), wk.body, s.now(), s.cfg.Tolerance)
		if aerr != nil {
			log.with(log.base.Warn()).Str("reason", aerr.reason).Str("path_tenant", clip(r.PathValue("tenant"), 64)).
				Str("remote", r.RemoteAddr).Msg("webhook not authenticated")
			s.m.rejected.WithLabelValues(aerr.reason).Inc()
			return 0, nil, &apiError{http.StatusUnauthorized, aerr.public, aerr.detail}
		}
		tenant = t
	} else if pt := r.PathValue("tenant"); pt != "" && pt != InsecureTenant {
		return 0, nil, &apiError{http.StatusNotFound, "unknown_tenant",
			"insecure mode serves only tenant " + InsecureTenant}
	}
	log.tenant = tenant

	data := wk.body
	if gz {
		wk.plain, err = wk.gunzip(wk.plain[:0], wk.body, s.cfg.MaxDecompressedBytes)
		switch {
		case errors.Is(err, errTooLarge):
			return 0, nil, &apiError{http.StatusRequestEntityTooLarge, "decompressed_too_large",
				fmt.Sprintf("gzip body decompresses beyond %d bytes", s.cfg.MaxDecompressedBytes)}
		case err != nil:
			return 0, nil, &apiError{http.StatusBadRequest, "bad_gzip", err.Error()}
		}
		data = wk.plain
	}

	meta := normalize.Meta{Tenant: tenant, ReceivedAt: s.now()}
	if v := r.Header.Get(HeaderReceivedAt); v != "" {
		if len(v) > 64 {
			return 0, nil, &apiError{http.StatusBadRequest, "bad_header", HeaderReceivedAt + " longer than 64 bytes"}
		}
		meta.MDMReceivedAt = v
	}
	if v := r.Header.Get(HeaderGenericAlert); v != "" {
		if len(v) > 1024 {
			return 0, nil, &apiError{http.StatusBadRequest, "bad_header", HeaderGenericAlert + " longer than 1024 bytes"}
		}
		meta.GenericAlert = v
	}

	msg, err := wk.scanner.Parse(data)
	if err != nil {
		var se *syncml.Error
		if errors.As(err, &se) {
			s.m.parseErrors.WithLabelValues(string(se.Reason)).Inc()
			return 0, nil, &apiError{http.StatusBadRequest, string(se.Reason), se.Error()}
		}
		s.m.parseErrors.WithLabelValues("other").Inc()
		return 0, nil, &apiError{http.StatusBadRequest, "malformed", err.Error()}
	}
	var st normalize.Stats
	if log.endpoint == endpointCommands {
		// The server's message names the device in SyncHdr/Target.
		if len(msg.Header.Target) == 0 {
			s.m.parseErrors.WithLabelValues(string(syncml.ReasonNoDevice)).Inc()
			return 0, nil, &apiError{http.StatusBadRequest, string(syncml.ReasonNoDevice),
				"a server's message names the device in SyncHdr/Target/LocURI, which is missing or empty"}
		}
		log.device = msg.Header.Target
		wk.events, st = wk.builder.BuildCommands(msg, meta, wk.events[:0])
		if st.PayloadRejected > 0 {
			s.payloadRejected(wk.events, log)
		}
	} else {
		log.device = msg.Header.Source
		wk.events, st = wk.builder.BuildTransient(msg, meta, wk.events[:0])
	}
	s.m.skipped.Add(float64(st.Skipped))

	dups, perr := s.publish(r.Context(), wk)
	if perr != nil {
		return 0, nil, perr
	}
	s.countEvents(wk.events)
	s.m.duplicates.Add(float64(dups))

	// Event ids hash the command's and the item's position in the message,
	// so no two events of one message share an id: every duplicate is one
	// JetStream already held, and events = new + duplicates.
	fresh := len(wk.events) - dups
	if e := s.accessEvent(log); e != nil {
		e.Int("events", len(wk.events)).Int("new", fresh).Int("duplicates", dups).Int("skipped", st.Skipped).
			Int("bytes", len(wk.body)).Msg("webhook accepted")
	}
	// The body goes into wk's buffer, not a fresh slice: handleSyncML writes
	// it before wk returns to the pool, so once the buffer has grown the
	// answer allocates nothing.
	res := append(wk.res[:0], `{"events":`...)
	res = strconv.AppendInt(res, int64(len(wk.events)), 10)
	res = append(res, `,"new":`...)
	res = strconv.AppendInt(res, int64(fresh), 10)
	res = append(res, `,"duplicates":`...)
	res = strconv.AppendInt(res, int64(dups), 10)
	res = append(res, `,"skipped":`...)
	res = strconv.AppendInt(res, int64(st.Skipped), 10)
	res = append(res, "}\n"...)
	wk.res = res
	return http.StatusOK, res, nil
}

// payloadRejected counts and logs the install documents of a server's
// message that were rejected: their commands are published all the same,
// with payload_error.
func (s *Server) payloadRejected(evs []event.Event, log *reqLog) {
	for i := range evs {
		e := &evs[i]
		if e.PayloadError == "" {
			continue
		}
		s.m.payloadRejected.WithLabelValues(e.PayloadError).Inc()
		log.with(log.base.Warn()).Str("reason", e.PayloadError).Str("command", e.Command).Str("cmd_id", clip(e.CmdIDRaw, 64)).
			Str("loc_uri", clip(e.LocURI, 256)).Msg("install document rejected")
	}
}

func (s *Server) accessEvent(log *reqLog) *zerolog.Event {
	if s.cfg.AccessLog {
		return log.with(log.base.Info())
	}
	return log.with(log.base.Debug())
}

var errNotConnected = errors.New("nats not connected")

// publish publishes the events of wk asynchronously, each with its event_id
// as Nats-Msg-Id, and waits for every acknowledgement. It returns how many
// JetStream reported as duplicates.
func (s *Server) publish(ctx context.Context, wk *work) (int, *apiError) {
	if len(wk.events) == 0 {
		return 0, nil
	}
	if !s.nc.IsConnected() {
		return 0, s.unavailable("nats_disconnected", errNotConnected)
	}
	wk.data = wk.data[:0]
	wk.ends = wk.ends[:0]
	for i := range wk.events {
		wk.data = wk.enc.AppendJSON(wk.data, &wk.events[i])
		wk.ends = append(wk.ends, len(wk.data))
	}
	begin := time.Now()
	deadline := begin.Add(s.cfg.PublishTimeout)
	if wk.subjects == nil || len(wk.subjects) > 1024 {
		wk.subjects = map[string]string{}
		wk.msgID = []string{""}
		wk.msg.Header = nats.Header{bus.MsgIDHeader: wk.msgID}
	}
	b := &wk.batch
	b.start()
	prev := 0
	for i := range wk.events {
		e := &wk.events[i]
		wk.subj = e.AppendSubject(wk.subj[:0])
		subj, ok := wk.subjects[string(wk.subj)]
		if !ok {
			subj = string(wk.subj)
			wk.subjects[subj] = subj
		}
		wk.msg.Subject = subj
		wk.msg.Data = wk.data[prev:wk.ends[i]]
		wk.msgID[0] = e.EventID
		prev = wk.ends[i]
		var err error
		// The connection copies the message before publish returns, so
		// wk's buffers are free again once publish has returned.
		if wk.reply, err = s.pub.publish(b, &wk.msg, deadline, wk.reply); err != nil {
			s.pub.abandon(b)
			switch {
			case errors.Is(err, errBackpressure):
				return 0, s.unavailable("backpressure", err)
			case errors.Is(err, context.DeadlineExceeded):
				return 0, s.unavailable("timeout", err)
			}
			return 0, s.unavailable("publish", err)
		}
	}
	s.pub.seal(b)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-b.done:
	case <-timer.C:
		s.pub.abandon(b)
		return 0, s.unavailable("timeout", context.DeadlineExceeded)
	case <-ctx.Done():
		s.pub.abandon(b)
		return 0, s.unavailable("client_gone", ctx.Err())
	}
	dups, err := s.pub.result(b)
	if err != nil {
		cause := "nack"
		switch {
		case errors.Is(err, nats.ErrDisconnected):
			cause = "nats_disconnected"
		case errors.Is(err, errNoResponders):
			cause = "no_stream"
		}
		return 0, s.unavailable(cause, err)
	}
	s.m.publishLat.Observe(time.Since(begin).Seconds())
	return dups, nil
}

func (s *Server) unavailable(cause string, err error) *apiError {
	s.m.publishErrs.WithLabelValues(cause).Inc()
	return &apiError{http.StatusServiceUnavailable, "publish_failed", cause + ": " + err.Error()}
}

func (s *Server) countEvents(evs []event.Event) {
	var n [len(kinds)][len(outcomes)]int
	for i := range evs {
		n[kindIndex(evs[i].Kind)][outcomeIndex(evs[i].Outcome)]++
	}
	for i := range n {
		for j, c := range n[i] {
			if c > 0 {
				s.m.eventCtr[i][j].Add(float64(c))
			}
		}
	}
}

// Ready reports why the service cannot publish, or nil: NATS must be
// connected and the stream must exist. The stream check is cached for two
// seconds so that probes cost no API call each; GET /readyz answers it.
func (s *Server) Ready(ctx context.Context) error {
	if !s.nc.IsConnected() {
		return errNotConnected
	}
	s.ready.Lock()
	defer s.ready.Unlock()
	if time.Since(s.ready.at) < 2*time.Second {
		return s.ready.err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := s.js.Stream(ctx, s.cfg.Stream)
	if err != nil {
		err = fmt.Errorf("stream %s: %w", s.cfg.Stream, err)
	}
	s.ready.at, s.ready.err = time.Now(), err
	return err
}
