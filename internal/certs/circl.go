package certs

// This is the only file that imports circl. It is the fast path: every
// ML-DSA key the proxy serves or presents signs through circl (see
// signer.go for the choice, and for FIPS 140-3 mode, where crypto/mldsa
// signs instead). On one core of the test machine circl's ML-DSA-65 signs
// in about 123 µs, crypto/mldsa of Go 1.27 in about 550 µs, and the
// signature is most of a post-quantum handshake's cost. circl also fills
// two gaps of crypto/mldsa: it loads an ML-DSA private key without its
// seed and shows the expanded encoding of a key derived from a seed,
// both of which OpenSSL 3.5 writes. Tests use it as a second, independent
// ML-DSA implementation. When crypto/mldsa is as fast and learns expanded
// keys, this file goes.

import (
	"bytes"
	"crypto"
	"crypto/mldsa"
	"errors"
	"fmt"
	"io"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
)

// circlScheme returns circl's implementation of the same parameter set.
func circlScheme(params mldsa.Parameters) sign.Scheme {
	switch params {
	case mldsa.MLDSA44():
		return mldsa44.Scheme()
	case mldsa.MLDSA65():
		return mldsa65.Scheme()
	default:
		return mldsa87.Scheme()
	}
}

// expandedMatchesSeed reports whether expanded is the FIPS 204 encoding of
// the private key that seed derives (FIPS 204, Algorithm 6 ML-DSA.KeyGen_internal
// and Algorithm 24 skEncode).
func expandedMatchesSeed(params mldsa.Parameters, seed, expanded []byte) bool {
	_, sk := circlScheme(params).DeriveKey(seed)
	enc, err := sk.MarshalBinary()
	return err == nil && bytes.Equal(enc, expanded)
}

// circlSigner signs with circl's ML-DSA. Its Public is a standard
// *mldsa.PublicKey, so crypto/tls and crypto/x509 treat it like any other
// ML-DSA key: crypto/tls signs through crypto.SignMessage with
// crypto.Hash(0), which lands in Sign. circl's private keys hold the
// expanded matrix A and the secrets in NTT form, computed once at load,
// and signing only reads them, so one signer serves concurrent handshakes.
type circlSigner struct {
	params mldsa.Parameters
	sk     sign.PrivateKey
	pub    *mldsa.PublicKey
}

// newSeedSigner derives the circl key of seed (FIPS 204, Algorithm 6
// ML-DSA.KeyGen_internal); pub is the public key crypto/mldsa derived
// from the same seed, which the load-time test signature is verified
// against.
func newSeedSigner(params mldsa.Parameters, seed []byte, pub *mldsa.PublicKey) *circlSigner {
	_, sk := circlScheme(params).DeriveKey(seed)
	return &circlSigner{params: params, sk: sk, pub: pub}
}

// newExpandedSigner loads an ML-DSA private key that has no seed, after
// checking that its tr and t0 follow from the rest (expanded.go).
func newExpandedSigner(params mldsa.Parameters, expanded []byte) (*circlSigner, error) {
	sk, err := circlScheme(params).UnmarshalBinaryPrivateKey(expanded)
	if err != nil {
		return nil, fmt.Errorf("%s expanded private key is malformed: %v", params, err)
	}
	pkBytes, err := sk.Public().(sign.PublicKey).MarshalBinary()
	if err != nil {
		return nil, err
	}
	pub, err := mldsa.NewPublicKey(params, pkBytes)
	if err != nil {
		return nil, err
	}
	if err := checkExpanded(params, expanded, pkBytes); err != nil {
		return nil, fmt.Errorf("%s expanded private key (no seed) is damaged: %v; regenerate the key and reissue its certificate", params, err)
	}
	return &circlSigner{params: params, sk: sk, pub: pub}, nil
}

func (s *circlSigner) Public() crypto.PublicKey { return s.pub }

// Sign signs message directly (pure ML-DSA, FIPS 204 Algorithm 2) with
// the hedged variant (fresh randomness from crypto/rand in every
// signature), as crypto/mldsa's Sign does. The context of an
// *mldsa.Options is honoured. Pre-hashed signing (HashML-DSA, or the
// external μ crypto/mldsa takes with crypto.MLDSAMu) is refused: TLS 1.3
// and X.509 sign pure ML-DSA only (draft-ietf-tls-mldsa, RFC 9881).
func (s *circlSigner) Sign(_ io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	var ctx []byte
	if opts != nil {
		if opts.HashFunc() != 0 {
			return nil, fmt.Errorf("ML-DSA: pre-hashed signing (%v) is not supported, only pure ML-DSA", opts.HashFunc())
		}
		if o, ok := opts.(*mldsa.Options); ok {
			ctx = []byte(o.Context)
		}
	}
	sig := make([]byte, s.params.SignatureSize())
	var err error
	switch sk := s.sk.(type) {
	case *mldsa44.PrivateKey:
		err = mldsa44.SignTo(sk, message, ctx, true, sig)
	case *mldsa65.PrivateKey:
		err = mldsa65.SignTo(sk, message, ctx, true, sig)
	case *mldsa87.PrivateKey:
		err = mldsa87.SignTo(sk, message, ctx, true, sig)
	default:
		err = errors.New("ML-DSA: unknown circl key type")
	}
	if err != nil {
		return nil, err
	}
	return sig, nil
}

// CirclVerify checks an ML-DSA signature with circl, independently of
// crypto/mldsa. Tests use it to cross-check every signature the project makes.
func CirclVerify(pub *mldsa.PublicKey, message, signature []byte) bool {
	return circlVerifyContext(pub, message, signature, "")
}

// circlVerifyContext is CirclVerify for a signature made with a context
// string (FIPS 204, Algorithm 3).
func circlVerifyContext(pub *mldsa.PublicKey, message, signature []byte, context string) bool {
	s := circlScheme(pub.Parameters())
	pk, err := s.UnmarshalBinaryPublicKey(pub.Bytes())
	if err != nil {
		return false
	}
	return s.Verify(pk, message, signature, &sign.SignatureOpts{Context: context})
}
