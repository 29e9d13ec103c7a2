package probe

import (
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"hash"
)

// suite is what the key schedule needs of a TLS 1.3 cipher suite.
type suite struct {
	hash   func() hash.Hash
	keyLen int // AES-GCM key bytes
}

func suiteFor(id uint16) (suite, bool) {
	switch id {
	case tls.TLS_AES_128_GCM_SHA256:
		return suite{sha256.New, 16}, true
	case tls.TLS_AES_256_GCM_SHA384:
		return suite{sha512.New384, 32}, true
	}
	return suite{}, false
}

// expandLabel is HKDF-Expand-Label (RFC 8446, Section 7.1).
func expandLabel(h func() hash.Hash, secret []byte, label string, context []byte, length int) []byte {
	var info output
	info.u16(uint16(length))
	info.vec(1, func(o *output) { o.addString("tls13 " + label) })
	info.vec(1, func(o *output) { o.add(context...) })
	out, err := hkdf.Expand(h, secret, string(info), length)
	if err != nil {
		panic("probe: HKDF-Expand-Label: " + err.Error()) // only for lengths beyond 255 hashes, which TLS never asks
	}
	return out
}

// serverHandshakeSecret is server_handshake_traffic_secret (RFC 8446,
// Section 7.1) for a full handshake, no PSK: from the (EC)DHE or KEM
// shared secret and the hash of ClientHello through ServerHello.
func (s suite) serverHandshakeSecret(shared, helloHash []byte) []byte {
	size := s.hash().Size()
	early, err := hkdf.Extract(s.hash, make([]byte, size), nil)
	if err != nil {
		panic("probe: HKDF-Extract: " + err.Error())
	}
	derived := expandLabel(s.hash, early, "derived", s.hash().Sum(nil), size)
	handshake, err := hkdf.Extract(s.hash, shared, derived)
	if err != nil {
		panic("probe: HKDF-Extract: " + err.Error())
	}
	return expandLabel(s.hash, handshake, "s hs traffic", helloHash, size)
}

// trafficKeys are the AES-GCM key and IV of a traffic secret (RFC 8446,
// Section 7.3).
func (s suite) trafficKeys(secret []byte) (key, iv []byte) {
	return expandLabel(s.hash, secret, "key", nil, s.keyLen), expandLabel(s.hash, secret, "iv", nil, 12)
}
