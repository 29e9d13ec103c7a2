package tlsconf

import (
	"crypto/tls"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// PeerCheck is what a peer certificate must pass once crypto/tls has
// verified its chain: the allow rules. It is the client's certificate in
// server mode and the server's in client mode. Check runs from
// VerifyConnection, which crypto/tls calls on every handshake, resumed
// ones included, with the chains verified then or carried in the ticket.
type PeerCheck struct {
	Allow Allow
}

// NewPeerCheck loads what the checks need.
func NewPeerCheck(cfg *config.Config) (*PeerCheck, error) {
	return &PeerCheck{Allow: NewAllow(cfg)}, nil
}

// Empty reports whether there is nothing to check.
func (p *PeerCheck) Empty() bool { return p.Allow.Empty() }

// Check admits a handshake's peer or says why not. A peer without a
// certificate (client_cert_mode optional) has nothing to check.
func (p *PeerCheck) Check(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	return p.Allow.Admit(cs.PeerCertificates[0])
}
