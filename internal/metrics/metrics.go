// Package metrics keeps the proxy's Prometheus metrics: connections,
// handshakes (post-quantum or not), bytes forwarded, backend dials,
// reloads, certificate and CRL expiry, build information. README,
// "Metrics", lists every name, type and label value; they are stable.
//
// It is the only package that imports client_golang. The proxy reports
// to it as its Observer (proxy.Observer, whose methods here cost a few
// atomic adds on counters resolved in advance); bytes are read from the
// proxy's own counters when scraped (see [Metrics.SetTraffic]). It does
// not import package proxy, so that the proxy's tests can use it.
package metrics

import (
	"crypto/tls"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric name of this package.
const namespace = "quantum_safe_proxy"

// Histogram buckets, in seconds.
var (
	// handshakeBuckets span a resumed handshake on loopback (about
	// 0.3 ms: one X25519MLKEM768 exchange, no signature) to the default
	// handshake_timeout (10 s), in 1-2.5-5 steps; a full ML-DSA-65
	// handshake takes 0.7 to 1.2 ms of CPU (DESIGN.md, Performance).
	handshakeBuckets = []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// dialBuckets span a connect to a backend on the same host (tens of
	// microseconds) to past the default dial_timeout (5 s).
	dialBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
)

// Metrics holds every metric of one process, in a registry of its own
// (not the global default one, which any imported package could fill).
// Its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	accepted prometheus.Counter
	active   prometheus.Gauge
	closed   []prometheus.Counter // by closeReasons
	refused  []prometheus.Counter // by refuseReasons

	handshakes *handshakes
	shakeTime  [2]prometheus.Observer // by resumed: false, true

	dialFailures prometheus.Counter
	dialTime     prometheus.Observer

	reloads    [2]prometheus.Counter // ok, failed
	lastReload prometheus.Gauge
	traffic    *traffic
	files      *files
}

// New returns the metrics of a process whose version is version, with
// the Go runtime's and the process's own metrics (go_*, process_*) too.
func New(version string) *Metrics {
	m := newMetrics(version, runtime.Version())
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// newMetrics returns the metrics of this package alone, for a Go version
// given: a golden test pins their exposition.
func newMetrics(version, goVersion string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), handshakes: newHandshakes(), traffic: newTraffic(), files: newFiles()}
	f := factory{m.reg}
	m.accepted = f.counter("connections_accepted_total", "Connections accepted.")
	m.active = f.gauge("connections_active", "Connections open: accepted and not yet closed, in handshake, dialing or forwarding.")
	m.closed = f.counters("connections_closed_total", "Connections closed, by why they ended.", "reason", closeReasons)
	m.refused = f.counters("handshakes_refused_total", "TLS handshakes that failed, by reason.", "reason", refuseReasons)
	m.reg.MustRegister(m.handshakes)
	shake := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "handshake_duration_seconds",
		Help:    "Time from a client's first bytes (client mode: from the connection to the remote server) to the end of a TLS handshake that completed.",
		Buckets: handshakeBuckets,
	}, []string{"resumed"})
	m.reg.MustRegister(shake)
	m.shakeTime = [2]prometheus.Observer{shake.WithLabelValues("false"), shake.WithLabelValues("true")}
	m.dialFailures = f.counter("backend_dial_failures_total", "Dials to the backend (client mode: to the remote target) that failed.")
	dial := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "backend_dial_duration_seconds",
		Help:    "Time to connect to the backend (client mode: to the remote target), of dials that succeeded.",
		Buckets: dialBuckets,
	})
	m.reg.MustRegister(dial)
	m.dialTime = dial
	reloads := f.counters("reloads_total", "Reloads (SIGHUP, systemctl reload, a watched file changed), by result.", "result", []string{"ok", "failed"})
	m.reloads = [2]prometheus.Counter{reloads[0], reloads[1]}
	m.lastReload = f.gauge("last_reload_success_timestamp_seconds", "When the configuration in force was loaded: at start, or by the last reload that succeeded (Unix time).")
	m.reg.MustRegister(m.traffic, m.files)
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": goVersion},
	})
	build.Set(1)
	m.reg.MustRegister(build)
	return m
}

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	// ContinueOnError: a collector that fails must not hide the others.
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Gatherer gives the metrics for tests (prometheus/testutil).
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Accepted counts a connection accepted; see proxy.Observer.
func (m *Metrics) Accepted() {
	m.accepted.Inc()
	m.active.Inc()
}

// Closed counts a connection closed for reason.
func (m *Metrics) Closed(reason string) {
	m.closed[index(closeReasonIndex, reason)].Inc()
	m.active.Dec()
}

// Refused counts a handshake refused for reason.
func (m *Metrics) Refused(reason string) {
	m.refused[index(refuseReasonIndex, refuseLabel(reason))].Inc()
}

// Handshake counts a completed handshake and its duration.
func (m *Metrics) Handshake(cs *tls.ConnectionState, certAlg string, took time.Duration) {
	m.handshakes.add(cs, certAlg)
	m.shakeTime[b2i(cs.DidResume)].Observe(took.Seconds())
}

// Dialed counts a backend dial: its duration if it connected, a failure
// if not.
func (m *Metrics) Dialed(took time.Duration, ok bool) {
	if !ok {
		m.dialFailures.Inc()
		return
	}
	m.dialTime.Observe(took.Seconds())
}

// Loaded notes that a configuration went into force at t: at start.
func (m *Metrics) Loaded(t time.Time) {
	m.lastReload.Set(float64(t.UnixNano()) / 1e9)
}

// Reloaded counts a reload, and when ok notes that its configuration
// went into force at t.
func (m *Metrics) Reloaded(ok bool, t time.Time) {
	if !ok {
		m.reloads[1].Inc()
		return
	}
	m.reloads[0].Inc()
	m.Loaded(t)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// factory makes metrics of the namespace and registers them.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

// counters makes a counter with one label and returns it resolved for
// each of values, in order: every series exists from the start, at 0, so
// that the first increase shows in rate() and increase(), and counting
// needs no lookup by label.
func (f factory) counters(name, help, label string, values []string) []prometheus.Counter {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, []string{label})
	f.reg.MustRegister(vec)
	out := make([]prometheus.Counter, len(values))
	for i, v := range values {
		out[i] = vec.WithLabelValues(v)
	}
	return out
}
