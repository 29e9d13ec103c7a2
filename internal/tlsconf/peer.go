package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// PeerCheck is what a peer certificate must pass once crypto/tls has
// verified its chain: revocation (the CRLs of crl_files), then the allow
// rules. It is the client's certificate in server mode and the server's
// in client mode. Check runs from VerifyConnection, which crypto/tls
// calls on every handshake, resumed ones included, with the chains
// verified then or carried in the ticket; so a reload that revokes a
// peer or drops its rule refuses its next connection, resumed or not.
type PeerCheck struct {
	Allow Allow
	// CRLs are the revocation lists of crl_files, each with the CA
	// certificate (from ca_cert_path) whose key verified it.
	CRLs []*certs.CRL
	// AllowExpiredCRL is unsafe_allow_expired_crl: a CRL past its
	// nextUpdate still revokes what it lists, and refuses no one else.
	AllowExpiredCRL bool
	// revokedCAs are the CA certificates of ca_cert_path that a CRL of
	// their own issuer revokes, by their DER. crypto/tls ends a verified
	// chain at the first certificate of the CA file it reaches, so an
	// intermediate placed there (to have its CRL checked) is the chain's
	// anchor, and its own revocation would never be looked up along the
	// chain: a client that sends its leaf alone would pass.
	revokedCAs map[string]*RevokedError
	// now is the clock of the checks; nil means time.Now.
	now func() time.Time
}

// NewPeerCheck loads what the checks need: the CRLs, whose issuers it
// looks for among the certificates of ca_cert_path.
func NewPeerCheck(cfg *config.Config) (*PeerCheck, error) {
	var cas []*x509.Certificate
	if len(cfg.CRLFiles) > 0 {
		var err error
		if cas, err = certs.LoadCertificates(cfg.CACertPath); err != nil {
			return nil, &config.Error{Problems: []error{err}}
		}
	}
	p, problems := newPeerCheck(cfg, cas)
	if problems != nil {
		return nil, &config.Error{Problems: problems}
	}
	return p, nil
}

// newPeerCheck is [NewPeerCheck] with the CA certificates already read.
// It reports a problem for every CRL file that has one.
func newPeerCheck(cfg *config.Config, cas []*x509.Certificate) (*PeerCheck, []error) {
	p := &PeerCheck{Allow: NewAllow(cfg), AllowExpiredCRL: cfg.UnsafeAllowExpiredCRL}
	var problems []error
	for _, f := range cfg.CRLFiles {
		crls, err := certs.LoadCRLs(f, cas, cfg.CACertPath)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		p.CRLs = append(p.CRLs, crls...)
	}
	p.revokedCAs = revokedCAs(p.CRLs, cas)
	return p, problems
}

// Empty reports whether there is nothing to check.
func (p *PeerCheck) Empty() bool { return p.Allow.Empty() && len(p.CRLs) == 0 }

// Check admits a handshake's peer or says why not: a *[CRLExpiredError],
// a *[RevokedError] or a *[NotAllowedError]. A peer without a certificate
// (client_cert_mode optional) has nothing to check.
func (p *PeerCheck) Check(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	if err := p.checkRevocation(cs.VerifiedChains, p.clock()); err != nil {
		return err
	}
	return p.Allow.Admit(cs.PeerCertificates[0])
}

func (p *PeerCheck) clock() time.Time {
	if p.now != nil {
		return p.now()
	}
	return time.Now()
}

// strictClient reports whether pqc_mode strict applies to client
// certificates ([Server.requireMLDSAClient]).
func (s *Server) strictClient() bool {
	return s.Mode == config.PQCStrict && s.ClientAuth != config.ClientCertNone
}

// verifyClient is the server's VerifyConnection: a client certificate
// must pass pqc_mode strict's demands, then the peer checks.
func (s *Server) verifyClient(cs tls.ConnectionState) error {
	if s.strictClient() {
		if err := s.requireMLDSAClient(cs); err != nil {
			return err
		}
	}
	return s.Peer.Check(cs)
}
