package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/mldsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"
)

// PKI file names written by [WriteDevPKI], relative to its directory.
const (
	MLDSARootCert   = "mldsa-root.crt"
	ECDSARootCert   = "ecdsa-root.crt"
	CABundle        = "ca.crt" // both roots: the client CA file and what clients trust
	ServerMLDSACert = "server-mldsa.crt"
	ServerMLDSAKey  = "server-mldsa.key"
	ServerECDSACert = "server-ecdsa.crt"
	ServerECDSAKey  = "server-ecdsa.key"
	ClientMLDSACert = "client-mldsa.crt"
	ClientMLDSAKey  = "client-mldsa.key"
	ClientECDSACert = "client-ecdsa.crt"
	ClientECDSAKey  = "client-ecdsa.key"
	// ClientHybridCert is an ML-DSA-65 client key certified by the ECDSA
	// root: OpenSSL 3.5 clients withhold an ML-DSA-signed client leaf from
	// a Go server (Go leaves ML-DSA out of signature_algorithms_cert, see
	// go.dev/issue/82536) but present this one.
	ClientHybridCert = "client-mldsa-ecdsa-issued.crt"
	ClientHybridKey  = "client-mldsa-ecdsa-issued.key"
)

// Validity periods of the development PKI.
const (
	rootLifetime = 10 * 365 * 24 * time.Hour
	leafLifetime = 365 * 24 * time.Hour
)

type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// WriteDevPKI writes a dual-chain development PKI into dir: an ML-DSA-65
// root and an ECDSA P-256 root, each with a server certificate (localhost,
// 127.0.0.1, ::1) and a client certificate, plus an ML-DSA-65 client key
// issued by the ECDSA root. Every file appears atomically; keys are 0600.
// Existing keys are kept unless force is set. It returns the paths written.
func WriteDevPKI(dir string, force bool) ([]string, error) {
	if !force {
		var existing []string
		for _, name := range []string{ServerMLDSAKey, ServerECDSAKey, ClientMLDSAKey, ClientECDSAKey, ClientHybridKey, "mldsa-root.key", "ecdsa-root.key"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				existing = append(existing, name)
			}
		}
		if len(existing) > 0 {
			return nil, fmt.Errorf("%s already holds keys (%s); pass --force to replace them", dir, existing[0])
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	now := time.Now()
	mlRoot, err := newRoot("quantum-safe-proxy development ML-DSA-65 root", mldsaKey, now)
	if err != nil {
		return nil, err
	}
	ecRoot, err := newRoot("quantum-safe-proxy development ECDSA P-256 root", ecdsaKey, now)
	if err != nil {
		return nil, err
	}
	var files []pemFile
	add := func(name string, it issued) error {
		files = append(files, certFile(name+".crt", it.cert))
		kf, err := keyFile(name+".key", it.key)
		files = append(files, kf)
		return err
	}
	steps := []struct {
		name   string
		issuer issued
		newKey func() (crypto.Signer, error)
		server bool
	}{
		{"server-mldsa", mlRoot, mldsaKey, true},
		{"server-ecdsa", ecRoot, ecdsaKey, true},
		{"client-mldsa", mlRoot, mldsaKey, false},
		{"client-ecdsa", ecRoot, ecdsaKey, false},
		{"client-mldsa-ecdsa-issued", ecRoot, mldsaKey, false},
	}
	if err := add("mldsa-root", mlRoot); err != nil {
		return nil, err
	}
	if err := add("ecdsa-root", ecRoot); err != nil {
		return nil, err
	}
	for _, s := range steps {
		leaf, err := newLeaf(s.name, s.issuer, s.newKey, s.server, now)
		if err != nil {
			return nil, err
		}
		if err := add(s.name, leaf); err != nil {
			return nil, err
		}
	}
	files = append(files, pemFile{name: CABundle, data: append(pemCert(mlRoot.cert), pemCert(ecRoot.cert)...), mode: 0o644})
	var written []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := renameio.WriteFile(p, f.data, f.mode); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

func mldsaKey() (crypto.Signer, error) { return mldsa.GenerateKey(mldsa.MLDSA65()) }
func ecdsaKey() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// newTemplate makes a key and the fields every development certificate shares.
func newTemplate(cn string, newKey func() (crypto.Signer, error), lifetime time.Duration, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	return &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"quantum-safe-proxy development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(lifetime),
		BasicConstraintsValid: true,
	}, key, nil
}

func newRoot(cn string, newKey func() (crypto.Signer, error), now time.Time) (issued, error) {
	tmpl, key, err := newTemplate(cn, newKey, rootLifetime, now)
	if err != nil {
		return issued{}, err
	}
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	tmpl.IsCA, tmpl.MaxPathLenZero = true, true
	return issue(tmpl, tmpl, key, key)
}

func newLeaf(cn string, issuer issued, newKey func() (crypto.Signer, error), server bool, now time.Time) (issued, error) {
	tmpl, key, err := newTemplate(cn, newKey, leafLifetime, now)
	if err != nil {
		return issued{}, err
	}
	// ML-DSA and ECDSA keys only sign (RFC 9881, Section 5: ML-DSA
	// certificates carry digitalSignature, never keyEncipherment).
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if server {
		tmpl.Subject.CommonName = "localhost"
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return issue(tmpl, issuer.cert, key, issuer.key)
}

func issue(tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) (issued, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return issued{}, fmt.Errorf("issuing %q: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return issued{}, err
	}
	return issued{cert: cert, key: key}, nil
}

type pemFile struct {
	name string
	data []byte
	mode os.FileMode
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func certFile(name string, c *x509.Certificate) pemFile {
	return pemFile{name: name, data: pemCert(c), mode: 0o644}
}

func keyFile(name string, key crypto.Signer) (pemFile, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return pemFile{}, errors.New("encoding " + name + ": " + err.Error())
	}
	return pemFile{name: name, data: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), mode: 0o600}, nil
}
