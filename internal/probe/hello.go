package probe

import (
	"crypto/rand"
	"crypto/tls"
	"net"
	"strings"
)

// Extension types (IANA TLS ExtensionType Values) the reader writes or reads.
const (
	extServerName          = 0
	extSupportedGroups     = 10
	extSignatureAlgorithms = 13
	extCookie              = 44
	extSupportedVersions   = 43
	extCertAuthorities     = 47
	extKeyShare            = 51
)

// Handshake message types (RFC 8446, Section 4; RFC 5246, Section 7.4).
const (
	typeClientHello         = 1
	typeServerHello         = 2
	typeNewSessionTicket    = 4
	typeEncryptedExtensions = 8
	typeCertificate         = 11
	typeServerKeyExchange   = 12
	typeCertificateRequest  = 13
	typeServerHelloDone     = 14
	typeCertificateVerify   = 15
	typeFinished            = 20
	typeMessageHash         = 254
)

// Record content types (RFC 8446, Section 5.1).
const (
	recordChangeCipherSpec = 20
	recordAlert            = 21
	recordHandshake        = 22
	recordApplicationData  = 23
)

// offer is what the handshake reader's ClientHello offers.
type offer struct {
	// ServerName is sent as SNI (RFC 6066, Section 3) unless empty or an
	// IP address, which SNI may not carry.
	ServerName string
	// Groups are listed in supported_groups in this order; KeyShares
	// (each also in Groups, and among those [newKeyPair] knows) get a
	// key share in the first ClientHello. A server that wants another
	// of Groups asks for it with a HelloRetryRequest.
	Groups, KeyShares []tls.CurveID
	// Schemes is signature_algorithms (RFC 8446, Section 4.2.3).
	Schemes []tls.SignatureScheme
}

// classicalSchemes are the signature algorithms of a client that does
// not offer ML-DSA: those crypto/tls lists (defaults.go) less ML-DSA,
// which Chromium and OpenSSL offer too. RSA PKCS#1 v1.5 may not sign a
// TLS 1.3 handshake but is listed for the signatures of certificates
// (RFC 8446, Section 4.2.3), as every client does.
var classicalSchemes = []tls.SignatureScheme{
	tls.PSSWithSHA256, tls.ECDSAWithP256AndSHA256, tls.Ed25519,
	tls.PSSWithSHA384, tls.PSSWithSHA512,
	tls.PKCS1WithSHA256, tls.PKCS1WithSHA384, tls.PKCS1WithSHA512,
	tls.ECDSAWithP384AndSHA384, tls.ECDSAWithP521AndSHA512,
}

// mldsaSchemes are ML-DSA-44/65/87 (draft-ietf-tls-mldsa).
var mldsaSchemes = []tls.SignatureScheme{tls.MLDSA44, tls.MLDSA65, tls.MLDSA87}

// offerWithoutMLDSA is the ClientHello of a current client that does not
// offer ML-DSA, such as Chromium before M151: X25519MLKEM768 first, key
// shares for it and X25519 (as crypto/tls and Chromium send), the other
// groups the reader knows on request, and classical signatures only.
func offerWithoutMLDSA(serverName string) offer {
	return offer{
		ServerName: serverName,
		Groups:     shareGroups,
		KeyShares:  []tls.CurveID{tls.X25519MLKEM768, tls.X25519},
		Schemes:    classicalSchemes,
	}
}

// offerMLDSACerts is the ClientHello of a client that accepts ML-DSA for
// the handshake and for the signatures on certificates, as OpenSSL 3.5
// and Chromium 156 offer it: ML-DSA in signature_algorithms and no
// signature_algorithms_cert, which then applies to certificates too
// (RFC 8446, Section 4.2.3).
func offerMLDSACerts(serverName string) offer {
	of := offerWithoutMLDSA(serverName)
	of.Schemes = append(append([]tls.SignatureScheme{}, mldsaSchemes...), classicalSchemes...)
	return of
}

// suites are the TLS 1.3 cipher suites the reader offers, those every
// TLS 1.3 server must support or commonly prefers (RFC 8446, Section
// 9.1); TLS_CHACHA20_POLY1305_SHA256 would need a module outside the
// standard library.
var suites = []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384}

// clientHello is a ClientHello the reader built, with the private halves
// of its key shares.
type clientHello struct {
	msg       []byte // the handshake message, header included
	random    []byte
	sessionID []byte
	keys      []*keyPair
}

// newClientHello builds the first ClientHello of an offer (RFC 8446,
// Section 4.1.2). Its legacy_session_id is 32 random bytes, as a client
// in middlebox compatibility mode sends (Appendix D.4), so that servers
// and middleboxes treat it as they treat browsers.
func newClientHello(of offer) (*clientHello, error) {
	h := &clientHello{random: make([]byte, 32), sessionID: make([]byte, 32)}
	rand.Read(h.random)
	rand.Read(h.sessionID)
	for _, g := range of.KeyShares {
		k, err := newKeyPair(g)
		if err != nil {
			return nil, err
		}
		h.keys = append(h.keys, k)
	}
	h.msg = h.marshal(of, nil)
	return h, nil
}

// retry builds the second ClientHello after a HelloRetryRequest (RFC
// 8446, Section 4.1.4): the same, with one key share, for the group the
// server asked for, and the server's cookie, if any, echoed.
func (h *clientHello) retry(of offer, group tls.CurveID, cookie []byte) error {
	k, err := newKeyPair(group)
	if err != nil {
		return err
	}
	h.keys = []*keyPair{k}
	h.msg = h.marshal(of, cookie)
	return nil
}

func (h *clientHello) marshal(of offer, cookie []byte) []byte {
	var o output
	o.u8(typeClientHello)
	o.vec(3, func(o *output) {
		o.u16(tls.VersionTLS12) // legacy_version
		o.add(h.random...)
		o.vec(1, func(o *output) { o.add(h.sessionID...) })
		o.vec(2, func(o *output) {
			for _, s := range suites {
				o.u16(s)
			}
		})
		o.vec(1, func(o *output) { o.u8(0) }) // legacy_compression_methods: null
		o.vec(2, func(o *output) { h.extensions(o, of, cookie) })
	})
	return o
}

func (h *clientHello) extensions(o *output, of offer, cookie []byte) {
	ext := func(typ uint16, fill func(*output)) {
		o.u16(typ)
		o.vec(2, fill)
	}
	if name := strings.TrimSuffix(of.ServerName, "."); name != "" && net.ParseIP(name) == nil {
		ext(extServerName, func(o *output) {
			o.vec(2, func(o *output) {
				o.u8(0) // host_name
				o.vec(2, func(o *output) { o.addString(name) })
			})
		})
	}
	ext(extSupportedGroups, func(o *output) {
		o.vec(2, func(o *output) {
			for _, g := range of.Groups {
				o.u16(uint16(g))
			}
		})
	})
	ext(extSignatureAlgorithms, func(o *output) {
		o.vec(2, func(o *output) {
			for _, s := range of.Schemes {
				o.u16(uint16(s))
			}
		})
	})
	ext(extSupportedVersions, func(o *output) {
		o.vec(1, func(o *output) { o.u16(tls.VersionTLS13) })
	})
	if cookie != nil {
		ext(extCookie, func(o *output) { o.vec(2, func(o *output) { o.add(cookie...) }) })
	}
	ext(extKeyShare, func(o *output) {
		o.vec(2, func(o *output) {
			for _, k := range h.keys {
				o.u16(uint16(k.group))
				o.vec(2, func(o *output) { o.add(k.share...) })
			}
		})
	})
}

// record frames a handshake message as one plaintext record (RFC 8446,
// Section 5.1); the reader's messages are far below the 16 KiB limit.
// The first ClientHello's record says TLS 1.0, as crypto/tls and most
// clients write it, for servers that refuse anything else there.
func record(msg []byte, first bool) []byte {
	var o output
	o.u8(recordHandshake)
	if first {
		o.u16(tls.VersionTLS10)
	} else {
		o.u16(tls.VersionTLS12)
	}
	o.vec(2, func(o *output) { o.add(msg...) })
	return o
}
