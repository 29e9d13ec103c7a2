package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
)

// ServedLeaf returns the leaf certificate the client was served for the
// session of this connection, nil if it is not known. On a full handshake
// it is the one [Server.certificate] chose. A resumed handshake sends no
// certificate (and on TLS 1.2 the chain chosen first is not the one
// sent), so it is the leaf whose hash the session ticket carries: the
// ticket resumed only because this snapshot still serves that very leaf
// ([Server.open], servesLeaf), so it is found among s.Chains. s must be
// the snapshot the handshake ran under.
func (s *Server) ServedLeaf(h *Hello, cs *tls.ConnectionState) *x509.Certificate {
	if !cs.DidResume {
		if h.Chain == nil {
			return nil
		}
		return h.Chain.Leaf()
	}
	if h.ticket == nil {
		return nil
	}
	for i, leaf := range s.leaves {
		if leaf == h.ticket.leaf {
			return s.Chains[i].Leaf()
		}
	}
	return nil
}
