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

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "cspwatch", "aggregator"
	m := &metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "batches_total",
			Help: "Insert attempts by result (inserted, failed)."}, []string{"result"}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rows_inserted_total",
			Help: "Rows inserted into install_events."}),
		acked: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "messages_acked_total",
			Help: "Messages acknowledged after their batch was stored."}),
		insertSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "insert_duration_seconds",
			Help: "Time spent in successful batch inserts: sending the blocks of a streamed insert plus its commit (not the wait for the next block).", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		insertErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "insert_errors_total",
			Help: "Failed insert attempts by class (retryable, permanent)."}, []string{"class"}),
		redeliveries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "redeliveries_total",
			Help: "Messages received with a delivery count above 1."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "duplicates_dropped_total",
			Help: "Events dropped before insert: an event_id repeated within a batch, or (with --check-all) found already stored."}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "dead_letters_total",
			Help: "Messages moved to the dead-letter stream, by reason (decode, max_deliveries)."}, []string{"reason"}),
		giveUpStored: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "max_deliveries_stored_total",
			Help: "Messages the server gave up on after --max-deliver deliveries whose event ClickHouse held already: not dead-lettered."}),
		clickhouseUp: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "clickhouse_up",
			Help: "1 when ClickHouse answered the last ping within --ready-timeout, else 0."}),
		inProgress: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "in_progress_rounds_total",
			Help: "Rounds of InProgress sent for held batches (every AckWait/3 from a batch opening until its acknowledgement)."}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "consumer_pending_messages",
			Help: "Consumer lag: messages in the stream not yet delivered to the consumer (NumPending)."}),
		ackPending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "consumer_ack_pending_messages",
			Help: "Messages delivered and not yet acknowledged, across all processes."}),
	}
	for _, r := range []string{"inserted", "failed"} {
		m.batches.WithLabelValues(r)
	}
	for _, c := range []string{"retryable", "permanent"} {
		m.insertErrors.WithLabelValues(c)
	}
	for _, r := range []string{"decode", "max_deliveries"} {
		m.deadLetters.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.batches, m.rows, m.acked, m.insertSeconds, m.insertErrors, m.redeliveries,
			m.duplicates, m.deadLetters, m.giveUpStored, m.clickhouseUp, m.inProgress, m.pending, m.ackPending)
	}
	return m
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
