package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/mldsa"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
)

// selfTestMessage is what every served key signs once at load.
const selfTestMessage = "quantum-safe-proxy key self-test"

// signVerify signs a fixed message with key the way crypto/tls 1.27 signs
// a TLS 1.3 CertificateVerify (handshake_server_tls13.go: crypto.SignMessage
// with the scheme's hash; auth.go verifyHandshakeSignature), and verifies
// the signature with pub, the certificate's key. A key can match its
// certificate's public key and still sign nothing valid: an ML-DSA key
// stored without its seed carries tr = H(pk) (FIPS 204, Algorithm 24
// skEncode) which no loader can check against pk without signing, and a
// damaged tr makes every signature fail (FIPS 204, Algorithm 7).
func signVerify(key crypto.Signer, pub crypto.PublicKey) error {
	msg := []byte(selfTestMessage)
	switch pub := pub.(type) {
	case *mldsa.PublicKey:
		// Pure ML-DSA, empty context (RFC 9881 and crypto/tls: directSigning).
		sig, err := crypto.SignMessage(key, rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			return err
		}
		return mldsa.Verify(pub, msg, sig, nil)
	case *ecdsa.PublicKey:
		h := ecdsaHash(pub.Curve)
		sig, err := crypto.SignMessage(key, rand.Reader, msg, h)
		if err != nil {
			return err
		}
		if !ecdsa.VerifyASN1(pub, digest(h, msg), sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case *rsa.PublicKey:
		// TLS 1.3 signs with RSA-PSS only (RFC 8446, Section 4.2.3).
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		sig, err := crypto.SignMessage(key, rand.Reader, msg, opts)
		if err != nil {
			return err
		}
		return rsa.VerifyPSS(pub, crypto.SHA256, digest(crypto.SHA256, msg), sig, opts)
	case ed25519.PublicKey:
		sig, err := crypto.SignMessage(key, rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			return err
		}
		if !ed25519.Verify(pub, msg, sig) {
			return errors.New("Ed25519 signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("keys of type %T cannot be served", pub)
}

// ecdsaHash is the hash TLS 1.3 pairs with each curve (RFC 8446,
// Section 4.2.3: ecdsa_secp256r1_sha256 and so on).
func ecdsaHash(c elliptic.Curve) crypto.Hash {
	switch c {
	case elliptic.P384():
		return crypto.SHA384
	case elliptic.P521():
		return crypto.SHA512
	}
	return crypto.SHA256
}

func digest(h crypto.Hash, msg []byte) []byte {
	d := h.New()
	d.Write(msg)
	return d.Sum(nil)
}
