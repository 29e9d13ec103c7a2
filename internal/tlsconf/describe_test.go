package tlsconf

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// check says what each kind of client gets for each server name a chain
// is bound to, and for clients asking for no name or another one. The
// development chains cover localhost only.
func TestDescribeEachServerName(t *testing.T) {
	dir := t.TempDir()
	if _, err := certs.WriteDevPKI(dir, false); err != nil {
		t.Fatal(err)
	}
	mldsa := config.CertPair{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey)}
	ecdsa := config.CertPair{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey)}
	bound := func(p config.CertPair, names ...string) config.CertPair { p.ServerNames = names; return p }
	for _, tc := range []struct {
		name  string
		pairs []config.CertPair
		edit  func(*config.Config)
		want  string
	}{
		{"no names bound", []config.CertPair{mldsa, ecdsa}, nil, `
PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):
  key exchange X25519MLKEM768, served chain ML-DSA-65 (DIR/server-mldsa.crt)
TLS 1.3 client without PQ (X25519, ECDSA/RSA signatures):
  key exchange X25519, served chain ECDSA P-256 (DIR/server-ecdsa.crt)
TLS 1.2 client:
  key exchange X25519, served chain ECDSA P-256 (DIR/server-ecdsa.crt)
`},
		{"ML-DSA bound to a name, ECDSA for the rest", []config.CertPair{bound(mldsa, "localhost"), ecdsa}, nil, `
clients asking for localhost:
  PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):
    key exchange X25519MLKEM768, served chain ML-DSA-65 (DIR/server-mldsa.crt)
  TLS 1.3 client without PQ (X25519, ECDSA/RSA signatures):
    key exchange X25519, served chain ECDSA P-256 (DIR/server-ecdsa.crt)
  TLS 1.2 client:
    key exchange X25519, served chain ECDSA P-256 (DIR/server-ecdsa.crt)
clients asking for no server name, or a name no chain is bound to:
  PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):
    key exchange X25519MLKEM768, served chain ECDSA P-256 (DIR/server-ecdsa.crt)
  TLS 1.3 client without PQ (X25519, ECDSA/RSA signatures):
    key exchange X25519, served chain ECDSA P-256 (DIR/server-ecdsa.crt)
  TLS 1.2 client:
    key exchange X25519, served chain ECDSA P-256 (DIR/server-ecdsa.crt)
`},
		{"every chain bound; a name the certificate does not cover", []config.CertPair{bound(mldsa, "localhost"), bound(ecdsa, "*.example.com", "localhost")}, nil, `
clients asking for localhost:
  PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):
    key exchange X25519MLKEM768, served chain ML-DSA-65 (DIR/server-mldsa.crt)
  TLS 1.3 client without PQ (X25519, ECDSA/RSA signatures):
    key exchange X25519, served chain ECDSA P-256 (DIR/server-ecdsa.crt)
  TLS 1.2 client:
    key exchange X25519, served chain ECDSA P-256 (DIR/server-ecdsa.crt)
clients asking for a name under example.com (e.g. x.example.com):
  PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):
    key exchange X25519MLKEM768, served chain ECDSA P-256 (DIR/server-ecdsa.crt); the certificate does not cover *.example.com, so the client will refuse it
  TLS 1.3 client without PQ (X25519, ECDSA/RSA signatures):
    key exchange X25519, served chain ECDSA P-256 (DIR/server-ecdsa.crt); the certificate does not cover *.example.com, so the client will refuse it
  TLS 1.2 client:
    key exchange X25519, served chain ECDSA P-256 (DIR/server-ecdsa.crt); the certificate does not cover *.example.com, so the client will refuse it
clients asking for no server name, or a name no chain is bound to:
  PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):
    refused (unrecognized_name): every chain is bound to server names
  TLS 1.3 client without PQ (X25519, ECDSA/RSA signatures):
    refused (unrecognized_name): every chain is bound to server names
  TLS 1.2 client:
    refused (unrecognized_name): every chain is bound to server names
`},
		{"only ML-DSA for a name, strict", []config.CertPair{bound(mldsa, "localhost"), ecdsa}, func(c *config.Config) { c.PQCMode, c.MinTLSVersion = config.PQCStrict, "1.3" }, `
clients asking for localhost:
  PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):
    key exchange X25519MLKEM768, served chain ML-DSA-65 (DIR/server-mldsa.crt)
  TLS 1.3 client without PQ (X25519, ECDSA/RSA signatures):
    refused: no key exchange group in common (pqc_mode strict)
  TLS 1.2 client:
    refused: protocol version below min_tls_version
clients asking for no server name, or a name no chain is bound to:
  PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):
    key exchange X25519MLKEM768, served chain ECDSA P-256 (DIR/server-ecdsa.crt)
  TLS 1.3 client without PQ (X25519, ECDSA/RSA signatures):
    refused: no key exchange group in common (pqc_mode strict)
  TLS 1.2 client:
    refused: protocol version below min_tls_version
`},
		{"a name whose only chain the client cannot verify", []config.CertPair{bound(mldsa, "localhost"), bound(ecdsa, "ecdsa.example")}, nil, `
clients asking for localhost:
  PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):
    key exchange X25519MLKEM768, served chain ML-DSA-65 (DIR/server-mldsa.crt)
  TLS 1.3 client without PQ (X25519, ECDSA/RSA signatures):
    refused: no chain it may be served has a signature algorithm it accepts
  TLS 1.2 client:
    refused: no chain it may be served has a signature algorithm it accepts
clients asking for ecdsa.example:
  PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):
    key exchange X25519MLKEM768, served chain ECDSA P-256 (DIR/server-ecdsa.crt); the certificate does not cover ecdsa.example, so the client will refuse it
  TLS 1.3 client without PQ (X25519, ECDSA/RSA signatures):
    key exchange X25519, served chain ECDSA P-256 (DIR/server-ecdsa.crt); the certificate does not cover ecdsa.example, so the client will refuse it
  TLS 1.2 client:
    key exchange X25519, served chain ECDSA P-256 (DIR/server-ecdsa.crt); the certificate does not cover ecdsa.example, so the client will refuse it
clients asking for no server name, or a name no chain is bound to:
  PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):
    refused (unrecognized_name): every chain is bound to server names
  TLS 1.3 client without PQ (X25519, ECDSA/RSA signatures):
    refused (unrecognized_name): every chain is bound to server names
  TLS 1.2 client:
    refused (unrecognized_name): every chain is bound to server names
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Certificates = tc.pairs
			if tc.edit != nil {
				tc.edit(cfg)
			}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			s.Describe(&b, time.Now())
			out := strings.ReplaceAll(b.String(), dir, "DIR")
			// What clients get starts after the session tickets line and
			// ends before the warnings.
			_, out, _ = strings.Cut(out, "change of client policy\n")
			out, _, _ = strings.Cut(out, "warning: ")
			if got := "\n" + out; got != tc.want {
				t.Errorf("got:%s\nwant:%s", got, tc.want)
			}
		})
	}
}
