package certs

// Which code signs with an ML-DSA key. Outside FIPS 140-3 mode every
// ML-DSA key, whatever form it was stored in, signs through circl
// (circl.go): about 4.5 times as fast as crypto/mldsa for ML-DSA-65 on
// the test machine, and one signature is most of a post-quantum
// handshake. When Go's FIPS 140-3 mode is on (GODEBUG=fips140=on or
// only, crypto/fips140.Enabled), signing stays in the Go Cryptographic
// Module, the validated one: crypto/mldsa with the key derived from its
// seed. The module takes a key only as its seed, so a key stored without
// one cannot be used there and is refused. Either way the signer is
// proven at load: it signs a message as crypto/tls will and crypto/mldsa
// verifies the signature.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/fips140"
	"crypto/mldsa"
	"crypto/rsa"
	"fmt"
)

// Signer names, as the start-up log, check and check --self-test --json
// show them.
const (
	SignerCircl = "circl"
	SignerFIPS  = "crypto/mldsa (FIPS 140-3)"
)

// deriveCircl is newSeedSigner; a test replaces it with one that signs
// with another key, to see the load-time check refuse it.
var deriveCircl = newSeedSigner

// seedSigner is the signer of an ML-DSA key given by its seed: circl's,
// or crypto/mldsa's in FIPS 140-3 mode. crypto/mldsa derives the public
// key either way, so the standard library says which key it is.
func seedSigner(params mldsa.Parameters, seed []byte) (crypto.Signer, error) {
	std, err := newSeedKey(params, seed)
	if err != nil {
		return nil, err
	}
	if fips140.Enabled() {
		if err := signVerify(std, std.PublicKey()); err != nil {
			return nil, fmt.Errorf("%s private key: a test signature made by crypto/mldsa in FIPS 140-3 mode does not verify (%v); this is a bug in Go, report it", params, err)
		}
		return std, nil
	}
	s := deriveCircl(params, seed, std.PublicKey())
	if err := signVerify(s, std.PublicKey()); err != nil {
		// A seed cannot be damaged: any 32 bytes are a key. circl and
		// crypto/mldsa disagree on it.
		return nil, fmt.Errorf("%s private key: a test signature made by circl does not verify with crypto/mldsa (%v); this is a bug in circl or Go, report it; until it is fixed, GODEBUG=fips140=on signs with crypto/mldsa", params, err)
	}
	return s, nil
}

// expandedOnlySigner is the signer of an ML-DSA key stored without its
// seed: circl's, and none in FIPS 140-3 mode.
func expandedOnlySigner(params mldsa.Parameters, expanded []byte) (crypto.Signer, error) {
	if fips140.Enabled() {
		return nil, fmt.Errorf("%s private key is expanded-only (no seed), and Go's FIPS 140-3 module, in force here (GODEBUG fips140), signs only with a key it derives from its seed; regenerate the key with its seed (openssl genpkey -algorithm %s; or certs init) and reissue its certificate", params, params)
	}
	s, err := newExpandedSigner(params, expanded)
	if err != nil {
		return nil, err
	}
	if err := signVerify(s, s.pub); err != nil {
		return nil, fmt.Errorf("%s expanded private key (no seed): a test signature made with it does not verify with crypto/mldsa (%v); regenerate the key and reissue its certificate", params, err)
	}
	return s, nil
}

// SignerName says which code signs with key: "circl" or
// "crypto/mldsa (FIPS 140-3)" for ML-DSA keys, the standard package for
// others ("crypto/ecdsa"), with " (FIPS 140-3)" when the module is in
// FIPS 140-3 mode.
func SignerName(key crypto.Signer) string {
	fips := ""
	if fips140.Enabled() {
		fips = " (FIPS 140-3)"
	}
	switch key.(type) {
	case *circlSigner:
		return SignerCircl
	case *mldsa.PrivateKey:
		return "crypto/mldsa" + fips
	case *ecdsa.PrivateKey:
		return "crypto/ecdsa" + fips
	case *rsa.PrivateKey:
		return "crypto/rsa" + fips
	case ed25519.PrivateKey:
		return "crypto/ed25519" + fips
	}
	return fmt.Sprintf("%T", key)
}
