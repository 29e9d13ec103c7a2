package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// Reasons a handshake with the remote server fails in client mode, as
// logged (reason fields). Timeouts and protocol versions use the
// server mode's names.
const (
	// ReasonServerNotPQ: pqc_mode strict, and the server has no hybrid
	// post-quantum group (told by its choice, or by [Client.Explain]'s
	// second handshake).
	ReasonServerNotPQ = "server_no_pq_group"
	// ReasonServerKeyNotMLDSA: pqc_mode strict, and the server's
	// certificate key is not ML-DSA.
	ReasonServerKeyNotMLDSA = "server_key_not_mldsa"
	// ReasonServerNotAllowed: the server's certificate matches no allow rule.
	ReasonServerNotAllowed = "server_not_allowed"
	// ReasonServerRevoked: a CRL of crl_files lists the server's
	// certificate or one of its issuers.
	ReasonServerRevoked = "server_revoked"
	// ReasonServerCRLExpired: a CRL of crl_files is past its nextUpdate,
	// which refuses every server certificate.
	ReasonServerCRLExpired = "server_crl_expired"
	// ReasonServerCertRefused: another peer check refused the server's
	// certificate (a CRL lists it, for one).
	ReasonServerCertRefused = "server_certificate_refused"
	ReasonServerUnknownCA   = "server_unknown_ca"
	ReasonServerName        = "server_name_mismatch"
	ReasonBadServerCert     = "bad_server_certificate"
	// ReasonServerRefusedHello: the server answered the ClientHello with
	// handshake_failure.
	ReasonServerRefusedHello = "server_refused_hello"
	// ReasonServerWantsCert: the server requires a client certificate and
	// none is configured.
	ReasonServerWantsCert = "server_requires_client_certificate"
	// ReasonServerRefusedCert: the server refused the client certificate.
	ReasonServerRefusedCert = "server_refused_client_certificate"
	ReasonServerNotTLS      = "server_not_tls"
	ReasonServerGone        = "server_closed"
	// ReasonServerAlertPrefix starts the reason of another alert from the
	// server, "server_alert_" and its description as crypto/tls words it.
	ReasonServerAlertPrefix = "server_alert_"
)

// hintMLDSASigned explains the refusal an OpenSSL server gives a Go
// client when its certificate is signed with ML-DSA (DESIGN.md).
const hintMLDSASigned = "most likely the server's certificate is signed with ML-DSA: Go 1.27 leaves ML-DSA out of signature_algorithms_cert (go.dev/issue/82536), so an OpenSSL server finds no certificate it may send and refuses; have the server's ML-DSA key certified by an ECDSA CA, or put this proxy in server mode in front of the server"

// errPeerRefused wraps what the peer checks said of the server's certificate.
type errPeerRefused struct{ err error }

func (e *errPeerRefused) Error() string { return "server certificate refused: " + e.err.Error() }
func (e *errPeerRefused) Unwrap() error { return e.err }

// Classify explains why a handshake with the server failed: a short
// reason for logs and metrics and, when there is one, a hint.
func (c *Client) Classify(err error) (reason, hint string) {
	msg := err.Error()
	var nerr net.Error
	var rec tls.RecordHeaderError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var notAllowed *NotAllowedError
	var revoked *RevokedError
	var expired *CRLExpiredError
	var peer *errPeerRefused
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &nerr) && nerr.Timeout():
		return ReasonTimeout, "the server did not finish the handshake within handshake_timeout"
	case errors.Is(err, errServerNotPQ):
		return ReasonServerNotPQ, "enable X25519MLKEM768 on the server, or use pqc_mode hybrid"
	case errors.Is(err, errServerKeyNotMLDSA):
		return ReasonServerKeyNotMLDSA, "give the server an ML-DSA certificate (with an OpenSSL server, an ML-DSA key certified by an ECDSA CA), or use pqc_mode hybrid"
	case errors.As(err, &notAllowed):
		return ReasonServerNotAllowed, "the server's certificate matches none of the allow rules; check server_name and target, or the rules"
	case errors.As(err, &revoked):
		return ReasonServerRevoked, "a CRL of crl_files lists the server's certificate (serial, issuer, crl); the server needs a new certificate, or target is not the server meant"
	case errors.As(err, &expired):
		return ReasonServerCRLExpired, "a CRL of crl_files is past its nextUpdate, so every server certificate is refused; install a fresh CRL from the CA (the file is watched, or systemctl reload), or set unsafe_allow_expired_crl meanwhile"
	case errors.As(err, &peer):
		return ReasonServerCertRefused, ""
	case errors.As(err, &unknownCA):
		return ReasonServerUnknownCA, "the server's certificate does not chain to a root in ca_cert_path; add its CA there"
	case errors.As(err, &hostname):
		return ReasonServerName, "set server_name to a name the server's certificate holds (a DNS name, or the IP address for an IP SAN)"
	case errors.As(err, &invalid):
		return ReasonBadServerCert, ""
	case errors.As(err, &rec):
		return ReasonServerNotTLS, "the target did not answer in TLS; check that target is the TLS port"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(msg, "connection reset"):
		return ReasonServerGone, "the server closed the connection during the handshake: its log says why; if it never saw the connection, a TLS-inspecting middlebox may have cut it (see advertise_mldsa in README)"
	case strings.Contains(msg, "remote error: tls: handshake failure"):
		if c.Mode == config.PQCStrict {
			return ReasonServerRefusedHello, "the server has no hybrid post-quantum group (pqc_mode strict offers only those), or " + hintMLDSASigned
		}
		return ReasonServerRefusedHello, hintMLDSASigned
	case strings.Contains(msg, "remote error: tls: certificate required"):
		if len(c.Chains) == 0 {
			return ReasonServerWantsCert, "configure a client certificate (cert_path and key_path, or certificates)"
		}
		return ReasonServerRefusedCert, "the server did not accept the certificates configured"
	case strings.Contains(msg, "remote error: tls: bad certificate"), strings.Contains(msg, "remote error: tls: unknown certificate authority"),
		strings.Contains(msg, "remote error: tls: unknown certificate"), strings.Contains(msg, "remote error: tls: unsupported certificate"):
		return ReasonServerRefusedCert, "the server does not trust the client certificate presented"
	case strings.Contains(msg, "protocol version"):
		return ReasonProtocolVersion, "the server does not speak TLS " + tlsVersion(c.TLS.MinVersion) + " (min_tls_version) or later"
	case strings.HasPrefix(msg, "remote error: tls: "):
		return ReasonServerAlertPrefix + strings.ReplaceAll(strings.TrimPrefix(msg, "remote error: tls: "), " ", "_"), ""
	}
	return ReasonOther, ""
}

// probeInterval bounds how often [Client.Explain] makes a second
// handshake; a refusal within it reuses the last finding. Refusals come
// in bursts (every local connection fails the same way), and one look a
// minute is enough to name a server's configuration.
const probeInterval = time.Minute

type probeState struct {
	mu           sync.Mutex
	at           time.Time
	reason, hint string
}

// errProbed ends a diagnostic handshake once it has learnt what it needed.
var errProbed = errors.New("diagnostic handshake: done")

// Explain is [Client.Classify], and in pqc_mode strict, for a server
// that refused the ClientHello with handshake_failure (which says
// neither why nor whether the groups offered were the cause), it makes a
// second handshake over a fresh connection from dial, offering classical
// groups as well, and ends it as soon as the server has chosen: if the
// server then picks a classical group, it has no post-quantum one; if it
// refuses again, the groups were not the cause. Nothing is sent to the
// server but the ClientHello and the end of the handshake.
func (c *Client) Explain(ctx context.Context, err error, dial func(context.Context) (net.Conn, error)) (reason, hint string) {
	reason, hint = c.Classify(err)
	if reason != ReasonServerRefusedHello || c.Mode != config.PQCStrict {
		return reason, hint
	}
	c.probe.mu.Lock()
	defer c.probe.mu.Unlock()
	if !c.probe.at.IsZero() && time.Since(c.probe.at) < probeInterval {
		return c.probe.reason, c.probe.hint
	}
	conn, derr := dial(ctx)
	if derr != nil {
		return reason, hint
	}
	c.probe.at = time.Now()
	c.probe.reason, c.probe.hint = c.probeGroups(ctx, conn, reason, hint)
	return c.probe.reason, c.probe.hint
}

// probeGroups makes the diagnostic handshake of [Client.Explain] on conn.
func (c *Client) probeGroups(ctx context.Context, conn net.Conn, reason, hint string) (string, string) {
	var chosen tls.CurveID
	var alg string
	cfg := &tls.Config{
		MinVersion:       c.TLS.MinVersion,
		CipherSuites:     cipherSuites,
		CurvePreferences: groups(config.PQCHybrid),
		ServerName:       c.ServerName,
		// Nothing of this handshake is trusted or used: it ends in
		// VerifyConnection, before the client's Finished.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			chosen = cs.CurveID
			if len(cs.PeerCertificates) > 0 {
				alg = certs.Algorithm(cs.PeerCertificates[0].PublicKey)
			}
			return errProbed
		},
	}
	tc := tls.Client(conn, cfg)
	err := tc.HandshakeContext(ctx)
	conn.Close()
	switch {
	case errors.Is(err, errProbed) && !IsPQ(chosen):
		return ReasonServerNotPQ, "server did not negotiate a hybrid post-quantum group (it chose " + chosen.String() + " when a second handshake offered classical groups too); pqc_mode strict requires " +
			groupNames(pqGroups) + ": enable one on the server, or use pqc_mode hybrid"
	case errors.Is(err, errProbed):
		return reason, "a second handshake offering classical groups too was answered (" + chosen.String() + ", " + alg + " certificate), so the groups were not the cause; the server's log says why it refused"
	case err != nil && strings.Contains(err.Error(), "remote error: tls: handshake failure"):
		return reason, "the server refused a second handshake offering classical groups too, so the groups are not the cause: " + hintMLDSASigned
	}
	return reason, hint
}
