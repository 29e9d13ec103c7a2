package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// Reasons a handshake is refused, as logged (close_reason / reason fields).
const (
	ReasonTimeout         = "handshake_timeout"
	ReasonNotTLS          = "not_tls"
	ReasonClientGone      = "client_closed"
	ReasonNoPQGroup       = "no_pq_group"
	ReasonNoClientCert    = "no_client_certificate"
	ReasonUnknownCA       = "unknown_ca"
	ReasonClientKeyNotPQ  = "client_key_not_mldsa"
	ReasonBadClientCert   = "bad_client_certificate"
	ReasonClientRefused   = "client_refused_server_certificate"
	ReasonProtocolVersion = "protocol_version"
	// ReasonUnrecognizedName: no chain may be served to the server name
	// the client asked for (or to none); refused with the alert of RFC
	// 6066 section 3.
	ReasonUnrecognizedName = "unrecognized_name"
	// ReasonClientChainNotPQ: pqc_mode strict, an ML-DSA client key whose
	// chain is not signed with ML-DSA throughout.
	ReasonClientChainNotPQ = "client_chain_not_mldsa"
	// ReasonEarlyData: the client sent 0-RTT early data, which only a
	// ticket from another server could have allowed (this proxy's tickets
	// never do); crypto/tls refuses such a ClientHello outright
	// (handshake_server_tls13.go, "client sent unexpected early data").
	ReasonEarlyData = "unexpected_early_data"
	// ReasonNoSharedCipher: the client offers no cipher suite served here;
	// TLS 1.2 is served with ECDHE and AEAD suites only (no CBC, no RSA
	// key exchange), so old TLS 1.2 clients and scanners land here.
	ReasonNoSharedCipher = "no_shared_cipher"
	// ReasonNoSharedSigAlg: the client can verify none of the chains it
	// could be served, e.g. a client without ML-DSA (or on TLS 1.2, where
	// ML-DSA is not defined) while only an ML-DSA chain is configured.
	ReasonNoSharedSigAlg = "no_shared_signature_algorithm"
	// ReasonPeerNotAllowed: a verified client certificate that no allow
	// rule admits ([NotAllowedError]).
	ReasonPeerNotAllowed = "peer_not_allowed"
	// ReasonRevoked: a CRL of crl_files lists the client certificate or
	// one of its issuers ([RevokedError]).
	ReasonRevoked = "revoked"
	// ReasonCRLExpired: a CRL of crl_files is past its nextUpdate, which
	// refuses every client certificate ([CRLExpiredError]).
	ReasonCRLExpired = "crl_expired"
	ReasonOther      = "handshake_failed"

	// Reasons for clients that never got as far as a ClientHello the
	// server could read ([Server.ClassifyFirst]).
	ReasonSSLv2Hello     = "sslv2_hello"     // an SSL 2.0 CLIENT-HELLO (RFC 6176 prohibits SSL 2.0)
	ReasonMalformedHello = "malformed_hello" // a TLS record that holds no readable ClientHello: truncated, oversized, garbled
)

// hintClientRefused is the hint for [ReasonClientRefused].
const hintClientRefused = "the client does not trust the chain it was served; check with `quantum-safe-proxy check` which chain each kind of client gets"

// Classify explains why a handshake failed: a short reason for logs and
// metrics, and, when there is one, a hint for the operator.
func (s *Server) Classify(err error, h *Hello) (reason, hint string) {
	msg := err.Error()
	var nerr net.Error
	var rec tls.RecordHeaderError
	var unknownCA x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &nerr) && nerr.Timeout():
		return ReasonTimeout, ""
	case errors.As(err, &rec):
		return ReasonNotTLS, ""
	case !h.Seen && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(msg, "connection reset")):
		return ReasonClientGone, ""
	case strings.Contains(msg, "client offered only unsupported versions"):
		return ReasonProtocolVersion, "the client offers only TLS versions older than min_tls_version (SSL 3.0, TLS 1.0 and 1.1 are never served)"
	case s.Mode == config.PQCStrict && h.Seen && !h.PQOffered:
		return ReasonNoPQGroup, "pqc_mode strict refuses clients that offer no hybrid post-quantum group (X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024)"
	case strings.Contains(msg, "client sent unexpected early data"):
		return ReasonEarlyData, "the client holds a 0-RTT ticket from another server that answered at this address; Go's crypto/tls cannot skip early data and refuses it, until the client drops that ticket"
	case h.NoChain:
		return ReasonUnrecognizedName, "every chain that fits is bound to other server names (server_names); clients asking for other names, or none, are refused"
	case errors.As(err, new(*NotAllowedError)):
		return ReasonPeerNotAllowed, "the client's certificate chains to ca_cert_path but matches none of the allow rules (rules), which see what peer_identity shows; add a rule that admits it, or it stays out as configured"
	case errors.As(err, new(*RevokedError)):
		return ReasonRevoked, "a CRL of crl_files lists this certificate (serial, issuer, crl); the client needs a new certificate"
	case errors.As(err, new(*CRLExpiredError)):
		return ReasonCRLExpired, "a CRL of crl_files is past its nextUpdate, so every client certificate is refused; install a fresh CRL from the CA (the file is watched, or systemctl reload), or set unsafe_allow_expired_crl to admit clients meanwhile"
	case errors.Is(err, errClientIssuerNotMLDSA):
		return ReasonClientChainNotPQ, "pqc_mode strict requires a client chain signed with ML-DSA throughout; to accept an ML-DSA client key issued by a classical CA (what OpenSSL 3.5 clients can present), set strict_client_classical_issuer"
	case errors.Is(err, errClientKeyNotMLDSA):
		return ReasonClientKeyNotPQ, "pqc_mode strict accepts only client certificates with an ML-DSA key"
	case strings.Contains(msg, "client didn't provide a certificate"):
		return ReasonNoClientCert, s.noClientCertHint()
	case errors.As(err, &unknownCA):
		return ReasonUnknownCA, "the client's certificate does not chain to a root in ca_cert_path"
	case errors.As(err, &invalid):
		return ReasonBadClientCert, ""
	case strings.Contains(msg, "remote error: tls: bad certificate"),
		strings.Contains(msg, "remote error: tls: unknown certificate authority"),
		strings.Contains(msg, "remote error: tls: certificate unknown"):
		return ReasonClientRefused, hintClientRefused
	case strings.Contains(msg, "peer doesn't support any of the certificate's signature algorithms"),
		strings.Contains(msg, "ML-DSA certificates require TLS 1.3"):
		// crypto/tls auth.go selectSignatureScheme and handshake_server.go.
		return ReasonNoSharedSigAlg, "the client supports none of the served chain's signature algorithms (a client without ML-DSA, or on TLS 1.2, meets an ML-DSA chain); to serve it, add an ECDSA chain after the ML-DSA one (a second --cert/--key, or certificates)"
	case strings.Contains(msg, "no cipher suite supported by both client and server"):
		return ReasonNoSharedCipher, "the client offers no suite served here; TLS 1.2 gets ECDHE with AES-GCM or ChaCha20-Poly1305 only, so CBC-only clients must be upgraded"
	case strings.Contains(msg, "protocol version"):
		return ReasonProtocolVersion, ""
	}
	return ReasonOther, ""
}

// noClientCertHint explains the one silent refusal operators meet with
// ML-DSA client certificates: Go 1.27 leaves ML-DSA out of
// signature_algorithms_cert in its CertificateRequest (go.dev/issue/82536),
// and OpenSSL 3.5 then withholds a client leaf whose issuer signed it with
// ML-DSA, sending no certificate at all.
func (s *Server) noClientCertHint() string {
	for _, r := range s.Roots {
		if certs.IsMLDSA(r.PublicKey) {
			return "if the client is OpenSSL with a leaf signed by an ML-DSA issuer, it withholds that certificate because this server cannot list ML-DSA in signature_algorithms_cert (go.dev/issue/82536); issue the client's ML-DSA key from an ECDSA CA, or use a Go client"
		}
	}
	return "the client sent no certificate; client_cert_mode is required"
}

// ClassifyFirst is [Server.Classify] for a handshake whose client's first
// bytes are known: a client that sent no ClientHello the server could read
// is told apart by what it did send, so that scanners and broken clients
// are refused with a reason of their own, not handshake_failed.
func (s *Server) ClassifyFirst(err error, h *Hello, first []byte) (reason, hint string) {
	reason, hint = s.Classify(err, h)
	if h.Seen || len(first) == 0 || reason == ReasonTimeout {
		return reason, hint
	}
	return classifyPreamble(first), ""
}

// classifyPreamble names what a client that sent first and no readable
// ClientHello was speaking.
func classifyPreamble(first []byte) string {
	// An SSL 2.0 record header has the high bit of its first byte set and
	// a message type of 1 (CLIENT-HELLO) in its third (RFC 6101,
	// Appendix E.2); crypto/tls refuses it as a record of type 0x80.
	if first[0]&0x80 != 0 && (len(first) < 3 || first[2] == 1) {
		return ReasonSSLv2Hello
	}
	// A TLS record of type handshake (22) is the only way a TLS client
	// may start (RFC 8446, Section 5.1); anything else is not TLS.
	if first[0] != 22 {
		return ReasonNotTLS
	}
	return ReasonMalformedHello
}
