package proxy

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// At debug, a handshake says what the client offered, which chain it was
// served and why, and what became of the session ticket it brought: one
// accepted, then one declined because a reload changed the client policy.
func TestDebugLinesOfAHandshake(t *testing.T) {
	h := start(t, baseConfig(), nil)
	cc := resumingClient(t)
	cc.NextProtos = []string{"h2", "evil\nproto"}
	if _, err := exchange(h.addr, cc); err != nil {
		t.Fatal(err)
	}
	hello := next(t, h, "client hello")
	for key, want := range map[string]string{
		"level": "DEBUG", "sni": "localhost", "versions": "TLS 1.3,TLS 1.2", "pq_offered": "true", "hello_retry": "false",
		"alpn": `"h2","evil\nproto"`,
	} {
		if hello[key] != want {
			t.Errorf("client hello %s=%q, want %q", key, hello[key], want)
		}
	}
	if !strings.HasPrefix(hello["groups"], "X25519MLKEM768,") || !strings.Contains(hello["signature_algorithms"], "MLDSA65") ||
		hello["client"] == "" {
		t.Errorf("client hello %v", hello)
	}
	chosen := next(t, h, "chain chosen")
	if chosen["order"] != "1" || chosen["key"] != "ML-DSA-65" ||
		chosen["why"] != "served for any name, and the client accepts it (signature algorithm and, when it sent one, server name)" {
		t.Errorf("chain chosen %v", chosen)
	}
	next(t, h, "connection closed")

	if cs, err := exchange(h.addr, cc); err != nil || !cs.DidResume {
		t.Fatalf("second connection: resumed %v, %v", cs.DidResume, err)
	}
	if rec := next(t, h, "session ticket accepted"); rec["cert_alg"] != "ML-DSA-65" {
		t.Errorf("session ticket accepted %v", rec)
	}
	next(t, h, "connection closed")

	after := baseConfig()
	after.ClientCertMode = config.ClientCertOptional
	reload(t, h, after)
	if cs, err := exchange(h.addr, cc); err != nil || cs.DidResume {
		t.Fatalf("after the reload: resumed %v, %v", cs.DidResume, err)
	}
	if rec := next(t, h, "session ticket declined: full handshake"); rec["why"] != "the client policy changed since (pqc_mode, client_cert_mode, min_tls_version, client CAs)" {
		t.Errorf("session ticket declined %v", rec)
	}
	next(t, h, "chain chosen") // a full handshake chooses again
}

// A TLS 1.2 client is served the ECDSA chain, the debug line says why the
// ML-DSA chain listed first was passed over.
func TestDebugChainChoiceTLS12(t *testing.T) {
	h := start(t, baseConfig(), nil)
	cc := clientConfig(t)
	cc.MaxVersion = tls.VersionTLS12
	if _, err := exchange(h.addr, cc); err != nil {
		t.Fatal(err)
	}
	if rec := next(t, h, "chain chosen"); rec["order"] != "2" || rec["key"] != "ECDSA P-256" || rec["versions"] != "" {
		t.Errorf("chain chosen %v", rec)
	}
	if rec := next(t, h, "client hello"); rec["versions"] != "TLS 1.2" || rec["pq_offered"] != "false" {
		t.Errorf("client hello %v", rec)
	}
}
