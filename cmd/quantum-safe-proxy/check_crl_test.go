package main

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
)

// writeCRL writes a CRL of root (a root of the PKI in dir, "ecdsa-root"
// or "mldsa-root") revoking the PKI's certificates named, for the given
// thisUpdate and nextUpdate.
func writeCRL(t *testing.T, dir, root string, this, next time.Time, revoked ...string) string {
	t.Helper()
	ca, err := certs.LoadCertificates(filepath.Join(dir, root+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := certs.LoadKey(filepath.Join(dir, root+".key"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: this, NextUpdate: next}
	for _, name := range revoked {
		leaf, err := certs.LoadCertificates(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: leaf[0].SerialNumber, RevocationTime: this})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca[0], key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), root+".crl")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// check reports each CRL (issuer, entries, thisUpdate, nextUpdate), the
// client CAs no CRL covers, and warns of a CRL past its nextUpdate, which
// refuses every client; a CRL that no CA of ca_cert_path signed is an
// error.
func TestCheckReportsCRLs(t *testing.T) {
	dir := testPKI(t)
	now := time.Now().Truncate(time.Second)
	this := now.Add(-time.Hour)
	fresh := writeCRL(t, dir, "ecdsa-root", this, now.Add(50*time.Hour), certs.ClientECDSACert, certs.ClientHybridCert)
	expired := writeCRL(t, dir, "mldsa-root", this.Add(-48*time.Hour), this)
	args := []string{"check", "--as", "self", "--target", "127.0.0.1:6000", "--cert", filepath.Join(dir, certs.ServerECDSACert),
		"--key", filepath.Join(dir, certs.ServerECDSAKey), "--client-cert-mode", "required", "--ca-cert", filepath.Join(dir, certs.CABundle)}
	const ecRoot, mlRoot = "CN=quantum-safe-proxy development ECDSA P-256 root,O=quantum-safe-proxy development", "CN=quantum-safe-proxy development ML-DSA-65 root,O=quantum-safe-proxy development"
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }

	out, stderr, code := runCmd(t, append(args, "--crl-file", fresh)...)
	for _, want := range []string{
		"\nCRL " + fresh + ": issuer " + ecRoot + ", 2 revoked certificate(s), thisUpdate " + rfc(this) + ", nextUpdate " + rfc(now.Add(50*time.Hour)) + " (in 2d1h)\n",
		"\nclient CA " + mlRoot + " has no CRL in crl_files: certificates it issued are not checked for revocation\n",
	} {
		if code != 0 || stderr != "" || !strings.Contains(out, want) {
			t.Errorf("exit %d, stderr %q; want %q in:\n%s", code, stderr, want, out)
		}
	}
	if strings.Contains(out, "client CA "+ecRoot+" has no CRL") || strings.Contains(out, "nextUpdate (") {
		t.Errorf("a covered CA reported as not, or a warning:\n%s", out)
	}

	out, stderr, code = runCmd(t, append(args, "--crl-file", fresh, "--crl-file", expired)...)
	for _, want := range []string{
		"\nCRL " + expired + ": issuer " + mlRoot + ", 0 revoked certificate(s), thisUpdate " + rfc(this.Add(-48*time.Hour)) + ", nextUpdate " + rfc(this) + " (past)\n",
		"\nwarning: " + expired + ": the CRL of " + mlRoot + " is past its nextUpdate (" + rfc(this) + "): every client certificate is refused (crl_expired) until a fresh CRL is loaded; fetch one from the CA\n",
	} {
		if code != 0 || stderr != "" || !strings.Contains(out, want) {
			t.Errorf("exit %d, stderr %q; want %q in:\n%s", code, stderr, want, out)
		}
	}
	if strings.Contains(out, "has no CRL") {
		t.Errorf("with both roots covered, a CA is reported without CRL:\n%s", out)
	}

	// A CRL of another PKI's CA of the same name: its key did not sign it.
	other := testPKI(t)
	foreign := writeCRL(t, other, "ecdsa-root", this, now.Add(time.Hour))
	_, stderr, code = runCmd(t, append(args, "--crl-file", foreign)...)
	want := "quantum-safe-proxy: error: " + foreign + ": its signature does not verify with the key of " + ecRoot + " in " + filepath.Join(dir, certs.CABundle) +
		" (x509: ECDSA verification failure); the CRL was signed by another key of that name, or damaged: fetch it again from the CA, or add the CA certificate whose key signed it\n"
	if code != 78 || stderr != want {
		t.Errorf("a foreign CRL: exit %d, stderr:\n%s\nwant:\n%s", code, stderr, want)
	}
}
