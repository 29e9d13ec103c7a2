package certs

import (
	"cmp"
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
	"strings"
	"time"

	"github.com/google/renameio/v2"
)

// PKI file names written by [WriteDevPKI] and [WriteHostPKI], relative to
// their directories.
const (
	MLDSARootKey    = "mldsa-root.key"
	ECDSARootKey    = "ecdsa-root.key"
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
	if err := refuseExisting(force, dir, ServerMLDSAKey, ServerECDSAKey, ClientMLDSAKey, ClientECDSAKey, ClientHybridKey, MLDSARootKey, ECDSARootKey); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	now := time.Now()
	roots, err := newRoots("quantum-safe-proxy development", now)
	if err != nil {
		return nil, err
	}
	mlRoot, ecRoot := roots[0], roots[1]
	var files pemFiles
	files.add(dir, "mldsa-root", mlRoot)
	files.add(dir, "ecdsa-root", ecRoot)
	for _, s := range []struct {
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
	} {
		var names []string
		if s.server {
			names = []string{"localhost"}
		}
		leaf, err := newLeaf(s.name, names, s.issuer, s.newKey, now)
		if err != nil {
			return nil, err
		}
		files.add(dir, s.name, leaf)
	}
	files.bundle(dir, mlRoot, ecRoot)
	return files.write()
}

// refuseExisting fails, unless force is set, when any of the named files
// exists in dir: keys are never replaced by accident.
func refuseExisting(force bool, dir string, names ...string) error {
	if force {
		return nil
	}
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("%s already holds keys (%s); pass --force to replace them", dir, name)
		}
	}
	return nil
}

// newRoots makes the two roots of a PKI: ML-DSA-65, then ECDSA P-256.
func newRoots(org string, now time.Time) ([2]issued, error) {
	ml, err := newRoot(org+" ML-DSA-65 root", org, mldsaKey, now)
	if err != nil {
		return [2]issued{}, err
	}
	ec, err := newRoot(org+" ECDSA P-256 root", org, ecdsaKey, now)
	return [2]issued{ml, ec}, err
}

func mldsaKey() (crypto.Signer, error) { return mldsa.GenerateKey(mldsa.MLDSA65()) }
func ecdsaKey() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// newTemplate makes a key and the fields every certificate of a PKI
// shares; org names the PKI.
func newTemplate(cn, org string, newKey func() (crypto.Signer, error), lifetime time.Duration, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	subject := pkix.Name{CommonName: cn}
	if org != "" {
		subject.Organization = []string{org}
	}
	return &x509.Certificate{
		SerialNumber:          sn,
		Subject:               subject,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(lifetime),
		BasicConstraintsValid: true,
	}, key, nil
}

func newRoot(cn, org string, newKey func() (crypto.Signer, error), now time.Time) (issued, error) {
	tmpl, key, err := newTemplate(cn, org, newKey, rootLifetime, now)
	if err != nil {
		return issued{}, err
	}
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	tmpl.IsCA, tmpl.MaxPathLenZero = true, true
	return issue(tmpl, tmpl, key, key)
}

// newLeaf issues a server certificate for dnsNames (and the loopback
// addresses) or, when dnsNames is empty, a client certificate named cn.
func newLeaf(cn string, dnsNames []string, issuer issued, newKey func() (crypto.Signer, error), now time.Time) (issued, error) {
	tmpl, key, err := newTemplate(cn, strings.Join(issuer.cert.Subject.Organization, " "), newKey, leafLifetime, now)
	if err != nil {
		return issued{}, err
	}
	// ML-DSA and ECDSA keys only sign (RFC 9881, Section 5: ML-DSA
	// certificates carry digitalSignature, never keyEncipherment).
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if len(dnsNames) > 0 {
		tmpl.Subject.CommonName = dnsNames[0]
		tmpl.DNSNames = dnsNames
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
	path string
	data []byte
	mode os.FileMode
}

// pemFiles collects a PKI's files before any is written, so that a
// failure to make one key leaves nothing half-made on disk.
type pemFiles struct {
	files []pemFile
	err   error
}

// add queues name.crt (0644) and name.key (0600) in dir.
func (fs *pemFiles) add(dir, name string, it issued) {
	fs.files = append(fs.files, pemFile{filepath.Join(dir, name+".crt"), pemCert(it.cert), 0o644})
	der, err := x509.MarshalPKCS8PrivateKey(it.key)
	if err != nil {
		fs.err = cmp.Or(fs.err, errors.New("encoding "+name+".key: "+err.Error()))
		return
	}
	fs.files = append(fs.files, pemFile{filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600})
}

// cert queues name.crt alone (0644) in dir.
func (fs *pemFiles) cert(dir, name string, c *x509.Certificate) {
	fs.files = append(fs.files, pemFile{filepath.Join(dir, name+".crt"), pemCert(c), 0o644})
}

// bundle queues ca.crt in dir: both roots, what clients trust and the
// default client CA file.
func (fs *pemFiles) bundle(dir string, roots ...issued) {
	var data []byte
	for _, r := range roots {
		data = append(data, pemCert(r.cert)...)
	}
	fs.files = append(fs.files, pemFile{filepath.Join(dir, CABundle), data, 0o644})
}

// write writes every queued file atomically and returns their paths.
func (fs *pemFiles) write() ([]string, error) {
	if fs.err != nil {
		return nil, fs.err
	}
	var written []string
	for _, f := range fs.files {
		if err := writeAtomic(f.path, f.data, f.mode); err != nil {
			return written, err
		}
		written = append(written, f.path)
	}
	return written, nil
}

// writeAtomic replaces path with data, with exactly mode. It does not use
// renameio.WriteFile, which keeps an existing file's permissions
// (WithExistingPermissions is its default): a key written over a 0666 file
// would stay 0666.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := renameio.NewPendingFile(path, renameio.WithStaticPermissions(mode))
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.CloseAtomicallyReplace()
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
