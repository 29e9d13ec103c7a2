package proxy

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// A TLS 1.2 client that offers only CBC suites, which the proxy no longer
// serves, is refused with handshake_failure, and the log says it offered
// no suite in common, not that ML-DSA needs TLS 1.3 (what crypto/tls says,
// with internal_error, when the ML-DSA chain is the one it is handed).
func TestCBCOnlyClientIsToldWhy(t *testing.T) {
	h := start(t, baseConfig(), nil) // the ML-DSA chain first, then ECDSA
	cc := clientConfig(t)
	cc.MaxVersion = tls.VersionTLS12
	cc.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}
	c, err := tls.Dial("tcp", h.addr, cc)
	if err == nil {
		c.Close()
		t.Fatal("a CBC-only TLS 1.2 client was served")
	}
	if !strings.Contains(err.Error(), "handshake failure") {
		t.Errorf("the client saw %v, want a handshake_failure alert", err)
	}
	if rec := h.log.wait(t, "handshake refused"); !strings.Contains(rec["error"], "no cipher suite supported by both client and server") || rec["reason"] != "no_shared_cipher" {
		t.Errorf("refusal logged %v, want reason no_shared_cipher and crypto/tls's cipher suite error", rec)
	}
}

// A client that can verify no served chain (here TLS 1.2, where ML-DSA is
// not defined, against an ML-DSA chain alone) is refused with a reason of
// its own and a hint naming the fix, not handshake_failed.
func TestClientWithoutSharedSignatureAlgorithmIsToldWhy(t *testing.T) {
	cfg := baseConfig()
	dir := pki(t)
	cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey)}}
	h := start(t, cfg, nil)
	cc := clientConfig(t)
	cc.MaxVersion = tls.VersionTLS12
	if c, err := tls.Dial("tcp", h.addr, cc); err == nil {
		c.Close()
		t.Fatal("a TLS 1.2 client was served an ML-DSA chain")
	}
	rec := h.log.wait(t, "handshake refused")
	if rec["reason"] != "no_shared_signature_algorithm" || !strings.Contains(rec["hint"], "add an ECDSA chain after the ML-DSA one") {
		t.Errorf("refusal logged %v, want reason no_shared_signature_algorithm and a hint", rec)
	}
}
