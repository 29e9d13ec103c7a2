package metrics

import (
	"crypto/x509"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
)

// Files are the certificates and CRLs of the configuration in force,
// for the expiry gauges. Their label values come from the operator's
// files, never from a peer.
type Files struct {
	// Served are the chains this proxy presents: its server chains, or
	// in client mode its client certificates. Every certificate of each
	// chain is reported, intermediates too.
	Served []*certs.Chain
	// Trusted are the CA certificates of CAFile (ca_cert_path): client
	// CAs, or in client mode the server's.
	CAFile  string
	Trusted []*x509.Certificate
	// CRLs are those of crl_files.
	CRLs []*certs.CRL
}

// files reports the expiry gauges of the [Files] last set. A set replaces
// the whole list, so the series of a removed file or certificate go with
// it.
type files struct {
	notAfter, nextUpdate *prometheus.Desc
	now                  atomic.Pointer[[]prometheus.Metric]
}

func newFiles() *files {
	return &files{
		notAfter: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "certificate_not_after_timestamp_seconds"),
			"When a certificate expires (Unix time): each certificate of each chain presented (role served) and of the CA bundle (role trusted), by file, subject and key algorithm.",
			[]string{"role", "file", "subject", "algorithm"}, nil),
		nextUpdate: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "crl_next_update_timestamp_seconds"),
			"When a CRL of crl_files is due to be replaced (its nextUpdate, Unix time); past it, certificates its issuer signed are refused unless unsafe_allow_expired_crl is set.",
			[]string{"file", "issuer"}, nil),
	}
}

// SetFiles makes the expiry gauges describe f: at start and on every
// reload that succeeds.
func (m *Metrics) SetFiles(f Files) {
	var s series
	for _, ch := range f.Served {
		for _, der := range ch.TLS.Certificate {
			c, err := x509.ParseCertificate(der) // it parsed when loaded
			if err != nil {
				continue
			}
			s.add(m.files.notAfter, c.NotAfter, "served", ch.CertPath, c.Subject.String(), certs.Algorithm(c.PublicKey))
		}
	}
	for _, c := range f.Trusted {
		s.add(m.files.notAfter, c.NotAfter, "trusted", f.CAFile, c.Subject.String(), certs.Algorithm(c.PublicKey))
	}
	for _, crl := range f.CRLs {
		if crl.List.NextUpdate.IsZero() { // optional in X.509 (RFC 5280, Section 5.1.2.5)
			continue
		}
		issuer := crl.List.Issuer.String()
		if crl.Issuer != nil {
			issuer = crl.Issuer.Subject.String()
		}
		s.add(m.files.nextUpdate, crl.List.NextUpdate, crl.Path, issuer)
	}
	out := s.metrics()
	m.files.now.Store(&out)
}

func (f *files) Describe(ch chan<- *prometheus.Desc) {
	ch <- f.notAfter
	ch <- f.nextUpdate
}

func (f *files) Collect(ch chan<- prometheus.Metric) {
	if now := f.now.Load(); now != nil {
		for _, m := range *now {
			ch <- m
		}
	}
}

// series gathers gauges by label values. Two with the same labels (a
// certificate twice in a bundle, two CRLs of one issuer in a file) would
// make the scrape fail, so they are one series with the earlier time:
// the one that runs out first.
type series struct {
	keys []string
	vals []seriesVal
}

type seriesVal struct {
	desc   *prometheus.Desc
	t      time.Time
	labels []string
}

func (s *series) add(desc *prometheus.Desc, t time.Time, labels ...string) {
	key := desc.String() + "\x00" + strings.Join(labels, "\x00")
	for i, k := range s.keys {
		if k == key {
			if t.Before(s.vals[i].t) {
				s.vals[i].t = t
			}
			return
		}
	}
	s.keys = append(s.keys, key)
	s.vals = append(s.vals, seriesVal{desc, t, labels})
}

func (s *series) metrics() []prometheus.Metric {
	out := make([]prometheus.Metric, len(s.vals))
	for i, v := range s.vals {
		out[i] = prometheus.MustNewConstMetric(v.desc, prometheus.GaugeValue, float64(v.t.Unix()), v.labels...)
	}
	return out
}
