package certs

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/access"
)

// Chain is a served certificate chain with its private key, loaded and
// checked: the key matches the leaf, and the certificates follow each
// other from leaf towards the root.
type Chain struct {
	CertPath, KeyPath string
	// TLS holds the whole chain (leaf first, then intermediates as they
	// appear in the file) and the key; its Leaf is set.
	TLS tls.Certificate
	// Form is how an ML-DSA key was stored; empty for other keys.
	Form KeyForm
}

// Leaf returns the chain's first certificate.
func (c *Chain) Leaf() *x509.Certificate { return c.TLS.Leaf }

// Algorithm names the leaf's key, e.g. "ML-DSA-65".
func (c *Chain) Algorithm() string { return Algorithm(c.TLS.Leaf.PublicKey) }

// Signer says which code signs with the chain's key, e.g. "circl" or
// "crypto/mldsa (FIPS 140-3)" (see [SignerName]).
func (c *Chain) Signer() string { return SignerName(c.TLS.PrivateKey.(crypto.Signer)) }

// LoadChain reads a PEM certificate chain (leaf first) and its private key.
func LoadChain(certPath, keyPath string) (*Chain, error) {
	certs, err := LoadCertificates(certPath)
	if err != nil {
		return nil, err
	}
	key, form, err := LoadKey(keyPath)
	if err != nil {
		return nil, err
	}
	leaf := certs[0]
	if !publicKeysEqual(key.Public(), leaf.PublicKey) {
		return nil, &MismatchError{KeyPath: keyPath, CertPath: certPath, Key: key.Public(), CertKey: leaf.PublicKey}
	}
	if err := signVerify(key, leaf.PublicKey); err != nil {
		return nil, fmt.Errorf("%s: a test signature made with this key does not verify against %s (%v); the key file is damaged: regenerate the key and reissue its certificate",
			keyPath, certPath, err)
	}
	for i := 0; i+1 < len(certs); i++ {
		if err := certs[i].CheckSignatureFrom(certs[i+1]); err != nil {
			return nil, fmt.Errorf("%s: certificate %d (%s) is not signed by certificate %d (%s); list the leaf first, then each issuer in turn",
				certPath, i+1, certs[i].Subject, i+2, certs[i+1].Subject)
		}
	}
	c := &Chain{CertPath: certPath, KeyPath: keyPath, Form: form}
	c.TLS.PrivateKey = key
	c.TLS.Leaf = leaf
	for _, cert := range certs {
		c.TLS.Certificate = append(c.TLS.Certificate, cert.Raw)
	}
	return c, nil
}

// MismatchError is a key paired with a certificate whose key it is not.
type MismatchError struct {
	KeyPath, CertPath string
	Key, CertKey      crypto.PublicKey
	// Owner is the file of the configured certificate whose key Key is,
	// when the caller, which knows the configuration, looked for one
	// (Searched) and found it.
	Owner    string
	Searched bool
}

func (e *MismatchError) Error() string {
	ka, ca := Algorithm(e.Key), Algorithm(e.CertKey)
	what := fmt.Sprintf("the key is %s, the certificate's key is %s", ka, ca)
	if ka == ca {
		// Two keys of one algorithm: saying the algorithm twice would
		// read as a contradiction.
		what = fmt.Sprintf("both are %s keys, but not the same key", ka)
	}
	switch {
	case e.Owner != "":
		what += "; the key is that of " + e.Owner
	case e.Searched:
		what += "; the key is that of none of the configured certificates"
	}
	return fmt.Sprintf("%s does not match %s: %s; pair each certificate with the key it was issued for", e.KeyPath, e.CertPath, what)
}

// Matches says whether key is the public key of the first certificate in
// the PEM file at certPath; false if the file cannot be read.
func Matches(key crypto.PublicKey, certPath string) bool {
	certs, err := LoadCertificates(certPath)
	return err == nil && publicKeysEqual(key, certs[0].PublicKey)
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// LoadCertificates reads every CERTIFICATE block of a PEM file.
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	return loadCertificates(path, access.Certificate)
}

// loadCertificates reads a PEM file of certificates of kind kind; a
// permission error says what to change for the service to read it.
func loadCertificates(path string, kind access.Kind) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, access.Explain(path, kind, err)
	}
	var out []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			n--
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %v", path, n, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return out, nil
}

// LoadPool reads a CA bundle; it may mix ML-DSA, ECDSA and RSA roots.
func LoadPool(path string) (*x509.CertPool, []*x509.Certificate, error) {
	certs, err := loadCertificates(path, access.CABundle)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, certs, nil
}

// ErrExpired is wrapped by Validity when a certificate is outside its
// validity period.
var ErrExpired = errors.New("certificate is not valid now")

// Validity reports whether c is valid at now.
func Validity(c *x509.Certificate, now time.Time) error {
	switch {
	case now.Before(c.NotBefore):
		return fmt.Errorf("%w: not valid before %s", ErrExpired, c.NotBefore.UTC().Format(time.RFC3339))
	case now.After(c.NotAfter):
		return fmt.Errorf("%w: expired %s", ErrExpired, c.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}
