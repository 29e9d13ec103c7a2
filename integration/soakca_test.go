package integration

import (
	"crypto"
	"crypto/mldsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// soakCA is an ML-DSA-65 root that issues a fresh server leaf for every
// rotation, so that clients keep trusting the rotated chains.
type soakCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pool *x509.CertPool
}

func newSoakCA(t *testing.T) *soakCA {
	t.Helper()
	key, err := mldsa.GenerateKey(mldsa.MLDSA65())
	if err != nil {
		t.Fatal(err)
	}
	tmpl := soakTemplate(t, "soak root")
	tmpl.KeyUsage = x509.KeyUsageCertSign
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &soakCA{cert: cert, key: key, pool: pool}
}

func soakTemplate(t *testing.T, cn string) *x509.Certificate {
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	return &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
}

// rotate issues a new ML-DSA-65 leaf for localhost and replaces the key,
// then the certificate, each atomically (a new file renamed over the old,
// rename(2)), as a certificate manager does. A reload that reads between
// the two renames finds a key that does not match and keeps the chain it
// serves.
func (ca *soakCA) rotate(t *testing.T, certPath, keyPath string) {
	key, err := mldsa.GenerateKey(mldsa.MLDSA65())
	if err != nil {
		t.Error(err)
		return
	}
	tmpl := soakTemplate(t, "localhost")
	tmpl.DNSNames, tmpl.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	tmpl.KeyUsage, tmpl.ExtKeyUsage = x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Error(err)
		return
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Error(err)
		return
	}
	replace(t, keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	replace(t, certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func replace(t *testing.T, path string, data []byte) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".new")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Error(err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Error(err)
	}
}
