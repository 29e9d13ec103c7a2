package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// clientKind is a kind of client, described by what its ClientHello offers.
type clientKind struct {
	name     string
	versions []uint16
	groups   []tls.CurveID
	sigalgs  []tls.SignatureScheme
}

var clientKinds = []clientKind{
	{"PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156)", []uint16{tls.VersionTLS13},
		[]tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
		[]tls.SignatureScheme{tls.MLDSA65, tls.MLDSA44, tls.MLDSA87, tls.ECDSAWithP256AndSHA256, tls.Ed25519, tls.PSSWithSHA256, tls.PKCS1WithSHA256}},
	{"TLS 1.3 client without PQ (X25519, ECDSA/RSA signatures)", []uint16{tls.VersionTLS13},
		[]tls.CurveID{tls.X25519, tls.CurveP256},
		[]tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256, tls.PKCS1WithSHA256}},
	{"TLS 1.2 client", []uint16{tls.VersionTLS12},
		[]tls.CurveID{tls.X25519, tls.CurveP256},
		[]tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256, tls.PKCS1WithSHA256}},
}

// Describe writes, for the operator, the served chains and what each kind
// of client will be served, with the warnings that matter.
func (s *Server) Describe(w io.Writer, now time.Time) {
	fmt.Fprintf(w, "pqc_mode %s, client_cert_mode %s, minimum TLS %s\n", s.Mode, s.ClientAuth, tlsVersion(s.TLS.MinVersion))
	for i, c := range s.Chains {
		fmt.Fprintf(w, "chain %d: %s\n", i+1, ChainSummary(c, now))
		if len(s.names[i]) > 0 {
			fmt.Fprintf(w, "  served only for server names %v, never to clients asking for another name or none\n", s.names[i])
		}
	}
	if !s.servesAnyName() {
		fmt.Fprintf(w, "every chain is bound to server names: clients asking for other names, or for none, are refused (unrecognized_name)\n")
	}
	if s.Mode == config.PQCStrict && s.ClientAuth != config.ClientCertNone {
		if s.ClassicalIssuer {
			fmt.Fprintf(w, "client certificates must have an ML-DSA key; its issuers may sign classically (strict_client_classical_issuer)\n")
		} else {
			fmt.Fprintf(w, "client certificates must have an ML-DSA key and a chain signed with ML-DSA throughout (strict_client_classical_issuer relaxes the issuers)\n")
		}
	}
	fmt.Fprintf(w, "session tickets: a new key every %gh, each opening tickets for %gh; a session resumes for %gh after its full handshake, and not across a change of client policy\n",
		TicketKeyRotation.Hours(), TicketKeyLifetime.Hours(), MaxSessionAge.Hours())
	for _, r := range s.Roots {
		fmt.Fprintf(w, "client CA: %s, %s\n", r.Subject, certs.Algorithm(r.PublicKey))
	}
	if s.Peer != nil {
		s.Peer.Describe(w, "client", s.Roots, now)
	}
	bound := s.boundNames()
	if len(bound) == 0 {
		s.describeClients(w, "", "")
	} else {
		// With chains bound to names, what a client gets depends on the
		// name it asks for: each bound name, then every other (and none).
		for _, n := range bound {
			fmt.Fprintf(w, "clients asking for %s:\n", askingFor(n))
			s.describeClients(w, n, "  ")
		}
		fmt.Fprintf(w, "clients asking for no server name, or a name no chain is bound to:\n")
		s.describeClients(w, "", "  ")
	}
	for _, warning := range s.Warnings() {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
}

// askingFor is a bound server name as the clients who ask for it: a
// wildcard stands for the names under it, which is what clients send.
func askingFor(name string) string {
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		return "a name under " + rest + " (e.g. x." + rest + ")"
	}
	return name
}

// describeClients writes what each kind of client asking for name gets.
func (s *Server) describeClients(w io.Writer, name, indent string) {
	sni := name
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		sni = "quantum-safe-proxy-check." + rest // any one name under the wildcard
	}
	for _, k := range clientKinds {
		chi := &tls.ClientHelloInfo{ServerName: sni, SupportedVersions: k.versions, SupportedCurves: k.groups, SignatureSchemes: k.sigalgs,
			CipherSuites: []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
		fmt.Fprintf(w, "%s%s:\n%s  %s\n", indent, k.name, indent, s.outcome(k, chi, name))
	}
}

// boundNames lists the server_names of every chain, each once, in the
// order of the configuration.
func (s *Server) boundNames() []string {
	var out []string
	for _, names := range s.names {
		for _, n := range names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// outcome says what a client of kind k sending chi gets; name is the
// server_names entry chi stands for, or "" for clients asking for no
// bound name.
func (s *Server) outcome(k clientKind, chi *tls.ClientHelloInfo, name string) string {
	if k.versions[0] < s.TLS.MinVersion {
		return "refused: protocol version below min_tls_version"
	}
	group := ""
	for _, g := range k.groups {
		for _, ours := range s.TLS.CurvePreferences {
			if g == ours && group == "" && (k.versions[0] == tls.VersionTLS13 || !IsPQ(g)) {
				group = g.String()
			}
		}
	}
	if group == "" {
		return "refused: no key exchange group in common (pqc_mode " + string(s.Mode) + ")"
	}
	c, _ := s.choose(chi)
	if c == nil { // only for other names: a bound name has its chain
		return "refused (unrecognized_name): every chain is bound to server names"
	}
	anyName := *chi
	anyName.ServerName = ""
	if anyName.SupportsCertificate(&c.TLS) != nil {
		return "refused: no chain it may be served has a signature algorithm it accepts"
	}
	out := fmt.Sprintf("key exchange %s, served chain %s (%s)", group, c.Algorithm(), c.CertPath)
	if name != "" && !covers(c.Leaf(), name) {
		out += "; the certificate does not cover " + name + ", so the client will refuse it"
	}
	return out
}

// servesAnyName reports whether some chain is bound to no server name.
func (s *Server) servesAnyName() bool {
	for _, n := range s.names {
		if len(n) == 0 {
			return true
		}
	}
	return false
}

// Warnings lists configurations that will fail some clients.
func (s *Server) Warnings() []string {
	var out []string
	if s.Mode == config.PQCClassical {
		out = append(out, "pqc_mode classical: post-quantum key exchange is off; recorded traffic is exposed to a future quantum computer")
	}
	if len(s.Chains) > 0 && certs.IsMLDSA(s.Chains[0].Leaf().PublicKey) && len(s.names[0]) == 0 {
		classical := false
		for _, c := range s.Chains[1:] {
			classical = classical || !certs.IsMLDSA(c.Leaf().PublicKey)
		}
		if classical {
			out = append(out, "an ML-DSA chain is preferred for every client that advertises ML-DSA, and browsers (Chromium 156) advertise it without trusting any ML-DSA root; bind the ML-DSA chain to server names or list the classical chain first if browsers connect")
		} else {
			out = append(out, "only ML-DSA chains are served: clients that do not trust the ML-DSA root, or that speak TLS 1.2, cannot connect; add an ECDSA chain for them")
		}
	}
	for _, c := range s.Chains {
		if err := certs.Validity(c.Leaf(), time.Now()); err != nil {
			out = append(out, fmt.Sprintf("%s: %v; clients will refuse it", c.CertPath, err))
		}
	}
	for i, c := range s.Chains {
		for _, n := range s.names[i] {
			if !covers(c.Leaf(), n) {
				out = append(out, fmt.Sprintf("%s is bound to server name %q, which the certificate does not cover; clients asking for it will refuse the certificate", c.CertPath, n))
			}
		}
	}
	if s.ClassicalIssuer && s.Mode != config.PQCStrict {
		out = append(out, "strict_client_classical_issuer does nothing unless pqc_mode is strict")
	}
	for _, r := range s.Roots {
		if certs.IsMLDSA(r.PublicKey) {
			out = append(out, fmt.Sprintf("client CA %s is ML-DSA: OpenSSL clients withhold client leaves it signed (Go lists no ML-DSA in signature_algorithms_cert, go.dev/issue/82536); Go clients are fine, OpenSSL clients need an ML-DSA key issued by an ECDSA CA", r.Subject))
		}
	}
	if s.Peer != nil {
		out = append(out, s.Peer.Warnings("client", time.Now())...)
	}
	return out
}

// ChainSummary is one line about a served chain: subject, key algorithm,
// expiry and, for ML-DSA keys, how the key was stored and which code
// signs with it (circl, or crypto/mldsa in FIPS 140-3 mode).
func ChainSummary(c *certs.Chain, now time.Time) string {
	leaf := c.Leaf()
	s := fmt.Sprintf("%s, %s, %d certificate(s), expires %s", leaf.Subject, c.Algorithm(), len(c.TLS.Certificate), leaf.NotAfter.UTC().Format(time.DateOnly))
	if c.Form != "" {
		s += ", key " + string(c.Form) + ", signer " + c.Signer()
	}
	if err := certs.Validity(leaf, now); err != nil {
		s += " (" + err.Error() + ")"
	}
	return s
}

func tlsVersion(v uint16) string {
	if v == tls.VersionTLS13 {
		return "1.3"
	}
	return "1.2"
}

// covers reports whether leaf's names cover a server_names entry; for a
// wildcard entry, any one name under it stands for the rest.
func covers(leaf *x509.Certificate, name string) bool {
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		name = "quantum-safe-proxy-check." + rest
	}
	return leaf.VerifyHostname(name) == nil
}
