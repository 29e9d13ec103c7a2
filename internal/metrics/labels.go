package metrics

import (
	"crypto/tls"
	"strings"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// The label values of the connection metrics come from these fixed
// lists, never from what a peer sends: a value outside a list is counted
// under "other" (see index), so a client cannot grow the number of
// series, and the README can list every value.

// other stands for any value not in its list.
const other = "other"

// versions are the TLS versions served (min_tls_version is 1.2 or 1.3).
var versions = []string{"TLS 1.2", "TLS 1.3", other}

func versionIndex(v uint16) int {
	switch v {
	case tls.VersionTLS12:
		return 0
	case tls.VersionTLS13:
		return 1
	}
	return 2
}

// groups are the key exchange groups crypto/tls implements, by the names
// the connection log uses (tls.CurveID.String); "none" is the zero
// CurveID, a TLS 1.2 handshake without ECDHE (never served here).
var groups = []tls.CurveID{
	tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024, tls.MLKEM1024,
	tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521, 0,
}

// groupNames are the label values of groups, and other last.
var groupNames = func() []string {
	var out []string
	for _, g := range groups {
		if g == 0 {
			out = append(out, "none")
		} else {
			out = append(out, g.String())
		}
	}
	return append(out, other)
}()

func groupIndex(id tls.CurveID) int {
	for i, g := range groups {
		if g == id {
			return i
		}
	}
	return len(groups)
}

// algorithms are the certificate key algorithms as certs.Algorithm names
// them; "unknown" is what the proxy reports when it cannot tell (see
// proxy's certAlg). In client mode the remote server's key is named, so
// the list must hold, and other stands for, whatever it presents.
var algorithms = []string{
	"ML-DSA-44", "ML-DSA-65", "ML-DSA-87",
	"ECDSA P-256", "ECDSA P-384", "ECDSA P-521",
	"Ed25519", "RSA 2048", "RSA 3072", "RSA 4096",
	"unknown", other,
}

// closeReasons are why connections end: the forwarder's reasons, then
// the proxy's (client mode's names for the remote side, failures before
// forwarding, limits, the drain), among them handshake_refused, whose
// details are in handshakes_refused_total. The proxy's are spelt out
// here, since package proxy's tests use this one;
// TestCloseReasonsComplete checks them against its source.
var closeReasons = []string{
	forward.ReasonClientClosed, forward.ReasonBackendClosed,
	forward.ReasonIdle, forward.ReasonCloseTimeout,
	forward.ReasonClientError, forward.ReasonBackendError, forward.ReasonPanic,
	"server_closed", "server_error",
	"handshake_refused", "backend_unreachable", "proxy_header_error",
	"connection_limit", "handshake_evicted", "drain_timeout",
	other,
}

// Refusal reasons that tlsconf builds from a prefix and an alert's name
// count under the prefix alone: the alert is the peer's to choose.
const (
	reasonClientAlert = "client_alert"
	reasonServerAlert = "server_alert"
)

// refuseReasons are why handshakes fail, as tlsconf's classifiers name
// them, in server mode and in client mode. TestRefuseReasonsComplete
// checks that every reason tlsconf defines is here.
var refuseReasons = []string{
	// Server mode.
	tlsconf.ReasonTimeout, tlsconf.ReasonNotTLS, tlsconf.ReasonClientGone,
	tlsconf.ReasonNoPQGroup, tlsconf.ReasonNoClientCert, tlsconf.ReasonUnknownCA,
	tlsconf.ReasonClientKeyNotPQ, tlsconf.ReasonBadClientCert, tlsconf.ReasonClientRefused,
	tlsconf.ReasonProtocolVersion, tlsconf.ReasonUnrecognizedName, tlsconf.ReasonClientChainNotPQ,
	tlsconf.ReasonEarlyData, tlsconf.ReasonNoSharedCipher, tlsconf.ReasonNoSharedSigAlg,
	tlsconf.ReasonPeerNotAllowed, tlsconf.ReasonRevoked, tlsconf.ReasonCRLExpired,
	tlsconf.ReasonSSLv2Hello, tlsconf.ReasonMalformedHello, reasonClientAlert,
	// Client mode (timeouts and protocol versions share the names above).
	tlsconf.ReasonServerNotPQ, tlsconf.ReasonServerKeyNotMLDSA, tlsconf.ReasonServerNotAllowed,
	tlsconf.ReasonServerRevoked, tlsconf.ReasonServerCRLExpired, tlsconf.ReasonServerCertRefused,
	tlsconf.ReasonServerUnknownCA, tlsconf.ReasonServerName, tlsconf.ReasonBadServerCert,
	tlsconf.ReasonServerRefusedHello, tlsconf.ReasonServerWantsCert, tlsconf.ReasonServerRefusedCert,
	tlsconf.ReasonServerNotTLS, tlsconf.ReasonServerGone, reasonServerAlert,
	// Either.
	tlsconf.ReasonOther, other,
}

// refuseLabel is the label value for a refusal reason.
func refuseLabel(reason string) string {
	switch {
	case strings.HasPrefix(reason, tlsconf.ReasonClientAlertPrefix):
		return reasonClientAlert
	case strings.HasPrefix(reason, tlsconf.ReasonServerAlertPrefix):
		return reasonServerAlert
	}
	return reason
}

// indexOf maps each value of list to its place; index looks values up
// in it. The map is built once and only read after, so lookups need no
// lock.
func indexOf(list []string) map[string]int {
	m := make(map[string]int, len(list))
	for i, v := range list {
		if _, dup := m[v]; !dup {
			m[v] = i
		}
	}
	return m
}

// index is v's place in the list of m, or the place of other (the
// list's last) when v is not in it.
func index(m map[string]int, v string) int {
	if i, ok := m[v]; ok {
		return i
	}
	return m[other]
}

var (
	algorithmIndex    = indexOf(algorithms)
	closeReasonIndex  = indexOf(closeReasons)
	refuseReasonIndex = indexOf(refuseReasons)
)
