package probe

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/mldsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
)

// serverSignatureContext starts what a server signs in TLS 1.3 after 64
// spaces (RFC 8446, Section 4.4.3).
const serverSignatureContext = "TLS 1.3, server CertificateVerify\x00"

// verifyCertificateVerify checks a TLS 1.3 server's CertificateVerify
// (RFC 8446, Section 4.4.3): the scheme is one the client offered and
// fits the leaf's key, and the signature over 64 spaces, the context
// string and the transcript hash up to the Certificate verifies with the
// leaf's public key.
func verifyCertificateVerify(leaf *x509.Certificate, scheme tls.SignatureScheme, sig, transcriptHash []byte, offered []tls.SignatureScheme) error {
	if !slices.Contains(offered, scheme) {
		return fmt.Errorf("the server signed the handshake with %s, which the probe did not offer", SchemeName(scheme))
	}
	signed := make([]byte, 0, 64+len(serverSignatureContext)+len(transcriptHash))
	for range 64 {
		signed = append(signed, ' ')
	}
	signed = append(signed, serverSignatureContext...)
	signed = append(signed, transcriptHash...)
	if err := verifySignature(leaf.PublicKey, scheme, signed, sig); err != nil {
		return fmt.Errorf("the server's CertificateVerify (%s) does not verify with its certificate's %s key: %v",
			SchemeName(scheme), certs.Algorithm(leaf.PublicKey), err)
	}
	return nil
}

// ecdsaSchemes are the TLS 1.3 ECDSA schemes, each of which names its
// curve as well as its hash (RFC 8446, Section 4.2.3).
var ecdsaSchemes = map[tls.SignatureScheme]struct {
	curve elliptic.Curve
	hash  crypto.Hash
}{
	tls.ECDSAWithP256AndSHA256: {elliptic.P256(), crypto.SHA256},
	tls.ECDSAWithP384AndSHA384: {elliptic.P384(), crypto.SHA384},
	tls.ECDSAWithP521AndSHA512: {elliptic.P521(), crypto.SHA512},
}

// pssSchemes are the RSA-PSS schemes for RSA keys (rsa_pss_rsae_*).
var pssSchemes = map[tls.SignatureScheme]crypto.Hash{
	tls.PSSWithSHA256: crypto.SHA256, tls.PSSWithSHA384: crypto.SHA384, tls.PSSWithSHA512: crypto.SHA512,
}

var errSchemeKey = errors.New("the scheme does not fit the key")

// verifySignature checks sig over signed with the scheme's algorithm and
// hash. RSA signs with PSS, its salt as long as the hash; PKCS#1 v1.5 may
// not sign a TLS 1.3 handshake.
func verifySignature(pub crypto.PublicKey, scheme tls.SignatureScheme, signed, sig []byte) error {
	digest := func(h crypto.Hash) []byte {
		d := h.New()
		d.Write(signed)
		return d.Sum(nil)
	}
	if e, ok := ecdsaSchemes[scheme]; ok {
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Curve != e.curve {
			return errSchemeKey
		}
		if !ecdsa.VerifyASN1(k, digest(e.hash), sig) {
			return errors.New("bad ECDSA signature")
		}
		return nil
	}
	if h, ok := pssSchemes[scheme]; ok {
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return errSchemeKey
		}
		if rsa.VerifyPSS(k, h, digest(h), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) != nil {
			return errors.New("bad RSA-PSS signature")
		}
		return nil
	}
	switch scheme {
	case tls.Ed25519:
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return errSchemeKey
		}
		if !ed25519.Verify(k, signed, sig) {
			return errors.New("bad Ed25519 signature")
		}
		return nil
	case tls.MLDSA44, tls.MLDSA65, tls.MLDSA87:
		// ML-DSA signs the message itself, with an empty context
		// (draft-ietf-tls-mldsa, Section 3).
		k, ok := pub.(*mldsa.PublicKey)
		if !ok || SchemeName(scheme) != mldsaSchemeOf(k) {
			return errSchemeKey
		}
		if mldsa.Verify(k, signed, sig, nil) != nil {
			return errors.New("bad ML-DSA signature")
		}
		return nil
	case tls.PKCS1WithSHA256, tls.PKCS1WithSHA384, tls.PKCS1WithSHA512:
		return errors.New("RSA PKCS#1 v1.5 may not sign a TLS 1.3 handshake (RFC 8446, Section 4.4.3)")
	}
	return errors.New("the probe cannot check this scheme")
}

// mldsaSchemeOf names the signature scheme of an ML-DSA key.
func mldsaSchemeOf(k *mldsa.PublicKey) string {
	switch k.Parameters() {
	case mldsa.MLDSA44():
		return "mldsa44"
	case mldsa.MLDSA65():
		return "mldsa65"
	}
	return "mldsa87"
}
