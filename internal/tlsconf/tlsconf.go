// Package tlsconf holds the whole TLS policy in one place: it turns a
// [config.Config] into a *tls.Config (post-quantum groups, the served chains
// in order of preference, client authentication) and classifies refused
// handshakes.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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
	names      [][]string // server_names of each chain
}

// Hello is what the server learnt of one client's ClientHello and what it
// chose for it. The connection wrapper that the proxy hands to tls.Server
// provides it through [HelloRecorder], so that refused handshakes can be
// explained and the served certificate logged without per-connection maps.
type Hello struct {
	Seen       bool
	ServerName string
	PQOffered  bool         // the client listed a hybrid post-quantum group
	Chain      *certs.Chain // the chain served
}

// HelloRecorder is implemented by connections that keep a [Hello].
type HelloRecorder interface{ Hello() *Hello }

// Errors from client verification, for classification.
var errClientKeyNotMLDSA = errors.New("client certificate key is not ML-DSA (pqc_mode strict)")

// New loads every chain and the client CA bundle and builds the policy.
// Every problem is reported, one per file.
func New(cfg *config.Config) (*Server, error) {
	s := &Server{Mode: cfg.PQCMode, ClientAuth: cfg.ClientCertMode}
	var problems *multierror.Error
	for _, p := range cfg.Certificates {
		c, err := certs.LoadChain(p.CertPath, p.KeyPath)
		if err != nil {
			problems = multierror.Append(problems, err)
			continue
		}
		s.Chains = append(s.Chains, c)
		s.names = append(s.names, p.ServerNames)
	}
	var pool *x509.CertPool
	if cfg.ClientCertMode != config.ClientCertNone {
		var err error
		pool, s.Roots, err = certs.LoadPool(cfg.CACertPath)
		if err != nil {
			problems = multierror.Append(problems, err)
		}
	}
	if problems != nil {
		return nil, &config.Error{Problems: problems.Errors}
	}
	s.TLS = &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CurvePreferences: groups(cfg.PQCMode),
		GetCertificate:   s.certificate,
		// The hook only records what the client offered; it returns nil so
		// that crypto/tls refuses clients with the alerts RFC 8446 names.
		GetConfigForClient: recordHello,
		ClientCAs:          pool,
		ClientAuth:         clientAuth(cfg.ClientCertMode),
	}
	if cfg.MinTLSVersion == "1.3" {
		s.TLS.MinVersion = tls.VersionTLS13
	}
	if cfg.PQCMode == config.PQCStrict && cfg.ClientCertMode != config.ClientCertNone {
		s.TLS.VerifyConnection = requireMLDSAClient
	}
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

func recordHello(chi *tls.ClientHelloInfo) (*tls.Config, error) {
	if r, ok := chi.Conn.(HelloRecorder); ok {
		h := r.Hello()
		h.Seen = true
		h.ServerName = chi.ServerName
		for _, g := range chi.SupportedCurves {
			if IsPQ(g) {
				h.PQOffered = true
			}
		}
	}
	return nil, nil
}

func requireMLDSAClient(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) > 0 && !certs.IsMLDSA(cs.PeerCertificates[0].PublicKey) {
		return fmt.Errorf("%w: it is %s", errClientKeyNotMLDSA, certs.Algorithm(cs.PeerCertificates[0].PublicKey))
	}
	return nil
}

// certificate picks the first configured chain the client supports among
// those bound to its SNI name or to no name. crypto/tls's own choice would
// do the same minus the name binding (Config.getCertificate).
func (s *Server) certificate(chi *tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := s.choose(chi)
	if r, ok := chi.Conn.(HelloRecorder); ok {
		r.Hello().Chain = c
	}
	return &c.TLS, nil
}

func (s *Server) choose(chi *tls.ClientHelloInfo) *certs.Chain {
	// anyName asks only whether the client can verify the chain's
	// signatures: for a chain bound to the client's name, the operator has
	// vouched for the name.
	anyName := *chi
	anyName.ServerName = ""
	for i, c := range s.Chains {
		switch {
		case len(s.names[i]) == 0 && chi.SupportsCertificate(&c.TLS) == nil:
			return c
		case len(s.names[i]) > 0 && matchName(s.names[i], chi.ServerName) && anyName.SupportsCertificate(&c.TLS) == nil:
			return c
		}
	}
	// No chain fits both the name and the client: prefer a supported
	// algorithm over a matching name, since the name check is the client's.
	for i, c := range s.Chains {
		if len(s.names[i]) == 0 && anyName.SupportsCertificate(&c.TLS) == nil {
			return c
		}
	}
	return s.Chains[0]
}

func matchName(names []string, sni string) bool {
	sni = strings.ToLower(strings.TrimSuffix(sni, "."))
	for _, n := range names {
		n = strings.ToLower(n)
		if n == sni {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if _, after, found := strings.Cut(sni, "."); found && after == rest {
				return true
			}
		}
	}
	return false
}
