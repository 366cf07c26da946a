package ingest

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/ops"
)

// metrics are the service's Prometheus series, on a registry of its own so
// that several servers (tests, the load generator) live in one process.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	rejected *prometheus.CounterVec
	// payloadRejected counts the install documents of server messages
	// that package installjob rejected, by reason.
	payloadRejected *prometheus.CounterVec
	parseErrors     *prometheus.CounterVec
	events          *prometheus.CounterVec
	duplicates      prometheus.Counter
	skipped         prometheus.Counter
	publishErrs     *prometheus.CounterVec
	publishLat      prometheus.Histogram
	requestLat      prometheus.Histogram
	inFlight        prometheus.Gauge

	// eventCtr caches the events counter of every (kind, outcome), so that
	// the hot path does no label lookup.
	eventCtr [len(kinds)][len(outcomes)]prometheus.Counter
	// status caches the requests counter of the statuses the service
	// answers, by endpoint.
	status map[string]map[int]prometheus.Counter
}

var (
	kinds    = [...]string{event.KindAlert, event.KindResult, event.KindStatus, event.KindInventory, event.KindCommand, "other"}
	outcomes = [...]string{"succeeded", "failed", "in_progress", "pending", "retrying", "unknown", event.OutcomeRequested, "other"}
	// publishCauses are the causes of the publish errors counter (see
	// Server.unavailable), exported at 0 from the start so that a rate over
	// them sees the first 503 (deploy/prometheus alerts on them).
	publishCauses = [...]string{"nats_disconnected", "backpressure", "timeout", "publish", "client_gone", "nack", "no_stream"}
)

func kindIndex(k string) int {
	for i, s := range kinds[:len(kinds)-1] {
		if s == k {
			return i
		}
	}
	return len(kinds) - 1
}

func outcomeIndex(o string) int {
	for i, s := range outcomes[:len(outcomes)-1] {
		if s == o {
			return i
		}
	}
	return len(outcomes) - 1
}

func newMetrics(pendingFn func() float64) *metrics {
	reg := ops.NewRegistry()
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cspwatch_ingest_requests_total",
			Help: "Webhook requests answered, by endpoint (device: /v1/syncml, commands: /v1/syncml/commands) and HTTP status.",
		}, []string{"endpoint", "status"}),
		payloadRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cspwatch_ingest_payload_rejected_total",
			Help: "Install documents (MsiInstallJob, Office configuration) of server commands rejected, by reason; the command is published with payload_error.",
		}, []string{"reason"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cspwatch_ingest_rejected_total", Help: "Requests refused with a 4xx, by reason.",
		}, []string{"reason"}),
		parseErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cspwatch_ingest_parse_errors_total", Help: "SyncML messages the scanner rejected, by reason.",
		}, []string{"reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cspwatch_ingest_events_total", Help: "Install events acknowledged by JetStream (duplicates included), by kind and outcome.",
		}, []string{"kind", "outcome"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cspwatch_ingest_duplicate_events_total", Help: "Events JetStream acknowledged as duplicates of ones it already held (retried webhooks).",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cspwatch_ingest_skipped_items_total", Help: "SyncML commands and items that yield no install event.",
		}),
		publishErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cspwatch_ingest_publish_errors_total", Help: "Requests answered 503 because publishing failed, by cause.",
		}, []string{"cause"}),
		publishLat: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cspwatch_ingest_publish_seconds",
			Help:    "Time from the first publish of a message's events to the last acknowledgement.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		requestLat: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cspwatch_ingest_request_seconds",
			Help:    "Time to answer a webhook request, from its headers to the answer.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cspwatch_ingest_in_flight_requests", Help: "Webhook requests being handled.",
		}),
	}
	reg.MustRegister(m.requests, m.rejected, m.payloadRejected, m.parseErrors, m.events, m.duplicates, m.skipped,
		m.publishErrs, m.publishLat, m.requestLat, m.inFlight,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cspwatch_ingest_publish_pending", Help: "Events published and not yet acknowledged, across all requests.",
		}, pendingFn))
	for i, k := range kinds {
		for j, o := range outcomes {
			m.eventCtr[i][j] = m.events.WithLabelValues(k, o)
		}
	}
	for _, c := range publishCauses {
		m.publishErrs.WithLabelValues(c)
	}
	m.status = map[string]map[int]prometheus.Counter{}
	for _, e := range []string{"device", "commands"} {
		m.status[e] = map[int]prometheus.Counter{}
		for _, s := range []int{200, 400, 401, 404, 405, 413, 415, 500, 503} {
			m.status[e][s] = m.requests.WithLabelValues(e, strconv.Itoa(s))
		}
	}
	return m
}

func (m *metrics) answered(endpoint string, status int) {
	if c, ok := m.status[endpoint][status]; ok {
		c.Inc()
		return
	}
	m.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
}
