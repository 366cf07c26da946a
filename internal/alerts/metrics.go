package alerts

import "github.com/prometheus/client_golang/prometheus"

// engineMetrics are the engine's Prometheus series (cspwatch_alerts_*);
// every label value is created at start so that rates read 0, not absent.
type engineMetrics struct {
	fired, resolved *prometheus.CounterVec
	deliveries      *prometheus.CounterVec
	resends         *prometheus.CounterVec
	errors          *prometheus.CounterVec
	claimsLost      prometheus.Counter
	buckets         prometheus.Counter
	open            prometheus.Gauge
}

func newEngineMetrics(reg prometheus.Registerer) *engineMetrics {
	const ns, sub = "cspwatch", "alerts"
	m := &engineMetrics{
		fired: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "fired_total",
			Help: "Spike alerts fired and claimed by this replica, by level (code, product); summed over replicas it is the number of alerts."}, []string{"level"}),
		resolved: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "resolved_total",
			Help: "Spike alerts resolved and claimed by this replica, by level."}, []string{"level"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "deliveries_total",
			Help: "Alert deliveries by sink and result: delivered; retried (a failed try another follows); failed (retried at the next bucket); abandoned (refused for good, or older than the retention)."},
			[]string{"sink", "result"}),
		resends: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "resends_total",
			Help: "Periodic resends of the open (and recently resolved) alerts to a sink that forgets alerts not sent again (Alertmanager), by sink and result: sent, failed (sent again at the next bucket)."},
			[]string{"sink", "result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "Detector errors by stage (start, source, state, claim, name); each is retried, and an alert not named is delivered with what the events said."}, []string{"stage"}),
		claimsLost: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "claims_lost_total",
			Help: "Transitions another replica claimed first (expected with several replicas)."}),
		buckets: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "buckets_evaluated_total",
			Help: "Closed buckets read from ClickHouse and evaluated after start."}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "open",
			Help: "Alerts open in this replica's detector."}),
	}
	for _, l := range []Level{LevelCode, LevelProduct} {
		m.fired.WithLabelValues(string(l))
		m.resolved.WithLabelValues(string(l))
	}
	for _, s := range []string{"start", "source", "state", "claim", "name"} {
		m.errors.WithLabelValues(s)
	}
	if reg != nil {
		reg.MustRegister(m.fired, m.resolved, m.deliveries, m.resends, m.errors, m.claimsLost, m.buckets, m.open)
	}
	return m
}

func (m *engineMetrics) initSink(name string, resends bool) {
	for _, r := range []string{"delivered", "retried", "failed", "abandoned"} {
		m.deliveries.WithLabelValues(name, r)
	}
	if resends {
		m.resends.WithLabelValues(name, "sent")
		m.resends.WithLabelValues(name, "failed")
	}
}
