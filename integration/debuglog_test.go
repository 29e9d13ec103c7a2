package integration

import (
	"strings"
	"testing"
)

// At log_level debug (startProxy's), an OpenSSL 3.5 client's hello is
// logged as it offered it, with the chain chosen for it and why: a
// default client gets the ML-DSA chain, a legacy one the ECDSA chain.
func TestDebugLogsOpenSSLHello(t *testing.T) {
	p := startProxy(t, servingBothChains(echoBackend(t))...)
	runSClient(t, p.addr, "-CAfile", pki("ca.crt"), "-alpn", "h2,http/1.1")
	hello := p.wait(t, "client hello")
	if hello["sni"] != "localhost" || hello["alpn"] != `"h2","http/1.1"` || hello["pq_offered"] != true ||
		!strings.HasPrefix(hello["groups"].(string), "X25519MLKEM768,") || !strings.Contains(hello["signature_algorithms"].(string), "MLDSA65") ||
		!strings.Contains(hello["versions"].(string), "TLS 1.3") {
		t.Errorf("client hello %v", hello)
	}
	if rec := p.wait(t, "chain chosen"); rec["order"] != float64(1) || rec["key"] != "ML-DSA-65" {
		t.Errorf("chain chosen for a default client: %v", rec)
	}
	runSClient(t, p.addr, "-groups", legacyGroups, "-sigalgs", legacySigalgs, "-CAfile", pki("ca.crt"))
	if rec := p.wait(t, "chain chosen", 2); rec["order"] != float64(2) || rec["key"] != "ECDSA P-256" {
		t.Errorf("chain chosen for a legacy client: %v", rec)
	}
	if rec := p.wait(t, "client hello", 2); rec["groups"] != "X25519" || rec["pq_offered"] != false || rec["signature_algorithms"] != "ECDSAWithP256AndSHA256" {
		t.Errorf("legacy client hello %v", rec)
	}
}
