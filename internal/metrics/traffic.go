package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Bytes are plaintext bytes forwarded each way, named from the proxy's
// side: from the connection it accepted to the one it dialed, and back.
type Bytes struct {
	ClientToBackend, BackendToClient int64
}

// Traffic is bytes forwarded over connections whose key exchange was
// post-quantum, and over the others.
type Traffic struct {
	PQ, Classical Bytes
}

// traffic reports bytes_total from the proxy's own counts, read when
// scraped: each connection counts its bytes with an atomic add per write
// and the proxy sums open and closed connections on demand (its Traffic
// method), so a long transfer shows its progress and the data path pays
// nothing more for metrics.
type traffic struct {
	desc   *prometheus.Desc
	source atomic.Pointer[func() Traffic]
}

// SetTraffic makes bytes_total report what source says; until it is set
// (before the proxy starts) the bytes are 0. source must not decrease.
func (m *Metrics) SetTraffic(source func() Traffic) {
	m.traffic.source.Store(&source)
}

func newTraffic() *traffic {
	return &traffic{desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "bytes_total"),
		"Plaintext bytes forwarded, by direction (from the accepted connection to the dialed one, and back) and by whether the connection's key exchange was post-quantum: pq=\"false\" is what a recording could give up to a future quantum computer. Counted as the bytes move.",
		[]string{"direction", "pq"}, nil)}
}

func (t *traffic) Describe(ch chan<- *prometheus.Desc) { ch <- t.desc }

func (t *traffic) Collect(ch chan<- prometheus.Metric) {
	var now Traffic
	if f := t.source.Load(); f != nil {
		now = (*f)()
	}
	d := t.desc
	for _, s := range []struct {
		b  Bytes
		pq string
	}{{now.PQ, "true"}, {now.Classical, "false"}} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(s.b.ClientToBackend), "client_to_backend", s.pq)
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(s.b.BackendToClient), "backend_to_client", s.pq)
	}
}
