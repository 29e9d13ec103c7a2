package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/mldsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const td = "../../testdata/"

// The three PKCS#8 forms OpenSSL 3.5 writes for one key (testdata/gen-mldsa-keys.sh).
func TestLoadKeyEveryOpenSSLForm(t *testing.T) {
	cert, err := LoadCertificates(td + "mldsa65.crt")
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]KeyForm{
		"mldsa65-seed.key":     FormSeed,
		"mldsa65-both.key":     FormBoth,
		"mldsa65-expanded.key": FormExpanded,
	} {
		t.Run(file, func(t *testing.T) {
			key, form, err := LoadKey(td + file)
			if err != nil {
				t.Fatal(err)
			}
			if form != want {
				t.Errorf("form = %q, want %q", form, want)
			}
			pub, ok := key.Public().(*mldsa.PublicKey)
			if !ok {
				t.Fatalf("Public() is %T, want *mldsa.PublicKey", key.Public())
			}
			if !pub.Equal(cert[0].PublicKey) {
				t.Fatal("public key does not match the OpenSSL certificate")
			}
			msg := []byte("TLS 1.3, server CertificateVerify")
			sig, err := crypto.SignMessage(key, nil, msg, crypto.Hash(0))
			if err != nil {
				t.Fatal(err)
			}
			if err := mldsa.Verify(pub, msg, sig, nil); err != nil {
				t.Errorf("crypto/mldsa rejects the signature: %v", err)
			}
			if !CirclVerify(pub, msg, sig) {
				t.Error("circl rejects the signature")
			}
		})
	}
}

func TestLoadKeyOtherParameterSets(t *testing.T) {
	for file, want := range map[string]string{"mldsa44-both.key": "ML-DSA-44", "mldsa87-both.key": "ML-DSA-87"} {
		key, form, err := LoadKey(td + file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if got := Algorithm(key.Public()); got != want || form != FormBoth {
			t.Errorf("%s: %s %q, want %s %q", file, got, form, want, FormBoth)
		}
	}
}

// A seed+expanded key whose halves disagree is refused, not half-trusted.
func TestLoadKeyInconsistentBoth(t *testing.T) {
	data, err := os.ReadFile(td + "mldsa65-both.key")
	if err != nil {
		t.Fatal(err)
	}
	der := mustPEM(t, data)
	// The expanded key's last byte sits at the end of the DER.
	der[len(der)-1] ^= 1
	_, _, err = parsePKCS8(der)
	if err == nil || !strings.Contains(err.Error(), "inconsistent") {
		t.Fatalf("err = %v, want an inconsistency error", err)
	}
}

func TestLoadChainMismatch(t *testing.T) {
	_, err := LoadChain(td+"mldsa65.crt", td+"mldsa65-other.key")
	want := td + "mldsa65-other.key does not match " + td + "mldsa65.crt"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v, want prefix %q", err, want)
	}
}

func TestLoadKeyErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	for _, tc := range []struct{ name, content, want string }{
		{"empty.key", "", "no PEM private key found"},
		{"enc.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "private key is encrypted"},
		{"junk.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "malformed PKCS#8 private key"},
	} {
		_, _, err := LoadKey(write(tc.name, tc.content))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: err = %v, want it to name the file and say %q", tc.name, err, tc.want)
		}
	}
}

func TestDevPKI(t *testing.T) {
	dir := t.TempDir()
	files, err := WriteDevPKI(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2*7+1 {
		t.Errorf("wrote %d files, want 15", len(files))
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".key") && st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	if _, err := WriteDevPKI(dir, false); err == nil || !strings.Contains(err.Error(), "pass --force") {
		t.Errorf("second run without force: err = %v", err)
	}
	if _, err := WriteDevPKI(dir, true); err != nil {
		t.Errorf("with force: %v", err)
	}

	pool, roots, err := LoadPool(filepath.Join(dir, CABundle))
	if err != nil || len(roots) != 2 {
		t.Fatalf("CA bundle: %v, %d roots", err, len(roots))
	}
	for _, tc := range []struct {
		cert, key, alg string
		usage          x509.ExtKeyUsage
	}{
		{ServerMLDSACert, ServerMLDSAKey, "ML-DSA-65", x509.ExtKeyUsageServerAuth},
		{ServerECDSACert, ServerECDSAKey, "ECDSA P-256", x509.ExtKeyUsageServerAuth},
		{ClientMLDSACert, ClientMLDSAKey, "ML-DSA-65", x509.ExtKeyUsageClientAuth},
		{ClientECDSACert, ClientECDSAKey, "ECDSA P-256", x509.ExtKeyUsageClientAuth},
		{ClientHybridCert, ClientHybridKey, "ML-DSA-65", x509.ExtKeyUsageClientAuth},
	} {
		c, err := LoadChain(filepath.Join(dir, tc.cert), filepath.Join(dir, tc.key))
		if err != nil {
			t.Fatal(err)
		}
		if c.Algorithm() != tc.alg {
			t.Errorf("%s: key %s, want %s", tc.cert, c.Algorithm(), tc.alg)
		}
		if c.Leaf().KeyUsage != x509.KeyUsageDigitalSignature {
			t.Errorf("%s: key usage %v, want digitalSignature only", tc.cert, c.Leaf().KeyUsage)
		}
		opts := x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{tc.usage}}
		if tc.usage == x509.ExtKeyUsageServerAuth {
			opts.DNSName = "localhost"
		}
		if _, err := c.Leaf().Verify(opts); err != nil {
			t.Errorf("%s: %v", tc.cert, err)
		}
		if sans := SANs(c.Leaf()); tc.usage == x509.ExtKeyUsageServerAuth && sans != "localhost, 127.0.0.1, ::1" {
			t.Errorf("%s: SANs %q", tc.cert, sans)
		}
	}
	checkMLDSASignaturesWithCircl(t, dir)
}

// checkMLDSASignaturesWithCircl verifies every ML-DSA signature in the PKI
// with circl, an implementation independent of crypto/x509.
func checkMLDSASignaturesWithCircl(t *testing.T, dir string) {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.crt"))
	byName := map[string]*x509.Certificate{}
	var all []*x509.Certificate
	for _, p := range paths {
		cs, err := LoadCertificates(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			byName[string(c.RawSubject)] = c
			all = append(all, c)
		}
	}
	checked := 0
	for _, c := range all {
		issuer := byName[string(c.RawIssuer)]
		if issuer == nil {
			t.Fatalf("%s: issuer not in the PKI", c.Subject)
		}
		switch pub := issuer.PublicKey.(type) {
		case *mldsa.PublicKey:
			if c.SignatureAlgorithm != x509.MLDSA65 {
				t.Errorf("%s: signature algorithm %v", c.Subject, c.SignatureAlgorithm)
			}
			if !CirclVerify(pub, c.RawTBSCertificate, c.Signature) {
				t.Errorf("%s: circl rejects its ML-DSA signature", c.Subject)
			}
			checked++
		case *ecdsa.PublicKey:
		default:
			t.Errorf("%s: unexpected issuer key %T", c.Subject, pub)
		}
	}
	// mldsa root (twice: its file and ca.crt), server-mldsa, client-mldsa.
	if checked != 4 {
		t.Errorf("checked %d ML-DSA signatures, want 4", checked)
	}
}

func TestInspect(t *testing.T) {
	var b bytes.Buffer
	if err := Inspect(&b, td+"mldsa65.crt", nil, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"subject:    CN=localhost", "key:        ML-DSA-65", "signature:  ML-DSA-65", "names:      localhost, 127.0.0.1", "(valid)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

func mustPEM(t *testing.T, data []byte) []byte {
	t.Helper()
	b, _ := pemDecode(data)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b
}
