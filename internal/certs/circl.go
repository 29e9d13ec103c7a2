package certs

// This is the only file that imports circl. Go 1.27's crypto/mldsa can
// neither load an ML-DSA private key without its seed nor show the expanded
// encoding of a key it derived, and OpenSSL 3.5 writes both forms, so circl
// fills those two gaps. Tests use it as a second, independent ML-DSA
// implementation. When crypto/mldsa learns expanded keys, this file goes.

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

// expandedSigner signs with an ML-DSA private key that has no seed. Its
// Public is a standard *mldsa.PublicKey, so crypto/tls and crypto/x509 treat
// it like any other ML-DSA key: crypto/tls signs through crypto.SignMessage
// with crypto.Hash(0), which lands in Sign.
type expandedSigner struct {
	params mldsa.Parameters
	sk     sign.PrivateKey
	pub    *mldsa.PublicKey
}

func newExpandedSigner(params mldsa.Parameters, expanded []byte) (*expandedSigner, error) {
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
	return &expandedSigner{params: params, sk: sk, pub: pub}, nil
}

func (s *expandedSigner) Public() crypto.PublicKey { return s.pub }

// Sign signs message directly (pure ML-DSA, FIPS 204 Algorithm 2) with the
// hedged variant, as crypto/mldsa does. Pre-hashed (μ) signing is refused.
func (s *expandedSigner) Sign(_ io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	var ctx []byte
	if opts != nil {
		if opts.HashFunc() != 0 {
			return nil, errors.New("ML-DSA key without seed: only pure signing is supported")
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
	}
	return sig, err
}

// CirclVerify checks an ML-DSA signature with circl, independently of
// crypto/mldsa. Tests use it to cross-check every signature the project makes.
func CirclVerify(pub *mldsa.PublicKey, message, signature []byte) bool {
	s := circlScheme(pub.Parameters())
	pk, err := s.UnmarshalBinaryPublicKey(pub.Bytes())
	if err != nil {
		return false
	}
	return s.Verify(pk, message, signature, nil)
}
