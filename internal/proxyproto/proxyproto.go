// Package proxyproto encodes the PROXY protocol version 2 header that the
// proxy sends a backend before the client's bytes, when proxy_protocol is
// v2: who connected (addresses) and how (SNI, ALPN, TLS version, cipher,
// client certificate, the served certificate's algorithms, the key
// exchange group and whether it was post-quantum).
//
// The format is HAProxy's doc/proxy-protocol.txt, section 2.2 (version 2);
// the TLV numbers in the custom range 0xE0-0xEF are this project's, and
// README ("PROXY protocol") documents every TLV sent.
package proxyproto

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// signature starts every version 2 header (proxy-protocol.txt, 2.2).
const signature = "\r\n\r\n\x00\r\nQUIT\n"

// The version and command byte: version 2, command PROXY (the connection
// was relayed on behalf of the client), and the family and transport byte.
const (
	verCmdProxy = 0x21
	// verCmdLocal is what HAProxy sends, TLVs included, when it has no
	// addresses to give; HAProxy and go-proxyproto as receivers refuse
	// PROXY with AF_UNSPEC, and accept LOCAL.
	verCmdLocal = 0x20
	famUnspec   = 0x00 // AF_UNSPEC, UNSPEC: no addresses follow
	famTCP4     = 0x11 // AF_INET, STREAM: 4+4+2+2 address bytes
	famTCP6     = 0x21 // AF_INET6, STREAM: 16+16+2+2 address bytes
)

// TLV types: the registered ones (proxy-protocol.txt, 2.2) and this
// project's, in the range reserved for applications (2.2.8).
const (
	TypeALPN      = 0x01
	TypeAuthority = 0x02
	TypeSSL       = 0x20

	SubtypeSSLVersion = 0x21
	SubtypeSSLCN      = 0x22
	SubtypeSSLCipher  = 0x23
	SubtypeSSLSigAlg  = 0x24
	SubtypeSSLKeyAlg  = 0x25

	// TypeGroup is the negotiated key exchange group, as crypto/tls names
	// it (tls.CurveID.String): "X25519MLKEM768", "X25519", "CurveP256".
	TypeGroup = 0xE0
	// TypePQ is one ASCII byte: '1' if the key exchange was hybrid
	// post-quantum, '0' if not.
	TypePQ = 0xE1
	// TypeURI is the client certificate's first URI SAN (a SPIFFE ID, for
	// instance), sent only when a verified client certificate has one.
	TypeURI = 0xE2
)

// The client field of PP2_TYPE_SSL (proxy-protocol.txt, 2.2.6).
const (
	ClientSSL      = 0x01 // the client connected over TLS
	ClientCertConn = 0x02 // it sent a certificate on this connection
	ClientCertSess = 0x04 // the TLS session had a client certificate
)

// Header is what one version 2 header says.
type Header struct {
	// Source is the client's address and Destination the address it
	// connected to. When both are valid and of one family (an IPv4-mapped
	// IPv6 address counts as IPv4), the header says TCP over IPv4 or IPv6;
	// otherwise (a unix socket listener, for instance) it is a LOCAL
	// header with AF_UNSPEC, no addresses and the TLVs, as HAProxy sends
	// (a receiver then takes the connection's own addresses; HAProxy also
	// ignores the TLVs of a LOCAL header).
	Source, Destination netip.AddrPort
	// Authority is the server name (SNI) the client sent, "" if none.
	Authority string
	// ALPN is the negotiated application protocol, "" if none.
	ALPN string
	// TLS, if not nil, is the TLS connection's description: the
	// PP2_TYPE_SSL TLV and the custom TLVs.
	TLS *TLS
}

// TLS describes the client's TLS connection.
type TLS struct {
	// Client is a combination of ClientSSL, ClientCertConn, ClientCertSess.
	Client byte
	// Verified is true when the client presented a certificate and it was
	// verified: the verify field is then 0, and 1 otherwise.
	Verified bool
	// Version ("TLSv1.3"), Cipher, SigAlg and KeyAlg are sent when not ""
	// (see the names in names.go); CN, the client certificate's subject
	// common name, too.
	Version, CN, Cipher, SigAlg, KeyAlg string
	// Group is the key exchange group's name ("" omits it and PQ).
	Group string
	PQ    bool
	// URI is the client certificate's first URI SAN, "" if none.
	URI string
}

// maxLen is the most the 16-bit length field can say follows the
// 16-byte fixed part.
const maxLen = 0xFFFF

// Append appends the header to b and returns the result. It fails only
// when the header would be longer than the format allows (64 KiB after
// the first 16 bytes), which only a client certificate with a huge common
// name or URI could cause: such a header is not sent truncated, since a
// backend may decide on the identity it carries.
func (h *Header) Append(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, signature...)
	src, dst := h.Source.Addr().Unmap(), h.Destination.Addr().Unmap()
	switch {
	case h.Source.IsValid() && h.Destination.IsValid() && src.Is4() && dst.Is4():
		b = append(b, verCmdProxy, famTCP4, 0, 0)
		b = append(b, src.AsSlice()...)
		b = append(b, dst.AsSlice()...)
	case h.Source.IsValid() && h.Destination.IsValid() && src.Is6() && dst.Is6():
		b = append(b, verCmdProxy, famTCP6, 0, 0)
		s, d := src.As16(), dst.As16()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	default:
		b = append(b, verCmdLocal, famUnspec, 0, 0)
	}
	if b[start+13] != famUnspec {
		b = binary.BigEndian.AppendUint16(b, h.Source.Port())
		b = binary.BigEndian.AppendUint16(b, h.Destination.Port())
	}
	b = appendTLV(b, TypeAuthority, h.Authority)
	b = appendTLV(b, TypeALPN, h.ALPN)
	if t := h.TLS; t != nil {
		b = t.appendSSL(b)
		if t.Group != "" {
			b = appendTLV(b, TypeGroup, t.Group)
			pq := "0"
			if t.PQ {
				pq = "1"
			}
			b = appendTLV(b, TypePQ, pq)
		}
		b = appendTLV(b, TypeURI, t.URI)
	}
	n := len(b) - start - 16
	if n > maxLen {
		return b[:start], fmt.Errorf("PROXY protocol header of %d bytes is longer than the %d the format allows", n+16, maxLen+16)
	}
	binary.BigEndian.PutUint16(b[start+14:], uint16(n))
	return b, nil
}

// appendSSL appends the PP2_TYPE_SSL TLV: client flags, verify, and the
// sub-TLVs that are set.
func (t *TLS) appendSSL(b []byte) []byte {
	b = append(b, TypeSSL, 0, 0)
	at := len(b)
	var verify uint32 = 1
	if t.Verified {
		verify = 0
	}
	b = append(b, t.Client)
	b = binary.BigEndian.AppendUint32(b, verify)
	b = appendTLV(b, SubtypeSSLVersion, t.Version)
	b = appendTLV(b, SubtypeSSLCN, t.CN)
	b = appendTLV(b, SubtypeSSLCipher, t.Cipher)
	b = appendTLV(b, SubtypeSSLSigAlg, t.SigAlg)
	b = appendTLV(b, SubtypeSSLKeyAlg, t.KeyAlg)
	// Truncated to 16 bits only when the whole header is too long, which
	// Append then refuses.
	binary.BigEndian.PutUint16(b[at-2:], uint16(len(b)-at))
	return b
}

// appendTLV appends one TLV, or nothing for an empty value: every TLV this
// package sends is omitted rather than sent empty.
func appendTLV(b []byte, typ byte, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// Size is an upper bound of the header's length, for sizing its buffer
// in one allocation.
func (h *Header) Size() int {
	n := 16 + 36 + 2*3 + len(h.Authority) + len(h.ALPN)
	if t := h.TLS; t != nil {
		n += 3 + 5 + 5*3 + len(t.Version) + len(t.CN) + len(t.Cipher) + len(t.SigAlg) + len(t.KeyAlg)
		n += 3 + len(t.Group) + 3 + 1 + 3 + len(t.URI)
	}
	return n
}
