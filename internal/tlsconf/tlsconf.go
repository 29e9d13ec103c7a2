// Package tlsconf holds the whole TLS policy in one place: it turns a
// [config.Config] into a *tls.Config (post-quantum groups, the served chains
// in order of preference, client authentication) and classifies refused
// handshakes.
package tlsconf

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/hashicorp/go-multierror"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// Hybrid post-quantum groups, in Go's own order of preference
// (draft-ietf-tls-ecdhe-mlkem). Go ignores the order of CurvePreferences.
var pqGroups = []tls.CurveID{tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024}

var classicalGroups = []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384}

// IsPQ reports whether a negotiated group is a hybrid post-quantum one.
// It is the only test of "is this connection post-quantum": it looks at
// what was negotiated (tls.ConnectionState.CurveID), never at a name.
func IsPQ(id tls.CurveID) bool {
	switch id {
	case tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024, tls.MLKEM1024:
		return true
	}
	return false
}

// Server is the TLS side of one immutable snapshot of the configuration.
type Server struct {
	TLS    *tls.Config
	Chains []*certs.Chain
	// Roots are the client CA certificates, if client certificates are checked.
	Roots []*x509.Certificate
	Mode  config.PQCMode
	// ClientAuth is the client certificate mode.
	ClientAuth config.ClientCertMode
	// ClassicalIssuer relaxes pqc_mode strict for client chains: an ML-DSA
	// client key may be signed by a classical issuer.
	ClassicalIssuer bool
	// Peer holds the allow rules and CRLs a client certificate must pass;
	// never nil.
	Peer   *PeerCheck
	names  [][]string // server_names of each chain
	leaves [][32]byte // SHA-256 of each chain's leaf, for tickets
	policy [32]byte   // policyFingerprint, for tickets
}

// Hello is what the server learnt of one client's ClientHello and what it
// chose for it. The connection wrapper that the proxy hands to tls.Server
// provides it through [HelloRecorder], so that refused handshakes can be
// explained and the served certificate logged without per-connection maps.
type Hello struct {
	Seen       bool
	ServerName string
	PQOffered  bool         // the client listed a hybrid post-quantum group
	Chain      *certs.Chain // the chain served on a full handshake
	// NoChain is set when no chain is bound to the client's server name
	// (or to none), so the handshake was refused with unrecognized_name.
	NoChain bool
	// TicketAlg is the served key algorithm recorded in the session ticket
	// the client resumed; it is meaningful only when the handshake resumed.
	TicketAlg string
	ticket    *session
	// Log, if set, receives this handshake's debug lines (what the client
	// offered, the chain chosen and why, what became of its session
	// ticket); the proxy sets it to the connection's logger. Nothing is
	// built for them unless the logger is enabled at debug.
	Log *slog.Logger
}

// HelloRecorder is implemented by connections that keep a [Hello].
type HelloRecorder interface{ Hello() *Hello }

// Errors from client verification, for classification.
var (
	errClientKeyNotMLDSA    = errors.New("client certificate key is not ML-DSA (pqc_mode strict)")
	errClientIssuerNotMLDSA = errors.New("client certificate chain is not signed with ML-DSA throughout (pqc_mode strict)")
)

// cipherSuites are the TLS 1.2 suites served: ECDHE key exchange (forward
// secrecy) with an AEAD only, as RFC 9325 section 4.2 recommends; no CBC,
// no RSA key exchange. TLS 1.3 suites are not configurable in Go and are
// all AEAD.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// New loads every chain and the client CA bundle and builds the policy.
// Every problem is reported, one per file.
func New(cfg *config.Config) (*Server, error) {
	s := &Server{Mode: cfg.PQCMode, ClientAuth: cfg.ClientCertMode, ClassicalIssuer: cfg.StrictClientClassicalIssuer}
	var problems *multierror.Error
	for _, p := range cfg.Certificates {
		c, err := certs.LoadChain(p.CertPath, p.KeyPath)
		if err != nil {
			problems = multierror.Append(problems, keyOwner(err, cfg.Certificates))
			continue
		}
		s.Chains = append(s.Chains, c)
		s.names = append(s.names, p.ServerNames)
		s.leaves = append(s.leaves, sha256.Sum256(c.Leaf().Raw))
	}
	var pool *x509.CertPool
	s.Peer = &PeerCheck{}
	if cfg.ClientCertMode != config.ClientCertNone {
		var err error
		pool, s.Roots, err = certs.LoadPool(cfg.CACertPath)
		if err != nil {
			problems = multierror.Append(problems, err)
		} else {
			var crlProblems []error
			if s.Peer, crlProblems = newPeerCheck(cfg, s.Roots); len(crlProblems) > 0 {
				problems = multierror.Append(problems, crlProblems...)
			}
		}
	}
	if problems != nil {
		return nil, &config.Error{Problems: problems.Errors}
	}
	s.TLS = &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     cipherSuites,
		CurvePreferences: groups(cfg.PQCMode),
		// The hook records what the client offered and returns this
		// config with the connection's own callbacks (see configFor);
		// crypto/tls then refuses clients with the alerts RFC 8446 names.
		GetConfigForClient: s.configFor,
		ClientCAs:          pool,
		ClientAuth:         clientAuth(cfg.ClientCertMode),
	}
	if cfg.MinTLSVersion == "1.3" {
		s.TLS.MinVersion = tls.VersionTLS13
	}
	if s.strictClient() || !s.Peer.Empty() {
		// VerifyConnection runs on every handshake, resumed ones included
		// (crypto/tls handshake_server_tls13.go, readClientCertificate),
		// with the chains verified then or carried in the ticket.
		s.TLS.VerifyConnection = s.verifyClient
	}
	s.policy = policyFingerprint(s, s.TLS.MinVersion)
	return s, nil
}

func groups(mode config.PQCMode) []tls.CurveID {
	switch mode {
	case config.PQCStrict:
		return pqGroups
	case config.PQCClassical:
		return classicalGroups
	}
	return append(append([]tls.CurveID{}, pqGroups...), classicalGroups...)
}

func clientAuth(m config.ClientCertMode) tls.ClientAuthType {
	switch m {
	case config.ClientCertRequired:
		return tls.RequireAndVerifyClientCert
	case config.ClientCertOptional:
		return tls.VerifyClientCertIfGiven
	}
	return tls.NoClientCert
}

// keyOwner completes a key that does not match its certificate with the
// configured certificate it belongs to, if any: most often two key paths
// were swapped.
func keyOwner(err error, pairs []config.CertPair) error {
	var m *certs.MismatchError
	if !errors.As(err, &m) {
		return err
	}
	m.Searched = true
	for _, p := range pairs {
		if p.CertPath != m.CertPath && certs.Matches(m.Key, p.CertPath) {
			m.Owner = p.CertPath
			break
		}
	}
	return m
}

// configFor records what the client offered and returns, for this one
// connection, a shallow copy of the snapshot's config whose callbacks know
// the connection: crypto/tls hands WrapSession and UnwrapSession no
// net.Conn, and the ticket must carry the chain this connection was served.
// A Clone shares the immutable parts (certificates, pools, slices).
func (s *Server) configFor(chi *tls.ClientHelloInfo) (*tls.Config, error) {
	h := new(Hello)
	if r, ok := chi.Conn.(HelloRecorder); ok {
		h = r.Hello()
	}
	h.Seen = true
	h.ServerName = chi.ServerName
	for _, g := range chi.SupportedCurves {
		if IsPQ(g) {
			h.PQOffered = true
		}
	}
	debugHello(h, chi)
	c := s.TLS.Clone()
	c.GetConfigForClient = nil
	c.GetCertificate = func(chi *tls.ClientHelloInfo) (*tls.Certificate, error) { return s.certificate(h, chi) }
	c.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) { return s.wrap(h, cs, ss) }
	c.UnwrapSession = func(id []byte, cs tls.ConnectionState) (*tls.SessionState, error) { return s.unwrap(h, id, cs) }
	return c, nil
}

// requireMLDSAClient enforces pqc_mode strict on client certificates: an
// ML-DSA key, and unless ClassicalIssuer, a verified chain in which every
// certificate is signed by an ML-DSA key (the root's own signature is not
// part of verification, so its key is what counts).
func (s *Server) requireMLDSAClient(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	if leaf := cs.PeerCertificates[0]; !certs.IsMLDSA(leaf.PublicKey) {
		return fmt.Errorf("%w: it is %s", errClientKeyNotMLDSA, certs.Algorithm(leaf.PublicKey))
	}
	if s.ClassicalIssuer {
		return nil
	}
	for _, chain := range cs.VerifiedChains {
		if signedWithMLDSA(chain) {
			return nil
		}
	}
	return errClientIssuerNotMLDSA
}

func signedWithMLDSA(chain []*x509.Certificate) bool {
	if len(chain) == 0 {
		return false
	}
	for _, c := range chain[1:] {
		if !certs.IsMLDSA(c.PublicKey) {
			return false
		}
	}
	return true
}

// certificate picks the first configured chain the client supports among
// those bound to its SNI name or to no name. crypto/tls's own choice would
// do the same minus the name binding (Config.getCertificate). When no
// chain may be served to that name it returns nil and no error: with
// Config.Certificates empty, crypto/tls then refuses the handshake with
// the unrecognized_name alert (RFC 6066 section 3; handshake_server.go and
// handshake_server_tls13.go, errNoCertificates).
func (s *Server) certificate(h *Hello, chi *tls.ClientHelloInfo) (*tls.Certificate, error) {
	c, why := s.choose(chi)
	h.Chain = c
	s.debugChoice(h, c, why)
	if c == nil {
		h.NoChain = true
		return nil, nil
	}
	return &c.TLS, nil
}

// Why a chain was chosen, or none: the reason [Server.choose] gives, for
// the debug log and for check.
const (
	whyBound      = "bound to the server name, and the client accepts its signature algorithm"
	whyAnyName    = "served for any name, and the client accepts it (signature algorithm and, when it sent one, server name)"
	whyAlgorithm  = "no chain both covers the server name and has a signature algorithm the client accepts: the first chain served for any name whose algorithm it accepts; the name is the client's to check"
	whyUnaccepted = "the client accepts the signature algorithm of no chain it may be served: the first of those, for the client to refuse"
	whyTLS12      = "the client accepts the signature algorithm of no chain it may be served, speaks only TLS 1.2, and every such chain is ML-DSA (TLS 1.3 only): the first, for crypto/tls to refuse"
	whyNoChain    = "every chain is bound to other server names: refused with unrecognized_name"
)

// choose picks the chain for a ClientHello and says why (one of the why
// constants).
func (s *Server) choose(chi *tls.ClientHelloInfo) (*certs.Chain, string) {
	// anyName asks only whether the client can verify the chain's
	// signatures: for a chain bound to the client's name, the operator has
	// vouched for the name.
	anyName := *chi
	anyName.ServerName = ""
	for i, c := range s.Chains {
		switch {
		case len(s.names[i]) == 0 && chi.SupportsCertificate(&c.TLS) == nil:
			return c, whyAnyName
		case len(s.names[i]) > 0 && matchName(s.names[i], chi.ServerName) && anyName.SupportsCertificate(&c.TLS) == nil:
			return c, whyBound
		}
	}
	// No chain fits both the name and the client: prefer a supported
	// algorithm over a matching name, since the name check is the client's.
	for i, c := range s.Chains {
		if len(s.names[i]) == 0 && anyName.SupportsCertificate(&c.TLS) == nil {
			return c, whyAlgorithm
		}
	}
	// Then the first chain this name may have, for the client to refuse;
	// a chain bound to other names is never served (it would tell anyone
	// who asks the names it is for). One usable at the client's version
	// comes first: to a TLS 1.2 client, crypto/tls refuses an ML-DSA chain
	// with internal_error and "ML-DSA certificates require TLS 1.3", which
	// would hide the real cause (most often no cipher suite in common).
	tls13 := slices.Contains(chi.SupportedVersions, tls.VersionTLS13)
	var fallback *certs.Chain
	for i, c := range s.Chains {
		if len(s.names[i]) == 0 || matchName(s.names[i], chi.ServerName) {
			if tls13 || !certs.IsMLDSA(c.Leaf().PublicKey) {
				return c, whyUnaccepted
			}
			if fallback == nil {
				fallback = c
			}
		}
	}
	if fallback != nil {
		return fallback, whyTLS12
	}
	return nil, whyNoChain
}

// ServesName reports whether chain i may be served to a client asking
// for name: it is bound to no server names, or to one that matches.
func (s *Server) ServesName(i int, name string) bool {
	return len(s.names[i]) == 0 || matchName(s.names[i], name)
}

func matchName(names []string, sni string) bool {
	sni = strings.ToLower(strings.TrimSuffix(sni, "."))
	for _, n := range names {
		n = strings.ToLower(n)
		if n == sni {
			return true
		}
		// A wildcard stands for exactly one label, and a label is not
		// empty (RFC 6125 section 6.4.3): ".example.com" is no name under
		// "*.example.com", though crypto/tls passes such an SNI on.
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if label, after, found := strings.Cut(sni, "."); found && label != "" && after == rest {
				return true
			}
		}
	}
	return false
}
