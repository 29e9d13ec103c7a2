package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mldsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/access"
)

// KeyForm says how an ML-DSA private key was stored (RFC 9881, Section 6:
// the PKCS#8 privateKey is a CHOICE of seed, expandedKey, or both).
type KeyForm string

const (
	FormSeed     KeyForm = "seed-only"
	FormBoth     KeyForm = "seed and expanded key"
	FormExpanded KeyForm = "expanded-only"
	FormClassic  KeyForm = "" // not an ML-DSA key
)

// OIDs of ML-DSA-44/65/87 (RFC 9881, Section 2; NIST CSOR).
var (
	oidMLDSA44 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}
	oidMLDSA65 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}
	oidMLDSA87 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}
)

type pkcs8 struct {
	Version    int
	Algo       pkix.AlgorithmIdentifier
	PrivateKey []byte
}

// bothForm is the SEQUENCE { seed OCTET STRING, expandedKey OCTET STRING }
// that OpenSSL 3.5 writes by default.
type bothForm struct {
	Seed     []byte
	Expanded []byte
}

// LoadKey reads a PEM private key file: PKCS#8 (RSA, ECDSA, Ed25519, ML-DSA
// in all three forms), SEC 1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY".
// Errors name the file and never show key bytes. An ML-DSA key comes
// back as the signer it will sign with: circl's, or crypto/mldsa's in
// FIPS 140-3 mode (signer.go), already proven by a test signature.
func LoadKey(path string) (crypto.Signer, KeyForm, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", access.Explain(path, access.Key, err)
	}
	key, form, err := ParseKey(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return key, form, nil
}

// ParseKey parses the first private key PEM block in data.
func ParseKey(data []byte) (crypto.Signer, KeyForm, error) {
	var block *pem.Block
	for {
		block, data = pem.Decode(data)
		if block == nil {
			return nil, "", errors.New("no PEM private key found (want a \"PRIVATE KEY\" block, as openssl genpkey writes)")
		}
		switch block.Type {
		case "PRIVATE KEY":
			return parsePKCS8(block.Bytes)
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, "", fmt.Errorf("malformed EC private key: %v", err)
			}
			return k, FormClassic, nil
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, "", fmt.Errorf("malformed RSA private key: %v", err)
			}
			return k, FormClassic, nil
		case "ENCRYPTED PRIVATE KEY":
			// The packages install keys 0640 root:quantum-safe-proxy-keys
			// (packaging/scripts); a plain 0600 root file would not be
			// readable by the service's user.
			return nil, "", errors.New("private key is encrypted and the proxy takes no passphrase; decrypt it with (umask 077; openssl pkey -in KEY -out PLAIN.key) and let only the service's group read it, as the packages install keys: chgrp quantum-safe-proxy-keys PLAIN.key && chmod 0640 PLAIN.key; or pass it with systemd LoadCredentialEncrypted=")
		}
	}
}

func parsePKCS8(der []byte) (crypto.Signer, KeyForm, error) {
	var p pkcs8
	if _, err := asn1.Unmarshal(der, &p); err != nil {
		return nil, "", fmt.Errorf("malformed PKCS#8 private key: %v", err)
	}
	params, ok := mldsaParams(p.Algo.Algorithm)
	if !ok {
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, "", fmt.Errorf("unsupported private key: %v", err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, "", fmt.Errorf("private key of type %T cannot sign", k)
		}
		return s, FormClassic, nil
	}
	return parseMLDSA(params, p.PrivateKey)
}

func mldsaParams(oid asn1.ObjectIdentifier) (mldsa.Parameters, bool) {
	switch {
	case oid.Equal(oidMLDSA44):
		return mldsa.MLDSA44(), true
	case oid.Equal(oidMLDSA65):
		return mldsa.MLDSA65(), true
	case oid.Equal(oidMLDSA87):
		return mldsa.MLDSA87(), true
	}
	return mldsa.Parameters{}, false
}

// expandedSize is the FIPS 204 private key size (Table 2) of each set.
func expandedSize(params mldsa.Parameters) int {
	switch params {
	case mldsa.MLDSA44():
		return 2560
	case mldsa.MLDSA65():
		return 4032
	default:
		return 4896
	}
}

func parseMLDSA(params mldsa.Parameters, inner []byte) (crypto.Signer, KeyForm, error) {
	if len(inner) == 0 {
		return nil, "", fmt.Errorf("%s private key is empty", params)
	}
	var raw asn1.RawValue
	if rest, err := asn1.Unmarshal(inner, &raw); err != nil || len(rest) != 0 {
		return nil, "", fmt.Errorf("%s private key is malformed", params)
	}
	switch {
	case raw.Class == asn1.ClassContextSpecific && raw.Tag == 0 && !raw.IsCompound:
		k, err := seedSigner(params, raw.Bytes)
		return k, FormSeed, err
	case raw.Class == asn1.ClassUniversal && raw.Tag == asn1.TagOctetString:
		if len(raw.Bytes) != expandedSize(params) {
			return nil, "", fmt.Errorf("%s expanded private key has %d bytes, want %d", params, len(raw.Bytes), expandedSize(params))
		}
		k, err := expandedOnlySigner(params, raw.Bytes)
		return k, FormExpanded, err
	case raw.Class == asn1.ClassUniversal && raw.Tag == asn1.TagSequence:
		var both bothForm
		if _, err := asn1.Unmarshal(inner, &both); err != nil {
			return nil, "", fmt.Errorf("%s private key (seed and expanded) is malformed: %v", params, err)
		}
		if len(both.Seed) != mldsa.PrivateKeySize {
			return nil, "", fmt.Errorf("%s seed has %d bytes, want %d", params, len(both.Seed), mldsa.PrivateKeySize)
		}
		if !expandedMatchesSeed(params, both.Seed, both.Expanded) {
			return nil, "", fmt.Errorf("%s private key is inconsistent: its expanded key was not derived from its seed; regenerate it", params)
		}
		k, err := seedSigner(params, both.Seed)
		return k, FormBoth, err
	}
	return nil, "", fmt.Errorf("%s private key has an unknown encoding (ASN.1 tag %d)", params, raw.Tag)
}

func newSeedKey(params mldsa.Parameters, seed []byte) (*mldsa.PrivateKey, error) {
	if len(seed) != mldsa.PrivateKeySize {
		return nil, fmt.Errorf("%s seed has %d bytes, want %d", params, len(seed), mldsa.PrivateKeySize)
	}
	return mldsa.NewPrivateKey(params, seed)
}

// Algorithm names a public key the way operators read it: "ML-DSA-65",
// "ECDSA P-256", "RSA 2048", "Ed25519".
func Algorithm(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *mldsa.PublicKey:
		return k.Parameters().String()
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// IsMLDSA reports whether pub is an ML-DSA public key.
func IsMLDSA(pub crypto.PublicKey) bool {
	_, ok := pub.(*mldsa.PublicKey)
	return ok
}
