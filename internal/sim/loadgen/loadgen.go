// Package loadgen replays SyncML messages against an ingest service as an MDM
// server would (signed webhooks, keep-alive connections): each device
// message to /v1/syncml and, when it has one, the server's message it
// answers to /v1/syncml/commands. It measures what it achieves: messages
// and events acknowledged per second, latency percentiles and errors. It
// also measures the raw JetStream publish rate that ingest's rate is
// compared with, and the CPU an ingest process spends.
package loadgen

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cspwatch/cspwatch/internal/ingest"
	"github.com/cspwatch/cspwatch/internal/webhooksig"
)

// Message is one SyncML message a device sent, to post to /v1/syncml, and
// the server's message it answers, if any, to post to /v1/syncml/commands.
type Message struct {
	DeviceID     string
	Body         []byte
	GenericAlert bool
	// Events is how many install events the message should yield; 0 when
	// unknown.
	Events int
	// Command is the message the MDM server sent the device, which Body
	// answers; nil when there is none. It is posted first, as an MDM
	// server hands over what it sends before what it receives in answer,
	// unless CommandLate is set: then after Body, as a server whose copy of
	// its own message was delayed does. Either is a request of its own.
	Command     []byte
	CommandLate bool
}

// Source yields the messages to send. Next is called from one goroutine at
// a time.
type Source func() Message

// Config says where and how hard to send.
type Config struct {
	// URL is the ingest base URL, e.g. http://127.0.0.1:8080.
	URL string
	// Tenant, with Secret (HMAC, Standard Webhooks) or Token (bearer). With
	// neither, requests go unauthenticated to /v1/syncml (insecure ingest).
	Tenant, Secret, Token string
	// Workers is the number of concurrent clients.
	Workers int
	// Rate is the target of device messages per second over all workers,
	// each with the server's message it answers; 0 sends as fast as the
	// workers go.
	Rate float64
	// Duration and Count bound the run; whichever comes first ends it. At
	// least one is set. Count counts device messages.
	Duration time.Duration
	Count    int64
	// Gzip compresses bodies (Content-Encoding: gzip).
	Gzip bool
	// Retries is how often a message answered 503 or not answered is sent
	// again (same webhook-id, fresh signature), after RetryWait.
	Retries   int
	RetryWait time.Duration
	// Timeout bounds one request.
	Timeout time.Duration
	// FastClient sends plain-HTTP requests with a minimal HTTP/1.1 client
	// instead of net/http, so that the load generator takes less of a
	// machine it shares with the server it measures.
	FastClient bool
	// Progress, when set, receives a snapshot every ProgressEvery.
	Progress      func(Snapshot)
	ProgressEvery time.Duration
}

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	switch {
	case c.URL == "":
		return errors.New("loadgen: empty url")
	case c.Workers <= 0:
		return fmt.Errorf("loadgen: %d workers, want positive", c.Workers)
	case c.Rate < 0:
		return fmt.Errorf("loadgen: negative rate %v", c.Rate)
	case c.Duration <= 0 && c.Count <= 0:
		return errors.New("loadgen: set a duration or a count")
	case c.Secret != "" && c.Token != "":
		return errors.New("loadgen: secret and token exclude each other")
	case c.Secret != "" && c.Tenant == "":
		return errors.New("loadgen: a signed request needs a tenant")
	case c.Retries < 0:
		return errors.New("loadgen: negative retries")
	}
	return nil
}

// Snapshot is the progress of a run so far.
type Snapshot struct {
	Elapsed time.Duration
	// Messages are the device messages accepted, Commands the server
	// messages; Events are both kinds' events; Errors both kinds' failures.
	Messages, Commands, Events, Errors int64
	// MessageRate is device messages per second; EventRate, events.
	MessageRate, EventRate float64
}

// Result is what a run achieved.
type Result struct {
	Elapsed time.Duration
	// Messages answered 200 (device messages; Commands counts the server
	// messages), the events both carried and how many of those JetStream
	// already held. CommandEvents are the events of the server messages,
	// included in Events.
	Messages, Commands, Events, Duplicates int64
	CommandEvents                          int64
	// Errors counts messages of either kind given up on; ByStatus breaks
	// the failed attempts down by HTTP status (0: no answer).
	Errors   int64
	Retries  int64
	ByStatus map[int]int64
	// FirstErrors holds, by the same status, why the first attempt of
	// that kind failed: the transport error or the answer's body.
	FirstErrors map[int]string
	// Latency of the accepted messages' final attempts, either kind, from
	// when each was due to be sent (so that a saturated server's queueing
	// counts); the second message of a pair is due when the first is
	// answered.
	P50, P90, P99, Max time.Duration
	BytesSent          int64
}

// MessageRate is accepted device messages per second.
func (r Result) MessageRate() float64 { return float64(r.Messages) / r.Elapsed.Seconds() }

// EventRate is acknowledged events per second.
func (r Result) EventRate() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

// Run sends messages from next until the duration or count is reached or ctx
// ends, and reports what was achieved.
func Run(ctx context.Context, cfg Config, next Source) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 100 * time.Millisecond
	}
	tr := &http.Transport{
		MaxIdleConns:        cfg.Workers,
		MaxIdleConnsPerHost: cfg.Workers,
		MaxConnsPerHost:     cfg.Workers,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout}
	dev, cmd := endpoint{path: "/v1/syncml"}, endpoint{path: CommandsPath, command: true}
	if cfg.Tenant != "" {
		dev.path += "/" + cfg.Tenant
		cmd.path += "/" + cfg.Tenant
	}
	dev.url, cmd.url = cfg.URL+dev.path, cfg.URL+cmd.path
	if cfg.FastClient {
		if _, err := newRawConn(cfg.URL, cfg.Timeout); err != nil {
			return Result{}, err
		}
	}
	// Requests use reqCtx, so that those in flight when the duration ends
	// are answered rather than cancelled; ctx only stops sending new ones.
	reqCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}

	var (
		mu      sync.Mutex // guards next
		seq     atomic.Int64
		wg      sync.WaitGroup
		workers = make([]workerStats, cfg.Workers)
		start   = time.Now()
	)
	stopProgress := make(chan struct{})
	if cfg.Progress != nil && cfg.ProgressEvery > 0 {
		go func() {
			t := time.NewTicker(cfg.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-t.C:
					var s Snapshot
					for i := range workers {
						s.Messages += workers[i].messages.Load()
						s.Commands += workers[i].commands.Load()
						s.Events += workers[i].events.Load()
						s.Errors += workers[i].errors.Load()
					}
					s.Elapsed = time.Since(start)
					s.MessageRate = float64(s.Messages) / s.Elapsed.Seconds()
					s.EventRate = float64(s.Events) / s.Elapsed.Seconds()
					cfg.Progress(s)
				}
			}
		}()
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws := &workers[w]
			if cfg.FastClient {
				ws.raw, _ = newRawConn(cfg.URL, cfg.Timeout)
				defer ws.raw.close()
			}
			var gzBuf bytes.Buffer
			zw := gzip.NewWriter(&gzBuf)
			compress := func(b []byte) []byte {
				if !cfg.Gzip {
					return b
				}
				gzBuf.Reset()
				zw.Reset(&gzBuf)
				zw.Write(b)
				zw.Close()
				return slices.Clone(gzBuf.Bytes())
			}
			for ctx.Err() == nil {
				n := seq.Add(1)
				if cfg.Count > 0 && n > cfg.Count {
					return
				}
				due := time.Now()
				if cfg.Rate > 0 {
					due = start.Add(time.Duration(float64(n-1) / cfg.Rate * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						select {
						case <-time.After(d):
						case <-ctx.Done():
							return
						}
					}
				}
				mu.Lock()
				m := next()
				mu.Unlock()
				id := "lg_" + strconv.FormatInt(due.UnixNano(), 36) + "_" + strconv.FormatInt(n, 36)
				if m.Command != nil && !m.CommandLate {
					ws.send(reqCtx, ctx, client, cmd, &cfg, Message{DeviceID: m.DeviceID}, compress(m.Command), id+"_c", due)
					due = time.Now()
				}
				ws.send(reqCtx, ctx, client, dev, &cfg, m, compress(m.Body), id, due)
				if m.Command != nil && m.CommandLate {
					ws.send(reqCtx, ctx, client, cmd, &cfg, Message{DeviceID: m.DeviceID}, compress(m.Command), id+"_c", time.Now())
				}
			}
		}()
	}
	wg.Wait()
	close(stopProgress)
	elapsed := time.Since(start)

	r := Result{Elapsed: elapsed, ByStatus: map[int]int64{}, FirstErrors: map[int]string{}}
	var lat []time.Duration
	for i := range workers {
		w := &workers[i]
		r.Messages += w.messages.Load()
		r.Commands += w.commands.Load()
		r.Events += w.events.Load()
		r.CommandEvents += w.commandEvents
		r.Duplicates += w.dups
		r.Errors += w.errors.Load()
		r.Retries += w.retries
		r.BytesSent += w.bytes
		for s, c := range w.byStatus {
			r.ByStatus[s] += c
		}
		for s, e := range w.firstErr {
			if _, ok := r.FirstErrors[s]; !ok {
				r.FirstErrors[s] = e
			}
		}
		lat = append(lat, w.lat...)
	}
	slices.Sort(lat)
	r.P50, r.P90, r.P99 = pct(lat, 0.50), pct(lat, 0.90), pct(lat, 0.99)
	if len(lat) > 0 {
		r.Max = lat[len(lat)-1]
	}
	return r, nil
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// CommandsPath is ingest's endpoint for the messages an MDM server sends
// its devices; "/{tenant}" follows it as it follows /v1/syncml.
const CommandsPath = "/v1/syncml/commands"

// endpoint is where one kind of message goes.
type endpoint struct {
	path, url string
	command   bool
}

type workerStats struct {
	messages, commands, events, errors  atomic.Int64
	commandEvents, dups, retries, bytes int64
	byStatus                            map[int]int64
	firstErr                            map[int]string // by status: the first failure's reason
	lat                                 []time.Duration
	raw                                 *rawConn
	hdrs                                [][2]string
}

type answer struct {
	Events, Duplicates int64
}

// send posts one message, the device's or (to ep.command) the server's,
// with webhook-id id, and retries it as cfg says.
func (w *workerStats) send(ctx, stop context.Context, c *http.Client, ep endpoint, cfg *Config, m Message, body []byte, id string, due time.Time) {
	for attempt := 0; ; attempt++ {
		status, a, err := w.post(ctx, c, ep, cfg, m, body, id)
		if err == nil && status == http.StatusOK {
			if ep.command {
				w.commands.Add(1)
				w.commandEvents += a.Events
			} else {
				w.messages.Add(1)
			}
			w.events.Add(a.Events)
			w.dups += a.Duplicates
			w.lat = append(w.lat, time.Since(due))
			return
		}
		if w.byStatus == nil {
			w.byStatus, w.firstErr = map[int]int64{}, map[int]string{}
		}
		w.byStatus[status]++
		if _, seen := w.firstErr[status]; !seen {
			if err == nil {
				err = fmt.Errorf("HTTP %d", status)
			}
			w.firstErr[status] = err.Error()
		}
		retryable := status == http.StatusServiceUnavailable || status == 0
		if !retryable || attempt >= cfg.Retries || stop.Err() != nil {
			w.errors.Add(1)
			return
		}
		w.retries++
		select {
		case <-time.After(cfg.RetryWait):
		case <-stop.Done():
			w.errors.Add(1)
			return
		}
	}
}

func (w *workerStats) post(ctx context.Context, c *http.Client, ep endpoint, cfg *Config, m Message, body []byte, id string) (int, answer, error) {
	h := append(w.hdrs[:0], [2]string{"Content-Type", "application/vnd.syncml.dm+xml"})
	if cfg.Gzip {
		h = append(h, [2]string{"Content-Encoding", "gzip"})
	}
	if m.GenericAlert {
		h = append(h, [2]string{ingest.HeaderGenericAlert, "com.microsoft.mdm.win32csp_install"})
	}
	switch {
	case cfg.Secret != "":
		ts := time.Now().Unix()
		sig, err := webhooksig.SignSecret(cfg.Secret, id, ts, body)
		if err != nil {
			return 0, answer{}, err
		}
		h = append(h, [2]string{webhooksig.HeaderID, id},
			[2]string{webhooksig.HeaderTimestamp, strconv.FormatInt(ts, 10)},
			[2]string{webhooksig.HeaderSignature, sig})
	case cfg.Token != "":
		h = append(h, [2]string{"Authorization", "Bearer " + cfg.Token})
	}
	w.hdrs = h
	w.bytes += int64(len(body))

	var (
		status int
		b      []byte
	)
	if w.raw != nil {
		var err error
		if status, b, err = w.raw.do(ep.path, h, body); err != nil {
			return 0, answer{}, err
		}
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(body))
		if err != nil {
			return 0, answer{}, err
		}
		for _, kv := range h {
			req.Header.Set(kv[0], kv[1])
		}
		res, err := c.Do(req)
		if err != nil {
			return 0, answer{}, err
		}
		b, err = io.ReadAll(io.LimitReader(res.Body, 1<<16))
		res.Body.Close()
		if err != nil {
			return 0, answer{}, err
		}
		status = res.StatusCode
	}
	var a answer
	if status != http.StatusOK {
		return status, a, fmt.Errorf("HTTP %d: %s", status, snippet(b))
	}
	var ok1, ok2 bool
	a.Events, ok1 = jsonInt(b, `"events":`)
	a.Duplicates, ok2 = jsonInt(b, `"duplicates":`)
	if !ok1 || !ok2 {
		return 0, a, fmt.Errorf("answer %q: no events and duplicates", b)
	}
	return status, a, nil
}

// snippet is the start of an answer's body, for an error message.
func snippet(b []byte) string {
	const n = 200
	t := strings.TrimSpace(string(b[:min(len(b), n)]))
	if len(b) > n {
		t += "…"
	}
	if t == "" {
		return "(empty body)"
	}
	return t
}

// jsonInt reads the non-negative integer after key in ingest's flat answer
// object; a full JSON decode would cost the load generator more CPU than
// the figures it reads are worth.
func jsonInt(b []byte, key string) (int64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	j := i + len(key)
	k := j
	for k < len(b) && b[k] >= '0' && b[k] <= '9' {
		k++
	}
	v, err := strconv.ParseInt(string(b[j:k]), 10, 64)
	return v, err == nil
}
