package probe

import (
	"crypto/ecdh"
	"crypto/mlkem"
	"crypto/tls"
	"errors"
	"fmt"
)

// shareGroups are the groups the handshake reader can compute a key share
// for: the hybrids of draft-ietf-tls-ecdhe-mlkem and the classical curves.
var shareGroups = []tls.CurveID{
	tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024,
	tls.X25519, tls.CurveP256, tls.CurveP384,
}

// keyPair is the client's half of one key exchange (RFC 8446, Section
// 4.2.8): the key share it sends and the private keys to finish it with.
type keyPair struct {
	group tls.CurveID
	share []byte
	ecdh  *ecdh.PrivateKey
	// kem is the ML-KEM decapsulation key of a hybrid; nil for a
	// classical group.
	kem interface {
		Decapsulate(ciphertext []byte) ([]byte, error)
	}
	kemCiphertext int  // the size of the ML-KEM part of the server's share
	kemFirst      bool // X25519MLKEM768 puts ML-KEM first, the others ECDH
}

// newKeyPair makes a fresh key share for group. The layouts are those of
// draft-ietf-tls-ecdhe-mlkem, Section 4.1: X25519MLKEM768 sends the
// ML-KEM-768 encapsulation key then the X25519 share; SecP256r1MLKEM768
// and SecP384r1MLKEM1024 send the uncompressed point first. The shared
// secret is the two secrets in the same order.
func newKeyPair(group tls.CurveID) (*keyPair, error) {
	k := &keyPair{group: group}
	var curve ecdh.Curve
	var kemKey []byte
	switch group {
	case tls.X25519, tls.X25519MLKEM768:
		curve = ecdh.X25519()
	case tls.CurveP256, tls.SecP256r1MLKEM768:
		curve = ecdh.P256()
	case tls.CurveP384, tls.SecP384r1MLKEM1024:
		curve = ecdh.P384()
	default:
		return nil, fmt.Errorf("no key share for group %s", GroupName(group))
	}
	switch group {
	case tls.X25519MLKEM768, tls.SecP256r1MLKEM768:
		dk, err := mlkem.GenerateKey768()
		if err != nil {
			return nil, err
		}
		k.kem, kemKey, k.kemCiphertext = dk, dk.EncapsulationKey().Bytes(), mlkem.CiphertextSize768
	case tls.SecP384r1MLKEM1024:
		dk, err := mlkem.GenerateKey1024()
		if err != nil {
			return nil, err
		}
		k.kem, kemKey, k.kemCiphertext = dk, dk.EncapsulationKey().Bytes(), mlkem.CiphertextSize1024
	}
	var err error
	if k.ecdh, err = curve.GenerateKey(nil); err != nil {
		return nil, err
	}
	point := k.ecdh.PublicKey().Bytes()
	k.kemFirst = group == tls.X25519MLKEM768
	if k.kemFirst {
		k.share = append(kemKey, point...)
	} else {
		k.share = append(point, kemKey...)
	}
	return k, nil
}

// sharedSecret finishes the exchange with the server's key share.
func (k *keyPair) sharedSecret(server []byte) ([]byte, error) {
	if k.kem == nil {
		return k.ecdhSecret(server)
	}
	if len(server) <= k.kemCiphertext {
		return nil, fmt.Errorf("the server's %s key share has %d bytes, too few", GroupName(k.group), len(server))
	}
	ct, point := server[:k.kemCiphertext], server[k.kemCiphertext:]
	if !k.kemFirst {
		n := len(server) - k.kemCiphertext
		point, ct = server[:n], server[n:]
	}
	kemSecret, err := k.kem.Decapsulate(ct)
	if err != nil {
		return nil, fmt.Errorf("the server's ML-KEM ciphertext: %v", err)
	}
	ecdhSecret, err := k.ecdhSecret(point)
	if err != nil {
		return nil, err
	}
	if k.kemFirst {
		return append(kemSecret, ecdhSecret...), nil
	}
	return append(ecdhSecret, kemSecret...), nil
}

func (k *keyPair) ecdhSecret(point []byte) ([]byte, error) {
	pub, err := k.ecdh.Curve().NewPublicKey(point)
	if err != nil {
		return nil, errors.New("the server's ECDH key share is not a point on the curve")
	}
	return k.ecdh.ECDH(pub)
}
