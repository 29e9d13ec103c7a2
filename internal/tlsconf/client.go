package tlsconf

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/hashicorp/go-multierror"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// Client is the TLS side of one client-mode snapshot: how the proxy
// speaks TLS to the remote server (mode client).
type Client struct {
	// TLS is the config for tls.Client; [Client.ConfigFor] gives each
	// connection its own copy.
	TLS *tls.Config
	// Chains are presented, when the server asks, in order of
	// preference: the first one the server's CertificateRequest accepts.
	Chains []*certs.Chain
	// Roots are the CA certificates the server's certificate must chain to.
	Roots      []*x509.Certificate
	Mode       config.PQCMode
	ServerName string
	// Peer are the checks the server's verified certificate must pass
	// (allow rules, CRLs).
	Peer *PeerCheck
	// OmitMLDSA is advertise_mldsa false: ML-DSA is left out of the
	// ClientHello (see [Client.Apply]).
	OmitMLDSA bool

	policy [32]byte // clientPolicy, which decides the session cache
	probe  probeState
}

// Dialed is what one connection's handshake learnt that crypto/tls's
// ConnectionState does not say: the chain presented to the server.
type Dialed struct {
	Asked bool         // the server asked for a client certificate
	Chain *certs.Chain // the chain presented; nil if none
}

// Errors of the checks client mode makes of the server, for classification.
var (
	errServerNotPQ       = errors.New("server did not negotiate a hybrid post-quantum group")
	errServerKeyNotMLDSA = errors.New("server did not authenticate with ML-DSA")
)

// NewClient loads the client chains, the CA bundle and the peer checks
// and builds the TLS client policy. Every problem is reported, one per
// file.
func NewClient(cfg *config.Config) (*Client, error) {
	c := &Client{Mode: cfg.PQCMode, ServerName: cfg.ServerName, OmitMLDSA: !cfg.AdvertiseMLDSA}
	var problems *multierror.Error
	for _, p := range cfg.Certificates {
		ch, err := certs.LoadChain(p.CertPath, p.KeyPath)
		if err != nil {
			problems = multierror.Append(problems, keyOwner(err, cfg.Certificates))
			continue
		}
		c.Chains = append(c.Chains, ch)
	}
	pool, roots, err := certs.LoadPool(cfg.CACertPath)
	if err != nil {
		problems = multierror.Append(problems, err)
	}
	c.Roots = roots
	if c.Peer, err = NewPeerCheck(cfg); err != nil {
		problems = multierror.Append(problems, err)
	}
	if c.OmitMLDSA {
		if err := checkMLDSAOmitted(); err != nil {
			problems = multierror.Append(problems, err)
		}
	}
	if problems != nil {
		return nil, &config.Error{Problems: problems.Errors}
	}
	c.TLS = &tls.Config{
		MinVersion:       tls.VersionTLS13,
		CipherSuites:     cipherSuites,
		CurvePreferences: groups(cfg.PQCMode),
		RootCAs:          pool,
		// crypto/tls checks the server's certificate against ServerName,
		// a DNS name or an IP address (x509.Certificate.VerifyHostname).
		ServerName: cfg.ServerName,
		// VerifyConnection runs on every handshake, resumed ones
		// included (handshake_client_tls13.go, handshake_client.go),
		// with the server's certificates carried in the session.
		VerifyConnection: c.verify,
	}
	if cfg.MinTLSVersion == "1.2" {
		c.TLS.MinVersion = tls.VersionTLS12
	}
	c.policy = clientPolicy(cfg, c)
	c.TLS.ClientSessionCache = clientSessions.cache(c.policy)
	return c, nil
}

// ConfigFor returns, for one connection, a copy of the config whose
// GetClientCertificate records in d the chain presented. A Clone shares
// the immutable parts, the session cache included.
func (c *Client) ConfigFor(d *Dialed) *tls.Config {
	cfg := c.TLS.Clone()
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		d.Asked = true
		d.Chain = c.chooseChain(cri)
		if d.Chain == nil {
			return &tls.Certificate{}, nil // no certificate: the server decides
		}
		return &d.Chain.TLS, nil
	}
	return cfg
}

// chooseChain picks the first chain the server's CertificateRequest
// accepts (its signature algorithms and, when it lists them, its CAs);
// if it accepts none, the first chain, for the server to judge, as
// crypto/tls's own choice does (Config.getClientCertificate).
func (c *Client) chooseChain(cri *tls.CertificateRequestInfo) *certs.Chain {
	for _, ch := range c.Chains {
		if cri.SupportsCertificate(&ch.TLS) == nil {
			return ch
		}
	}
	if len(c.Chains) > 0 {
		return c.Chains[0]
	}
	return nil
}

// verify is VerifyConnection: the server's chain and name are verified
// (crypto/tls did that, or the session carries what it verified); here
// pqc_mode strict and the peer checks.
func (c *Client) verify(cs tls.ConnectionState) error {
	if c.Mode == config.PQCStrict {
		if !IsPQ(cs.CurveID) {
			return fmt.Errorf("%w (it chose %s); pqc_mode strict requires %s", errServerNotPQ, cs.CurveID, groupNames(pqGroups))
		}
		if len(cs.PeerCertificates) > 0 && !certs.IsMLDSA(cs.PeerCertificates[0].PublicKey) {
			return fmt.Errorf("%w: server authenticated with %s; pqc_mode strict requires ML-DSA", errServerKeyNotMLDSA, certs.Algorithm(cs.PeerCertificates[0].PublicKey))
		}
	}
	if err := c.Peer.Check(cs); err != nil {
		return &errPeerRefused{err}
	}
	return nil
}

func groupNames(ids []tls.CurveID) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = id.String()
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// clientPolicy hashes everything that decides which servers are
// accepted and what is presented to them. Sessions are cached per
// policy (see [clientSessions]).
func clientPolicy(cfg *config.Config, c *Client) [32]byte {
	h := sha256.New()
	for _, v := range []string{string(cfg.PQCMode), cfg.MinTLSVersion, cfg.ServerName} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	for _, list := range [][]string{cfg.AllowCN, cfg.AllowOU, cfg.AllowDNS, cfg.AllowURI, cfg.AllowSPKISHA256} {
		for _, v := range list {
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	if cfg.UnsafeAllowExpiredCRL {
		h.Write([]byte("unsafe_allow_expired_crl\x00"))
	}
	// The CRLs as they are now: the peer checks loaded them a moment ago,
	// and a file that changed in between only costs a full handshake.
	for _, f := range cfg.CRLFiles {
		data, _ := os.ReadFile(f)
		sum := sha256.Sum256(data)
		h.Write(sum[:])
	}
	for _, r := range c.Roots {
		sum := sha256.Sum256(r.Raw)
		h.Write(sum[:])
	}
	h.Write([]byte{2})
	for _, ch := range c.Chains {
		sum := sha256.Sum256(ch.Leaf().Raw)
		h.Write(sum[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// clientSessionCacheSize bounds the cached sessions. crypto/tls keys
// them by server name (Conn.clientSessionCacheKey) and keeps the newest
// ticket for each, so one target needs one entry; the rest covers
// server_name changes across reloads.
const clientSessionCacheSize = 64

// clientSessions keeps the session cache across reloads: a snapshot
// whose policy is the same as the last one's gets the same cache, so
// reconnects after a reload still resume; a policy change gets an empty
// cache.
//
// crypto/tls does re-check a cached session before offering it
// (handshake_client.go, loadSession: the server name, and that a chain
// it verified is still within its validity and ends at a root of the
// current RootCAs), and VerifyConnection runs on the resumed handshake,
// so the new policy's checks do apply to it. But a session that those
// checks now refuse fails the handshake (the cached server certificate
// is all there is to judge) instead of falling back to a full one, in
// which the server could present the certificate the new policy wants;
// and a rotated client certificate would not reach the server while the
// old session resumes. Starting afresh avoids both.
var clientSessions sessionCaches

type sessionCaches struct {
	mu     sync.Mutex
	policy [32]byte
	c      tls.ClientSessionCache
}

func (s *sessionCaches) cache(policy [32]byte) tls.ClientSessionCache {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil || s.policy != policy {
		s.c, s.policy = tls.NewLRUClientSessionCache(clientSessionCacheSize), policy
	}
	return s.c
}
