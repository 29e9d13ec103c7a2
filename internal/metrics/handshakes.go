package metrics

import (
	"crypto/tls"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// handshakes counts completed handshakes by TLS version, group, served
// certificate algorithm and resumption: one atomic counter for each
// combination of the fixed label lists (3 x 10 x 12 x 2 = 720 of them),
// so that counting a handshake is an array index and an atomic add, with
// no lookup by label. A combination appears in the exposition once it
// has counted a handshake: most never will.
type handshakes struct {
	desc *prometheus.Desc
	n    []atomic.Uint64
}

func newHandshakes() *handshakes {
	return &handshakes{
		desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "handshakes_total"),
			"TLS handshakes completed, by TLS version, key exchange group, whether that group is post-quantum, the key algorithm of the certificate that authenticated the server, and whether the session resumed.",
			[]string{"tls_version", "group", "pq", "cert_alg", "resumed"}, nil),
		n: make([]atomic.Uint64, len(versions)*len(groupNames)*len(algorithms)*2),
	}
}

// add counts the handshake cs, whose server certificate's key is alg.
func (h *handshakes) add(cs *tls.ConnectionState, alg string) {
	i := ((versionIndex(cs.Version)*len(groupNames)+groupIndex(cs.CurveID))*len(algorithms)+index(algorithmIndex, alg))*2 + b2i(cs.DidResume)
	h.n[i].Add(1)
}

func (h *handshakes) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

func (h *handshakes) Collect(ch chan<- prometheus.Metric) {
	for i := range h.n {
		n := h.n[i].Load()
		if n == 0 {
			continue
		}
		resumed := i % 2
		a := i / 2 % len(algorithms)
		g := i / 2 / len(algorithms) % len(groupNames)
		v := i / 2 / len(algorithms) / len(groupNames)
		pq := g < len(groups) && tlsconf.IsPQ(groups[g])
		ch <- prometheus.MustNewConstMetric(h.desc, prometheus.CounterValue, float64(n),
			versions[v], groupNames[g], strconv.FormatBool(pq), algorithms[a], strconv.FormatBool(resumed == 1))
	}
}
