package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/proxyproto"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// ReasonProxyHeader closes a connection whose PROXY protocol header could
// not be made: longer than the format allows (see proxyproto.Header.Append).
// A header that could not be written is a backend_error, as any failed
// write to the backend.
const ReasonProxyHeader = "proxy_header_error"

// sendProxyHeader writes the PROXY protocol v2 header to the backend, whole
// and in one write, before the forwarder starts: so it precedes every
// client byte, and a backend that speaks first has it at once. When that
// fails it ends the connection with resets, logs why and reports false.
func (p *Proxy) sendProxyHeader(c *conn, snap *Snapshot, cs *tls.ConnectionState, bc *forward.Conn) bool {
	hdr, err := proxyHeader(c.raw, cs, snap.TLS.ServedLeaf(&c.hello, cs))
	reason := ReasonProxyHeader
	if err == nil {
		// The backend must take the header as it must accept the
		// connection: within dial_timeout. It fits in the socket's
		// buffer, so this waits only on a backend that is stuck.
		if snap.DialTimeout > 0 {
			bc.SetWriteDeadline(time.Now().Add(snap.DialTimeout))
		}
		_, err = bc.Write(hdr)
		bc.SetWriteDeadline(time.Time{})
		reason = forward.ReasonBackendError
	}
	if err == nil {
		return true
	}
	c.abort()
	bc.Abort()
	if c.cut.Load() {
		reason = ReasonDrainTimeout
	}
	p.opts.Logger.LogAttrs(context.Background(), slog.LevelInfo, "connection closed", append(c.attrs,
		slog.Int64("bytes_in", 0), slog.Int64("bytes_out", 0),
		slog.Duration("duration", time.Since(c.start)),
		slog.String("close_reason", reason),
		slog.String("error", "PROXY protocol header: "+err.Error()))...)
	p.done(c, reason)
	return false
}

// proxyHeader builds the header for a client connection raw whose
// handshake cs describes, served is the leaf certificate the client got
// (nil if not known). The strings are constants or the certificate's
// own, so the header's buffer is, nearly always, the only allocation.
func proxyHeader(raw net.Conn, cs *tls.ConnectionState, served *x509.Certificate) ([]byte, error) {
	t := proxyproto.TLS{
		Client:  proxyproto.ClientSSL,
		Version: proxyproto.VersionName(cs.Version),
		Cipher:  proxyproto.CipherName(cs.CipherSuite),
		PQ:      tlsconf.IsPQ(cs.CurveID),
	}
	if cs.CurveID != 0 { // zero only for an RSA key exchange, never served
		t.Group = cs.CurveID.String()
	}
	if served != nil {
		t.SigAlg = proxyproto.SigAlgName(served.SignatureAlgorithm)
		t.KeyAlg = proxyproto.KeyAlgName(served.PublicKey)
	}
	if len(cs.PeerCertificates) > 0 {
		// crypto/tls verified it (client_cert_mode required or optional:
		// one that fails verification fails the handshake), on this
		// connection or, when resumed, when the session began; a resumed
		// session's certificate is re-checked against the current CAs
		// (crypto/tls handshake_server*.go, checkForResumption).
		leaf := cs.PeerCertificates[0]
		t.Client |= proxyproto.ClientCertSess
		if !cs.DidResume {
			t.Client |= proxyproto.ClientCertConn
		}
		t.Verified = len(cs.VerifiedChains) > 0
		t.CN = leaf.Subject.CommonName
		if len(leaf.URIs) > 0 {
			t.URI = leaf.URIs[0].String()
		}
	}
	h := proxyproto.Header{
		Source:      addrPort(raw.RemoteAddr()),
		Destination: addrPort(raw.LocalAddr()),
		Authority:   cs.ServerName,
		ALPN:        cs.NegotiatedProtocol,
		TLS:         &t,
	}
	return h.Append(make([]byte, 0, h.Size()))
}

// addrPort is a TCP address as netip sees it; anything else (a unix
// socket) is the zero AddrPort, which the header sends as AF_UNSPEC.
func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}
