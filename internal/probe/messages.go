package probe

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
)

// Parsers of the server's handshake messages. Each takes a whole message,
// its 4-byte header included, and never reads past what it was given.

// helloRetryRandom is the Random of a HelloRetryRequest: SHA-256 of
// "HelloRetryRequest" (RFC 8446, Section 4.1.3).
var helloRetryRandom = sha256.Sum256([]byte("HelloRetryRequest"))

// serverHello is a ServerHello or HelloRetryRequest (RFC 8446, Section
// 4.1.3), or a TLS 1.2 ServerHello (RFC 5246, Section 7.4.1.3).
type serverHello struct {
	version uint16 // supported_versions if sent, else legacy_version
	suite   uint16
	retry   bool        // a HelloRetryRequest
	group   tls.CurveID // key_share's group (the selected_group in a retry)
	share   []byte      // the server's key share; none in a retry
	cookie  []byte      // a retry's cookie, if any
}

func parseServerHello(msg []byte) (*serverHello, error) {
	s := input(msg)
	if typ, _ := s.u8(); typ != typeServerHello {
		return nil, fmt.Errorf("the server sent handshake message %d where a ServerHello belongs", typ)
	}
	body, ok := s.vec(3)
	if !ok || len(s) != 0 {
		return nil, errors.New("malformed ServerHello")
	}
	h := &serverHello{}
	version, ok1 := body.u16()
	random, ok2 := body.bytes(32)
	_, ok3 := body.vec(1) // legacy_session_id_echo
	suite, ok4 := body.u16()
	_, ok5 := body.u8() // legacy_compression_method
	h.version, h.suite = version, suite
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return nil, errors.New("malformed ServerHello")
	}
	h.retry = bytes.Equal(random, helloRetryRandom[:])
	if len(body) == 0 {
		return h, nil // a TLS 1.2 or older ServerHello may have no extensions
	}
	exts, ok := body.vec(2)
	if !ok || len(body) != 0 {
		return nil, errors.New("malformed ServerHello extensions")
	}
	for len(exts) > 0 {
		typ, ok1 := exts.u16()
		data, ok2 := exts.vec(2)
		if !ok1 || !ok2 {
			return nil, errors.New("malformed ServerHello extensions")
		}
		var ok bool
		switch typ {
		case extSupportedVersions:
			h.version, ok = data.u16()
		case extKeyShare:
			var g uint16
			g, ok = data.u16()
			h.group = tls.CurveID(g)
			if !h.retry {
				h.share, ok = data.vec(2)
			}
		case extCookie:
			h.cookie, ok = data.vec(2)
		default:
			continue
		}
		if !ok || len(data) != 0 {
			return nil, fmt.Errorf("malformed ServerHello extension %d", typ)
		}
	}
	return h, nil
}

// certRequest is what a CertificateRequest asks of the client.
type certRequest struct {
	schemes []tls.SignatureScheme
	// authorities are the DER distinguished names of the CAs the server
	// accepts client certificates from (certificate_authorities, RFC
	// 8446, Section 4.2.4; RFC 5246, Section 7.4.4).
	authorities [][]byte
}

// parseCertRequest13 reads a TLS 1.3 CertificateRequest (RFC 8446,
// Section 4.3.2).
func parseCertRequest13(msg []byte) (*certRequest, error) {
	body, ok := messageBody(msg)
	_, ok2 := body.vec(1) // certificate_request_context
	exts, ok3 := body.vec(2)
	if !ok || !ok2 || !ok3 || len(body) != 0 {
		return nil, errors.New("malformed CertificateRequest")
	}
	cr := &certRequest{}
	for len(exts) > 0 {
		typ, ok1 := exts.u16()
		data, ok2 := exts.vec(2)
		if !ok1 || !ok2 {
			return nil, errors.New("malformed CertificateRequest extensions")
		}
		var err error
		switch typ {
		case extSignatureAlgorithms:
			cr.schemes, err = parseSchemes(&data)
		case extCertAuthorities:
			cr.authorities, err = parseAuthorities(&data)
		}
		if err != nil {
			return nil, err
		}
	}
	return cr, nil
}

// parseCertRequest12 reads a TLS 1.2 CertificateRequest (RFC 5246,
// Section 7.4.4).
func parseCertRequest12(msg []byte) (*certRequest, error) {
	body, ok := messageBody(msg)
	_, ok2 := body.vec(1) // certificate_types
	if !ok || !ok2 {
		return nil, errors.New("malformed CertificateRequest")
	}
	cr := &certRequest{}
	var err error
	if cr.schemes, err = parseSchemes(&body); err != nil {
		return nil, err
	}
	if cr.authorities, err = parseAuthorities(&body); err != nil {
		return nil, err
	}
	return cr, nil
}

func parseSchemes(s *input) ([]tls.SignatureScheme, error) {
	list, ok := s.u16s()
	if !ok {
		return nil, errors.New("malformed signature_algorithms")
	}
	out := make([]tls.SignatureScheme, len(list))
	for i, v := range list {
		out[i] = tls.SignatureScheme(v)
	}
	return out, nil
}

func parseAuthorities(s *input) ([][]byte, error) {
	list, ok := s.vec(2)
	if !ok {
		return nil, errors.New("malformed certificate_authorities")
	}
	var out [][]byte // one slice header per name: bounded by the 2-byte length
	for len(list) > 0 {
		dn, ok := list.vec(2)
		if !ok || len(dn) == 0 {
			return nil, errors.New("malformed certificate_authorities")
		}
		out = append(out, dn)
	}
	return out, nil
}

// parseCertificate reads a Certificate message: TLS 1.3's (RFC 8446,
// Section 4.4.2: a context, then each certificate with its extensions)
// or TLS 1.2's (RFC 5246, Section 7.4.2). It returns the DER
// certificates, leaf first.
func parseCertificate(msg []byte, tls13 bool) ([][]byte, error) {
	body, ok := messageBody(msg)
	if tls13 {
		_, ok2 := body.vec(1)
		ok = ok && ok2
	}
	list, ok2 := body.vec(3)
	if !ok || !ok2 || len(body) != 0 {
		return nil, errors.New("malformed Certificate message")
	}
	var certs [][]byte
	for len(list) > 0 {
		der, ok := list.vec(3)
		if !ok || len(der) == 0 {
			return nil, errors.New("malformed Certificate message")
		}
		if tls13 {
			if _, ok := list.vec(2); !ok {
				return nil, errors.New("malformed Certificate message")
			}
		}
		certs = append(certs, der)
	}
	return certs, nil
}

// parseCertificateVerify reads a CertificateVerify (RFC 8446, Section
// 4.4.3).
func parseCertificateVerify(msg []byte) (tls.SignatureScheme, []byte, error) {
	body, ok := messageBody(msg)
	scheme, ok2 := body.u16()
	sig, ok3 := body.vec(2)
	if !ok || !ok2 || !ok3 || len(body) != 0 {
		return 0, nil, errors.New("malformed CertificateVerify")
	}
	return tls.SignatureScheme(scheme), sig, nil
}

// parseServerKeyExchange12 reads the group and signature scheme of a
// TLS 1.2 ECDHE ServerKeyExchange (RFC 8422, Section 5.4; RFC 5246,
// Section 7.4.3). ok is false for other key exchanges (a finite-field
// DHE one, say), whose parameters are not read.
func parseServerKeyExchange12(msg []byte) (group tls.CurveID, scheme tls.SignatureScheme, ok bool) {
	body, ok := messageBody(msg)
	curveType, ok2 := body.u8()
	if !ok || !ok2 || curveType != 3 { // named_curve
		return 0, 0, false
	}
	g, ok := body.u16()
	_, ok2 = body.vec(1) // the server's public point
	s, ok3 := body.u16()
	if !ok || !ok2 || !ok3 {
		return 0, 0, false
	}
	return tls.CurveID(g), tls.SignatureScheme(s), true
}

// messageBody is a handshake message without its header; ok is false if
// the header's length is not the body's.
func messageBody(msg []byte) (input, bool) {
	s := input(msg)
	s.u8()
	body, ok := s.vec(3)
	return body, ok && len(s) == 0
}
