package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/mldsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mldsaKeyFiles are the ML-DSA keys OpenSSL 3.5 wrote (testdata/gen-mldsa-keys.sh):
// ML-DSA-65 in all three PKCS#8 forms, ML-DSA-44 and -87 in the default one.
var mldsaKeyFiles = []string{"mldsa65-seed.key", "mldsa65-both.key", "mldsa65-expanded.key", "mldsa65-other.key", "mldsa44-both.key", "mldsa87-both.key"}

// FuzzParseKey feeds key files, seeded with every ML-DSA form and set and
// every classical encoding. Parsing never panics, and a key that parses
// signs the way crypto/tls will use it, with signatures that verify; for
// ML-DSA, under circl too, an implementation independent of crypto/mldsa.
func FuzzParseKey(f *testing.F) {
	for _, name := range mldsaKeyFiles {
		data := readTestdata(f, name)
		f.Add(data)
		if block, _ := pem.Decode(data); block != nil {
			f.Add(block.Bytes) // DER, for parsePKCS8
		}
	}
	for _, name := range []string{"mldsa44-both.key", "mldsa87-both.key"} {
		for _, data := range otherForms(f, readTestdata(f, name)) {
			f.Add(data)
		}
	}
	for _, k := range classicalKeys(f) {
		f.Add(k.pem)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parsePKCS8(data)
		key, form, err := ParseKey(data)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if IsMLDSA(key.Public()) != (form != FormClassic) {
			t.Fatalf("form %q for a %s key", form, Algorithm(key.Public()))
		}
		if err := signVerify(key, key.Public()); err != nil {
			t.Fatalf("%s key (%q) parsed but does not sign: %v", Algorithm(key.Public()), form, err)
		}
		crossCheck(t, key)
	})
}

// FuzzLoadChain feeds a certificate file and a key file to LoadChain,
// seeded with matching and mismatched pairs of every key type. A chain it
// accepts has a key that signs verifiably for its leaf.
func FuzzLoadChain(f *testing.F) {
	mlCert := readTestdata(f, "mldsa65.crt")
	for _, name := range mldsaKeyFiles {
		f.Add(mlCert, readTestdata(f, name))
	}
	for _, name := range []string{"mldsa44-both.key", "mldsa87-both.key"} {
		data := readTestdata(f, name)
		key, _, err := ParseKey(data)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(selfSigned(f, key), data)
	}
	for _, k := range classicalKeys(f) {
		f.Add(selfSigned(f, k.key), k.pem)
	}
	dir := f.TempDir()
	certPath, keyPath := filepath.Join(dir, "fuzz.crt"), filepath.Join(dir, "fuzz.key")
	f.Fuzz(func(t *testing.T, cert, key []byte) {
		if os.WriteFile(certPath, cert, 0o600) != nil || os.WriteFile(keyPath, key, 0o600) != nil {
			t.Fatal("cannot write the fuzz files")
		}
		c, err := LoadChain(certPath, keyPath)
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || !strings.Contains(msg, certPath) && !strings.Contains(msg, keyPath) {
				t.Fatalf("error is not one line naming a file: %q", msg)
			}
			return
		}
		signer := c.TLS.PrivateKey.(crypto.Signer)
		if err := signVerify(signer, c.Leaf().PublicKey); err != nil {
			t.Fatalf("accepted a key that does not sign for its leaf: %v", err)
		}
		crossCheck(t, signer)
	})
}

// crossCheck verifies ML-DSA signatures with circl as well. Several, since
// signing is hedged (randomized) and a subtly damaged key may fail only
// some of the time.
func crossCheck(t *testing.T, key crypto.Signer) {
	pub, ok := key.Public().(*mldsa.PublicKey)
	if !ok {
		return
	}
	msg := []byte("TLS 1.3, server CertificateVerify\x00")
	for range 4 {
		sig, err := crypto.SignMessage(key, rand.Reader, msg, crypto.Hash(0))
		if err != nil || !CirclVerify(pub, msg, sig) {
			t.Fatalf("circl rejects the %s signature (sign error %v)", pub.Parameters(), err)
		}
	}
}

// otherForms rewrites a seed-and-expanded ML-DSA key (OpenSSL's default)
// as seed-only and as expanded-only PKCS#8 (RFC 9881, Section 6), the two
// forms testdata holds only for ML-DSA-65.
func otherForms(f testing.TB, both []byte) [][]byte {
	block, _ := pem.Decode(both)
	var p pkcs8
	var b bothForm
	if block == nil {
		f.Fatal("no PEM block")
	}
	if _, err := asn1.Unmarshal(block.Bytes, &p); err != nil {
		f.Fatal(err)
	}
	if _, err := asn1.Unmarshal(p.PrivateKey, &b); err != nil {
		f.Fatal(err)
	}
	seed, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: b.Seed})
	expanded, _ := asn1.Marshal(b.Expanded)
	var out [][]byte
	for _, inner := range [][]byte{seed, expanded} {
		p.PrivateKey = inner
		der, err := asn1.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	return out
}

func readTestdata(f testing.TB, name string) []byte {
	data, err := os.ReadFile(td + name)
	if err != nil {
		f.Fatal(err)
	}
	return data
}

type classicalKey struct {
	key crypto.Signer
	pem []byte
}

// classicalKeys makes one key of each classical type in each PEM encoding
// LoadKey reads: PKCS#8, SEC 1 and PKCS#1.
func classicalKeys(f *testing.F) []classicalKey {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	var out []classicalKey
	for _, k := range []crypto.Signer{p256, p384, rsaKey, edKey} {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, classicalKey{k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})})
	}
	sec1, _ := x509.MarshalECPrivateKey(p256)
	out = append(out, classicalKey{p256, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})})
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsaKey)
	return append(out, classicalKey{rsaKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: pkcs1})})
}

// selfSigned returns a PEM certificate for key, signed by key.
func selfSigned(f *testing.F, key crypto.Signer) []byte {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "fuzz " + Algorithm(key.Public())},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		f.Fatalf("%s: %v", Algorithm(key.Public()), err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
