package tlsconf

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/logging"
)

// Debug lines about one handshake. Each function returns at once, having
// built nothing, unless the handshake's logger is enabled at debug: the
// handshake path pays one level check per line at any other level
// (TestDebugOffAllocatesNothing).

func debugOn(h *Hello) bool {
	return h.Log != nil && h.Log.Enabled(context.Background(), slog.LevelDebug)
}

// debugHello logs what the ClientHello offers. crypto/tls does not expose
// the key shares (tls.ClientHelloInfo); hello_retry says when the first
// hello's shares fitted none of our groups and a HelloRetryRequest asked
// for another. Every value is the client's: lists and names are clipped
// ([logging.Clip]) and the handler escapes them.
func debugHello(h *Hello, chi *tls.ClientHelloInfo) {
	if !debugOn(h) {
		return
	}
	h.Log.LogAttrs(context.Background(), slog.LevelDebug, "client hello",
		slog.String("sni", logging.Clip(chi.ServerName)),
		slog.String("versions", list(chi.SupportedVersions, tls.VersionName)),
		slog.String("groups", list(chi.SupportedCurves, tls.CurveID.String)),
		slog.String("signature_algorithms", list(chi.SignatureSchemes, schemeName)),
		slog.String("alpn", list(chi.SupportedProtos, strconv.Quote)),
		slog.String("cipher_suites", list(chi.CipherSuites, suiteName)),
		slog.Bool("pq_offered", h.PQOffered),
		slog.Bool("hello_retry", chi.HelloRetryRequest))
}

// IANA names of the signature schemes and cipher suites that clients
// commonly offer and crypto/tls has no name for (it prints the first as
// SignatureScheme(2056), the second as 0x009F). OpenSSL 3.5's defaults
// offer all of them.
var (
	schemeNames = map[tls.SignatureScheme]string{
		0x0202: "dsa_sha1",
		0x0301: "rsa_sha224",
		0x0302: "dsa_sha224",
		0x0303: "ecdsa_sha224",
		0x0402: "dsa_sha256",
		0x0502: "dsa_sha384",
		0x0602: "dsa_sha512",
		0x0808: "ed448",
		0x0809: "rsa_pss_pss_sha256",
		0x080A: "rsa_pss_pss_sha384",
		0x080B: "rsa_pss_pss_sha512",
		0x081A: "ecdsa_brainpoolP256r1tls13_sha256",
		0x081B: "ecdsa_brainpoolP384r1tls13_sha384",
		0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
	}
	suiteNames = map[uint16]string{
		0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
		0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
		0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
		0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
		0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
		0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
		0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
		0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
		0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
		0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
		0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	}
)

// schemeName is crypto/tls's name for a signature scheme, else its IANA
// name, else its code point in hex as the RFCs write it (0x0808).
func schemeName(s tls.SignatureScheme) string {
	if n, ok := schemeNames[s]; ok {
		return n
	}
	if n := s.String(); !strings.HasPrefix(n, "SignatureScheme(") {
		return n
	}
	return fmt.Sprintf("0x%04X", uint16(s))
}

// suiteName is crypto/tls's name for a cipher suite, else its IANA name,
// else its code point in hex (tls.CipherSuiteName's own fallback).
func suiteName(id uint16) string {
	if n, ok := suiteNames[id]; ok {
		return n
	}
	return tls.CipherSuiteName(id)
}

// maxList bounds, in bytes, a client's list in a debug line, as
// [logging.Clip] bounds a string: a 64 KiB hello may list 30,000 groups.
const maxList = 512

// list writes a client's list comma-separated; past maxList bytes it
// ends with how many entries there were.
func list[T any](vs []T, name func(T) string) string {
	var b strings.Builder
	for i, v := range vs {
		s := name(v)
		if i > 0 && b.Len()+1+len(s) > maxList {
			fmt.Fprintf(&b, ",... (%d in all)", len(vs))
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(logging.Clip(s))
	}
	return b.String()
}

// debugChoice logs the chain chosen for a full handshake, and why.
func (s *Server) debugChoice(h *Hello, c *certs.Chain, why string) {
	if !debugOn(h) {
		return
	}
	if c == nil {
		h.Log.LogAttrs(context.Background(), slog.LevelDebug, "no chain for this client", slog.String("why", why))
		return
	}
	h.Log.LogAttrs(context.Background(), slog.LevelDebug, "chain chosen",
		slog.Int("order", s.order(c)), slog.String("key", c.Algorithm()), slog.String("file", c.CertPath), slog.String("why", why))
}

// order is a chain's 1-based place in the configuration, as start and
// reload log it ("serving certificate" order=N).
func (s *Server) order(c *certs.Chain) int {
	for i, x := range s.Chains {
		if x == c {
			return i + 1
		}
	}
	return 0
}

// Why a session ticket did not resume, for the debug log.
var (
	ticketUnreadable = fmt.Sprintf("not sealed with a current ticket key (made by another process, or its key is older than %gh)", TicketKeyLifetime.Hours())
	ticketTooOld     = fmt.Sprintf("the session's full handshake is older than %gh", MaxSessionAge.Hours())
)

const (
	ticketForeign     = "no session record of this proxy in it"
	ticketFuture      = "the session's full handshake is dated in the future"
	ticketPolicy      = "the client policy changed since (pqc_mode, client_cert_mode, min_tls_version, client CAs)"
	ticketServerName  = "the client asks for another server name than the session's"
	ticketLeafDropped = "the certificate the session was served is no longer served for its name"
)

// debugTicket logs whether a session ticket the client offered passes
// this proxy's checks; why is empty when it does.
func debugTicket(h *Hello, why string) {
	if !debugOn(h) {
		return
	}
	if why == "" {
		h.Log.LogAttrs(context.Background(), slog.LevelDebug, "session ticket accepted",
			slog.String("cert_alg", h.ticket.alg), slog.String("age", h.ticket.age()))
		return
	}
	h.Log.LogAttrs(context.Background(), slog.LevelDebug, "session ticket declined: full handshake", slog.String("why", why))
}

// DebugResumption logs, after a handshake, a ticket this proxy accepted
// that crypto/tls still declined (a cipher suite no longer in common, or
// client certificates the current CAs do not verify).
func DebugResumption(h *Hello, c *tls.Conn) {
	if h.ticket == nil || !debugOn(h) || c.ConnectionState().DidResume {
		return
	}
	h.Log.LogAttrs(context.Background(), slog.LevelDebug, "session ticket declined by crypto/tls: full handshake",
		slog.String("why", "cipher suite or client certificate no longer acceptable"))
}
