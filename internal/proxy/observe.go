package proxy

import (
	"crypto/tls"
	"time"
)

// Observer is told how each connection goes, for metrics. The proxy calls
// it on the connections' own goroutines, so its methods must be safe for
// concurrent use and cheap: a few atomic adds, no locks, no allocation.
//
// Every connection accepted is reported to Accepted once and to Closed
// once, with the reason it ended, so that accepted connections are the
// open ones plus those closed.
type Observer interface {
	// Accepted: a connection was accepted.
	Accepted()
	// Handshake: a TLS handshake completed, in took: from the client's
	// first bytes (client mode: from the connection to the remote
	// server) to its end. certAlg names the key of the certificate that
	// authenticated the server: the one served, in server mode (on a
	// resumption, the one the session began with); the remote server's,
	// in client mode.
	Handshake(cs *tls.ConnectionState, certAlg string, took time.Duration)
	// Refused: a handshake failed, for reason (tlsconf's classifiers);
	// the connection is then Closed with [ReasonHandshakeRefused].
	Refused(reason string)
	// Dialed: a dial to the backend (client mode: to the remote target)
	// ended after took, connected or not. A dial that the drain timeout
	// (or, in client mode, max_handshakes) cancelled is not reported.
	Dialed(took time.Duration, ok bool)
	// Closed: a connection ended, for reason: one of the forward
	// package's reasons, this package's, or [ReasonHandshakeRefused].
	Closed(reason string)
}

// Close reasons of connections that never reached forwarding, besides
// those of the limits and the drain (ReasonConnectionLimit and others).
const (
	// ReasonHandshakeRefused: the TLS handshake failed; [Observer.Refused]
	// was told why.
	ReasonHandshakeRefused = "handshake_refused"
	// ReasonBackendUnreachable: the backend (client mode: the remote
	// target) could not be connected to.
	ReasonBackendUnreachable = "backend_unreachable"
)

// nobody is the Observer of a proxy given none.
type nobody struct{}

func (nobody) Accepted()                                             {}
func (nobody) Handshake(*tls.ConnectionState, string, time.Duration) {}
func (nobody) Refused(string)                                        {}
func (nobody) Dialed(time.Duration, bool)                            {}
func (nobody) Closed(string)                                         {}

// Bytes are plaintext bytes forwarded, each way, named from the proxy's
// side: from the connection it accepted to the one it dialed, and back.
// In client mode the accepted connection is the local client's.
type Bytes struct {
	ClientToBackend, BackendToClient int64
}

// Traffic is what [Proxy.Traffic] reports: bytes forwarded over
// connections whose key exchange was post-quantum, and over the others,
// which a future quantum computer could decrypt from a recording.
type Traffic struct {
	PQ, Classical Bytes
}

// Traffic reports the bytes forwarded so far, those of open connections
// included: each connection counts its bytes with an atomic add per
// write (see [forward.Counters]), and this sums them with the totals of
// closed connections. Successive reports never decrease, since a
// connection's bytes move to the totals under the same lock.
func (p *Proxy) Traffic() Traffic {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.closed
	for c := range p.conns {
		c.addTraffic(&t)
	}
	return t
}

// addTraffic adds c's bytes so far to t. The flags are set before the
// first byte moves and read here after the counts, so that bytes are
// never counted under the wrong heading (which would make one total
// drop at the next report).
func (c *conn) addTraffic(t *Traffic) {
	in, out := c.bytes.In.Load(), c.bytes.Out.Load()
	b := &t.Classical
	if c.pq.Load() {
		b = &t.PQ
	}
	if c.local.Load() {
		// Client mode: the forwarder's client is the remote server.
		in, out = out, in
	}
	b.ClientToBackend += in
	b.BackendToClient += out
}
