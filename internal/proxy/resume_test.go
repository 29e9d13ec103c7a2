package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// reload swaps in a snapshot built from cfg, as SIGHUP does.
func reload(t *testing.T, h *harness, cfg *config.Config) {
	t.Helper()
	h.proxy.Swap(snapshot(t, cfg, h.backend.Addr().String()))
}

// exchange connects, echoes one line and returns what the client saw, or
// the error of the handshake or of the first read (a TLS 1.3 client learns
// of its refusal there, after its Finished).
func exchange(addr string, cc *tls.Config) (tls.ConnectionState, error) {
	c, err := tls.Dial("tcp", addr, cc)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	msg := "post-quantum hello\n"
	if _, err := io.WriteString(c, msg); err != nil {
		return tls.ConnectionState{}, err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && got != msg {
		err = io.ErrUnexpectedEOF
	}
	return c.ConnectionState(), err
}

// next returns the next log record with message msg that this test has
// not yet looked at (connections here run one after another).
func next(t *testing.T, h *harness, msg string) map[string]string {
	t.Helper()
	if h.seen == nil {
		h.seen = map[string]int{}
	}
	h.seen[msg]++
	return h.log.waitN(t, msg, h.seen[msg])[h.seen[msg]-1]
}

// resumingClient is a Go client with its default session cache.
func resumingClient(t *testing.T) *tls.Config {
	cc := clientConfig(t)
	cc.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	return cc
}

// Both TLS versions resume, and the resumed connection is logged with the
// algorithm of the chain served when the session began, from the ticket.
func TestResumedLogsTheSessionsChain(t *testing.T) {
	h := start(t, baseConfig(), nil)
	for _, tc := range []struct {
		max  uint16
		want string
	}{{tls.VersionTLS13, "ML-DSA-65"}, {tls.VersionTLS12, "ECDSA P-256"}} {
		cc := resumingClient(t)
		cc.MaxVersion = tc.max
		for i := range 2 {
			cs, err := exchange(h.addr, cc)
			if err != nil || cs.DidResume != (i == 1) {
				t.Fatalf("%s connection %d: resumed %v, %v", tls.VersionName(tc.max), i+1, cs.DidResume, err)
			}
			rec := next(t, h, "connection closed")
			if rec["cert_alg"] != tc.want || rec["resumed"] != map[bool]string{false: "false", true: "true"}[i == 1] {
				t.Errorf("%s connection %d logged %v; want cert_alg %s", tls.VersionName(tc.max), i+1, rec, tc.want)
			}
		}
	}
}

// A reload never lets in, through a ticket, a client the new snapshot
// would refuse; a reload that changes nothing about clients keeps
// resumption.
func TestTicketsAcrossReload(t *testing.T) {
	mldsaClient := func() *tls.Config {
		return withClientCert(t, resumingClient(t), certs.ClientMLDSACert, certs.ClientMLDSAKey)
	}
	for _, tc := range []struct {
		name        string
		before      func(*config.Config)
		client      func() *tls.Config
		after       func(*config.Config)
		wantResumed bool
		wantReason  string // refused with this reason; "" means served
	}{
		{"unrelated reload", func(*config.Config) {}, func() *tls.Config { return resumingClient(t) },
			func(c *config.Config) { c.IdleTimeout = time.Minute }, true, ""},
		{"client_cert_mode none to required", func(*config.Config) {}, func() *tls.Config { return resumingClient(t) },
			func(c *config.Config) { c.ClientCertMode = config.ClientCertRequired }, false, tlsconf.ReasonNoClientCert},
		{"client roots changed", func(c *config.Config) { c.ClientCertMode = config.ClientCertRequired }, mldsaClient,
			func(c *config.Config) {
				c.ClientCertMode = config.ClientCertRequired
				c.CACertPath = filepath.Join(pki(t), certs.ECDSARootCert)
			}, false, tlsconf.ReasonNoClientCert}, // the Go client holds no certificate the new roots issued
		{"pqc_mode hybrid to strict", func(*config.Config) {}, func() *tls.Config { return resumingClient(t) },
			func(c *config.Config) { c.PQCMode, c.MinTLSVersion = config.PQCStrict, "1.3" }, false, ""},
		{"strict_client_classical_issuer withdrawn", func(c *config.Config) {
			c.PQCMode, c.MinTLSVersion, c.ClientCertMode, c.StrictClientClassicalIssuer = config.PQCStrict, "1.3", config.ClientCertRequired, true
		}, func() *tls.Config {
			return withClientCert(t, resumingClient(t), certs.ClientHybridCert, certs.ClientHybridKey)
		},
			func(c *config.Config) {
				c.PQCMode, c.MinTLSVersion, c.ClientCertMode = config.PQCStrict, "1.3", config.ClientCertRequired
			},
			false, tlsconf.ReasonClientChainNotPQ},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.before(cfg)
			h := start(t, cfg, nil)
			cc := tc.client()
			if cs, err := exchange(h.addr, cc); err != nil || cs.DidResume {
				t.Fatalf("first connection: resumed %v, %v", cs.DidResume, err)
			}
			next(t, h, "connection closed")
			after := baseConfig()
			tc.after(after)
			reload(t, h, after)
			cs, err := exchange(h.addr, cc)
			if tc.wantReason != "" {
				if err == nil {
					t.Fatalf("a client with a ticket got in after the reload (resumed %v)", cs.DidResume)
				}
				if rec := next(t, h, "handshake refused"); rec["reason"] != tc.wantReason {
					t.Errorf("refusal logged %v; want reason %s", rec, tc.wantReason)
				}
				return
			}
			if err != nil || cs.DidResume != tc.wantResumed {
				t.Fatalf("after the reload: resumed %v, %v; want resumed %v", cs.DidResume, err, tc.wantResumed)
			}
		})
	}
}

// SNI binding is strict: a chain bound to names is never served to a
// client asking for another name, or for none; with no chain for it the
// handshake is refused with unrecognized_name, and the reason is logged.
func TestServerNameBindingIsStrict(t *testing.T) {
	dir := pki(t)
	cfg := baseConfig()
	cfg.Certificates = []config.CertPair{
		{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey), ServerNames: []string{"pq.localhost"}},
		{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey), ServerNames: []string{"localhost"}},
	}
	h := start(t, cfg, nil)
	for _, tc := range []struct{ sni, want string }{
		{"localhost", "ECDSA P-256"}, {"pq.localhost", "ML-DSA-65"}, {"other.example", ""}, {"", ""},
	} {
		cc := resumingClient(t)
		cc.ServerName = tc.sni
		cc.InsecureSkipVerify = true // the dev certificates do not name pq.localhost
		cs, err := exchange(h.addr, cc)
		if tc.want != "" {
			if err != nil {
				t.Fatalf("SNI %q: %v", tc.sni, err)
			}
			if got := certs.Algorithm(cs.PeerCertificates[0].PublicKey); got != tc.want {
				t.Errorf("SNI %q: served %s, want %s", tc.sni, got, tc.want)
			}
			next(t, h, "connection closed")
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "tls: unrecognized name") {
			t.Fatalf("SNI %q: client saw %v; want the unrecognized_name alert", tc.sni, err)
		}
		rec := next(t, h, "handshake refused")
		if rec["reason"] != tlsconf.ReasonUnrecognizedName || rec["sni"] != tc.sni {
			t.Errorf("SNI %q: logged %v", tc.sni, rec)
		}
	}
}

// pqc_mode strict with client certificates: a full ML-DSA chain is
// accepted; an ML-DSA key under a classical issuer only with
// strict_client_classical_issuer, and the refusal names that option.
func TestStrictClientChain(t *testing.T) {
	for _, classicalIssuer := range []bool{false, true} {
		cfg := baseConfig()
		cfg.PQCMode, cfg.MinTLSVersion, cfg.ClientCertMode = config.PQCStrict, "1.3", config.ClientCertRequired
		cfg.StrictClientClassicalIssuer = classicalIssuer
		h := start(t, cfg, nil)
		if _, err := exchange(h.addr, withClientCert(t, resumingClient(t), certs.ClientMLDSACert, certs.ClientMLDSAKey)); err != nil {
			t.Fatalf("classical issuer option %v: full ML-DSA chain refused: %v", classicalIssuer, err)
		}
		h.log.wait(t, "connection closed")
		_, err := exchange(h.addr, withClientCert(t, resumingClient(t), certs.ClientHybridCert, certs.ClientHybridKey))
		if classicalIssuer {
			if err != nil {
				t.Fatalf("ML-DSA key under an ECDSA issuer refused with the option: %v", err)
			}
			continue
		}
		if err == nil {
			t.Fatal("strict mode accepted an ML-DSA key under an ECDSA issuer")
		}
		rec := h.log.wait(t, "handshake refused")
		if rec["reason"] != tlsconf.ReasonClientChainNotPQ || !strings.Contains(rec["hint"], "set strict_client_classical_issuer") {
			t.Errorf("log: %v", rec)
		}
	}
}
