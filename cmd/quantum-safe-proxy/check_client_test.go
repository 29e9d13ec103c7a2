package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// check in client mode says where plain text goes and what the server
// must show, lists the CAs and the chains presented, and prints none of
// server mode's "what each client gets"; advertise_mldsa false is
// refused on this Go with its one line.
func TestCheckClientMode(t *testing.T) {
	dir := testPKI(t)
	args := []string{"check", "--mode", "client", "--target", "pq.example.com:443", "--ca-cert", filepath.Join(dir, "ca.crt"),
		"--cert", filepath.Join(dir, "client-ecdsa.crt"), "--key", filepath.Join(dir, "client-ecdsa.key"), "--pqc-mode", "strict", "--allow-dns", "pq.example.com"}
	out, stderr, code := runCmd(t, args...)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{
		"configuration ok: listen 127.0.0.1:8443, target pq.example.com:443\n",
		"mode client: plain text accepted locally goes over TLS 1.3 or later to pq.example.com:443; the server's certificate must hold pq.example.com\n",
		"pqc_mode strict: the server must negotiate X25519MLKEM768, SecP256r1MLKEM768 or SecP384r1MLKEM1024 and authenticate with an ML-DSA key (its issuers may sign classically)\n",
		"server CA: CN=quantum-safe-proxy development ML-DSA-65 root,O=quantum-safe-proxy development, ML-DSA-65\n",
		"allow rules: a server certificate must match one of allow_dns [\"pq.example.com\"]\n",
		"client chain 1: CN=client-ecdsa,O=quantum-safe-proxy development, ECDSA P-256, 1 certificate(s), expires ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "client_cert_mode") || strings.Contains(out, "PQ client advertising") {
		t.Errorf("server mode's description in client mode:\n%s", out)
	}
	_, stderr, code = runCmd(t, append(args[:len(args)-4], "--advertise-mldsa=false")...)
	if code != 78 || !strings.HasPrefix(stderr, "quantum-safe-proxy: error: advertise_mldsa: false is not possible with this build: its Go (") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("advertise_mldsa false: exit %d, stderr %q", code, stderr)
	}
}
