package daemon

import (
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/metrics"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/proxy"
)

// metricsFiles lists the certificates and CRLs that s, built from cfg,
// holds, for the expiry gauges: the chains it presents and the CA bundle
// it trusts, in either mode.
func metricsFiles(cfg *config.Config, s *proxy.Snapshot) metrics.Files {
	f := metrics.Files{CAFile: cfg.CACertPath}
	if c := s.Client; c != nil {
		f.Served, f.Trusted = c.Chains, c.Roots
		if c.Peer != nil {
			f.CRLs = c.Peer.CRLs
		}
		return f
	}
	f.Served, f.Trusted = s.TLS.Chains, s.TLS.Roots
	if s.TLS.Peer != nil {
		f.CRLs = s.TLS.Peer.CRLs
	}
	return f
}

// The metrics are the proxy's Observer.
var _ proxy.Observer = (*metrics.Metrics)(nil)

// traffic reads the proxy's byte counts for the metrics.
func traffic(p *proxy.Proxy) func() metrics.Traffic {
	return func() metrics.Traffic {
		t := p.Traffic()
		return metrics.Traffic{PQ: metrics.Bytes(t.PQ), Classical: metrics.Bytes(t.Classical)}
	}
}
