package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfTestExpectations is the expectations block of check --self-test's
// text output, the lines that say what each kind of client got.
func selfTestExpectations(t *testing.T, out string) string {
	t.Helper()
	_, block, ok := strings.Cut(out, "\nexpectations:\n")
	if !ok {
		t.Fatalf("no expectations in:\n%s", out)
	}
	return block
}

// The demo's configuration (both chains, hybrid, no client certificates):
// every kind of client is served, post-quantum wherever it offers a hybrid
// group, and the self-test passes.
func TestSelfTestDemo(t *testing.T) {
	dir := testPKI(t)
	out, stderr, code := runCmd(t, "check", "--self-test",
		"--cert", filepath.Join(dir, "server-mldsa.crt"), "--key", filepath.Join(dir, "server-mldsa.key"),
		"--cert", filepath.Join(dir, "server-ecdsa.crt"), "--key", filepath.Join(dir, "server-ecdsa.key"))
	want := `  ok     hybrid:      want served (post-quantum); got served (post-quantum, X25519MLKEM768)
  ok     classical:   want served (classical); got served (classical, X25519)
  ok     mldsa:       want served (post-quantum); got served (post-quantum, X25519MLKEM768)
  ok     mldsa-certs: want served (post-quantum); got served (post-quantum, X25519MLKEM768)
  ok     no-mldsa:    want served (post-quantum); got served (post-quantum, X25519MLKEM768)
  ok     tls12:       want served (classical); got served (classical, X25519)
self-test passed: every client got what pqc_mode hybrid and the configuration promise
`
	if got := selfTestExpectations(t, out); code != 0 || got != want || stderr != "" {
		t.Errorf("exit %d, stderr %q, expectations:\n%s\nwant:\n%s", code, stderr, got, want)
	}
	// The served chains are the configured ones, by key: ML-DSA to the
	// clients that offer it, ECDSA to those that do not.
	for _, line := range []string{
		"offering ML-DSA:       ok; TLS 1.3, X25519MLKEM768, TLS_AES_128_GCM_SHA256, signed mldsa65, chain 1",
		"not offering ML-DSA:   ok; TLS 1.3, X25519MLKEM768, TLS_AES_128_GCM_SHA256, signed ecdsa_secp256r1_sha256, chain 2",
		// check says which code signs with each ML-DSA key.
		"ML-DSA-65, 1 certificate(s), expires ",
		", key seed-only, signer circl\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("no line %q in:\n%s", line, out)
		}
	}
}

// Strict mode refuses a client without a hybrid group and a TLS 1.2
// client, which is what it promises: the self-test passes.
func TestSelfTestStrict(t *testing.T) {
	dir := testPKI(t)
	out, _, code := runCmd(t, "check", "--self-test", "--pqc-mode", "strict",
		"--cert", filepath.Join(dir, "server-mldsa.crt"), "--key", filepath.Join(dir, "server-mldsa.key"),
		"--cert", filepath.Join(dir, "server-ecdsa.crt"), "--key", filepath.Join(dir, "server-ecdsa.key"))
	want := `  ok     hybrid:      want served (post-quantum); got served (post-quantum, X25519MLKEM768)
  ok     classical:   want refused; got refused, alert handshake_failure
  ok     mldsa:       want served (post-quantum); got served (post-quantum, X25519MLKEM768)
  ok     mldsa-certs: want served (post-quantum); got served (post-quantum, X25519MLKEM768)
  ok     no-mldsa:    want served (post-quantum); got served (post-quantum, X25519MLKEM768)
  ok     tls12:       want refused; got refused, alert protocol_version
self-test passed: every client got what pqc_mode strict and the configuration promise
`
	if got := selfTestExpectations(t, out); code != 0 || got != want {
		t.Errorf("exit %d, expectations:\n%s\nwant:\n%s", code, got, want)
	}
}

// Client certificates required: a client without one sees the handshake
// complete and then the refusal; one with a certificate from the CA is
// served. --json is one document with the same verdicts.
func TestSelfTestClientCertificates(t *testing.T) {
	dir := testPKI(t)
	args := []string{"check", "--self-test", "--json",
		"--cert", filepath.Join(dir, "server-mldsa.crt"), "--key", filepath.Join(dir, "server-mldsa.key"),
		"--cert", filepath.Join(dir, "server-ecdsa.crt"), "--key", filepath.Join(dir, "server-ecdsa.key"),
		"--ca-cert", filepath.Join(dir, "ca.crt"), "--client-cert-mode", "required",
		"--probe-cert", filepath.Join(dir, "client-mldsa.crt"), "--probe-key", filepath.Join(dir, "client-mldsa.key")}
	out, stderr, code := runCmd(t, args...)
	var r selfTestReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("exit %d, stderr %q, not one JSON document: %v\n%s", code, stderr, err, out)
	}
	got := map[string]string{}
	for _, e := range r.Expectations {
		if !e.OK {
			t.Errorf("%s: want %s; got %s", e.Attempt, e.Want, e.Got)
		}
		got[e.Attempt] = e.Got
	}
	if code != 0 || !r.OK {
		t.Errorf("exit %d, ok %v", code, r.OK)
	}
	want := []chainFacts{
		{File: filepath.Join(dir, "server-mldsa.crt"), Subject: "CN=localhost,O=quantum-safe-proxy development", Key: "ML-DSA-65", KeyForm: "seed-only", Signer: "circl"},
		{File: filepath.Join(dir, "server-ecdsa.crt"), Subject: "CN=localhost,O=quantum-safe-proxy development", Key: "ECDSA P-256", Signer: "crypto/ecdsa"},
	}
	if fmt.Sprint(r.Certificates) != fmt.Sprint(want) {
		t.Errorf("certificates %+v\nwant %+v", r.Certificates, want)
	}
	for attempt, want := range map[string]string{
		"hybrid":      "handshake, then refused (post-quantum, X25519MLKEM768), alert certificate_required",
		"tls12":       "refused, alert handshake_failure",
		"client-cert": "served (post-quantum, X25519MLKEM768)",
	} {
		if got[attempt] != want {
			t.Errorf("%s: got %q, want %q", attempt, got[attempt], want)
		}
	}
}

// A served certificate that has expired loads (with a warning), and
// every client would refuse it: the self-test fails, exit 1, and says why.
func TestSelfTestExpiredCertificate(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-48 * time.Hour),
		NotAfter:     time.Now().Add(-24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	crt, keyFile := filepath.Join(dir, "expired.crt"), filepath.Join(dir, "expired.key")
	os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600)

	out, _, code := runCmd(t, "check", "--self-test", "--cert", crt, "--key", keyFile)
	block := selfTestExpectations(t, out)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := "  FAILED hybrid:      want served (post-quantum); got served (post-quantum, X25519MLKEM768); every client refuses the chain: x509: certificate has expired or is not yet valid"
	if !strings.HasPrefix(block, want) {
		t.Errorf("expectations:\n%s\nwant them to start:\n%s", block, want)
	}
	if !strings.HasSuffix(block, "self-test FAILED: 6 of 6 expectations not met\n") {
		t.Errorf("expectations do not end with the count of failures:\n%s", block)
	}
	if !strings.Contains(out, "warning: "+crt+": certificate is not valid now: expired ") {
		t.Errorf("check's warning about the expired certificate is missing:\n%s", out)
	}
}

// The self-test's own flags go with --self-test, and --probe-cert with
// --probe-key.
func TestSelfTestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--json"}, "quantum-safe-proxy: error: check: --json, --probe-cert and --probe-key go with --self-test\n"},
		{[]string{"check", "--self-test", "--probe-cert", "a.crt"}, "quantum-safe-proxy: error: check: --probe-cert and --probe-key go together: the client certificate the self-test presents, and its key\n"},
		{[]string{"check", "--self-test=yes"}, "quantum-safe-proxy: error: check: --self-test takes no value\n"},
	} {
		_, stderr, code := runCmd(t, tc.args...)
		if code != 78 || stderr != tc.want {
			t.Errorf("%v: exit %d, stderr %q, want 78 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// In client mode the self-test probes the remote target with the
// configured roots and client chain: strict mode passes against a server
// that signs with ML-DSA over a hybrid group, and fails (exit 1) against
// one that signs with ECDSA only, which the proxy would refuse.
func TestSelfTestClientMode(t *testing.T) {
	dir := testPKI(t)
	args := func(target string) []string {
		return []string{"check", "--self-test", "--mode", "client", "--target", target, "--server-name", "localhost",
			"--ca-cert", filepath.Join(dir, "ca.crt"), "--pqc-mode", "strict",
			"--cert", filepath.Join(dir, "client-mldsa.crt"), "--key", filepath.Join(dir, "client-mldsa.key")}
	}
	pq := tlsServer(t, &tls.Config{Certificates: devChains(t, dir, "server-mldsa", "server-ecdsa")})
	out, _, code := runCmd(t, args(pq)...)
	want := "  ok     hybrid:      want the remote server's chain verified against ca_cert_path, over a hybrid post-quantum group, signed with ML-DSA; got served (post-quantum, X25519MLKEM768), signed mldsa65\n"
	if block := selfTestExpectations(t, out); code != 0 || !strings.HasPrefix(block, want) {
		t.Errorf("ML-DSA server: exit %d, expectations:\n%s\nwant to start with:\n%s", code, block, want)
	}
	classical := tlsServer(t, &tls.Config{Certificates: devChains(t, dir, "server-ecdsa")})
	out, _, code = runCmd(t, args(classical)...)
	want = "  FAILED hybrid:      want the remote server's chain verified against ca_cert_path, over a hybrid post-quantum group, signed with ML-DSA; got served (post-quantum, X25519MLKEM768), signed ecdsa_secp256r1_sha256\n"
	if block := selfTestExpectations(t, out); code != 1 || !strings.HasPrefix(block, want) {
		t.Errorf("ECDSA server: exit %d, expectations:\n%s\nwant to start with:\n%s", code, block, want)
	}
}
