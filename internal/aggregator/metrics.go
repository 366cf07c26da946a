package aggregator

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	batches       *prometheus.CounterVec
	rows          prometheus.Counter
	acked         prometheus.Counter
	insertSeconds prometheus.Histogram
	insertErrors  *prometheus.CounterVec
	redeliveries  prometheus.Counter
	duplicates    prometheus.Counter
	deadLetters   *prometheus.CounterVec
	giveUpStored  prometheus.Counter
	clickhouseUp  prometheus.Gauge
	inProgress    prometheus.Counter
	pending       prometheus.Gauge
	ackPending    prometheus.Gauge
}

// newMetrics builds the aggregator's metrics, each labelled series created
// at zero so that dashboards see it before the first event, and registers
// them with reg unless it is nil.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		batches: counterVec("batches_total", "Insert attempts by result (inserted, failed).",
			"result", "inserted", "failed"),
		rows:  counter("rows_inserted_total", "Rows inserted into install_events."),
		acked: counter("messages_acked_total", "Messages acknowledged after their batch was stored."),
		insertSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
			Name:    "insert_duration_seconds",
			Help:    "Time spent in successful batch inserts: sending the blocks of a batch's INSERT plus its commit (not the wait for the next block).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		insertErrors: counterVec("insert_errors_total", "Failed insert attempts by class (retryable, permanent).",
			"class", "retryable", "permanent"),
		redeliveries: counter("redeliveries_total", "Messages received with a delivery count above 1."),
		duplicates: counter("duplicates_dropped_total",
			"Events dropped before insert: an event_id repeated within a batch, or (with --check-all) found already stored."),
		deadLetters: counterVec("dead_letters_total", "Messages moved to the dead-letter stream, by reason (decode, max_deliveries).",
			"reason", "decode", "max_deliveries"),
		giveUpStored: counter("max_deliveries_stored_total",
			"Messages the server gave up on after --max-deliver deliveries whose event ClickHouse held already: not dead-lettered."),
		clickhouseUp: gauge("clickhouse_up", "1 when ClickHouse answered the last ping within --ready-timeout, else 0."),
		inProgress: counter("in_progress_rounds_total",
			"InProgress rounds sent, one per held batch or fetched chunk every AckWait/3 (a batch is held from its opening until its acknowledgement)."),
		pending: gauge("consumer_pending_messages",
			"Consumer lag: messages in the stream not yet delivered to the consumer (NumPending)."),
		ackPending: gauge("consumer_ack_pending_messages", "Messages delivered and not yet acknowledged, across all processes."),
	}
	if reg != nil {
		reg.MustRegister(m.batches, m.rows, m.acked, m.insertSeconds, m.insertErrors, m.redeliveries,
			m.duplicates, m.deadLetters, m.giveUpStored, m.clickhouseUp, m.inProgress, m.pending, m.ackPending)
	}
	return m
}

// The aggregator's metrics are named cspwatch_aggregator_*.
const metricsNamespace, metricsSubsystem = "cspwatch", "aggregator"

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help})
}

func gauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help})
}

// counterVec is a counter with one label, whose values are created at zero.
func counterVec(name, help, label string, values ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help}, []string{label})
	for _, value := range values {
		v.WithLabelValues(value)
	}
	return v
}

// watchLag refreshes the consumer lag gauges every interval until ctx ends.
func (a *Aggregator) watchLag(ctx context.Context, cons jetstream.Consumer, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ictx, cancel := context.WithTimeout(ctx, every)
		info, err := cons.Info(ictx)
		cancel()
		if err == nil {
			a.m.pending.Set(float64(info.NumPending))
			a.m.ackPending.Set(float64(info.NumAckPending))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
