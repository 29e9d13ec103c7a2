package probe

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
)

// decodeFlight reads a server's first flight from the bytes it sent to a
// crypto/tls client, to learn what crypto/tls does not say: the scheme
// the server signed the handshake with, and for a handshake that failed,
// how far it got (group, chain, certificate request). A TLS 1.3 flight is
// decrypted with the server handshake traffic secret the client logged
// (Config.KeyLogWriter); a TLS 1.2 one is in the clear. crypto/tls has
// checked what it read, so nothing is checked again here.
func decodeFlight(sent, secret []byte) (*flight, error) {
	f := &flight{}
	c := &recordReader{r: bytes.NewReader(sent)}
	_, sh, err := f.readServerHello(c)
	if err == nil && sh.retry {
		_, sh, err = f.readServerHello(c)
	}
	if err != nil {
		return f, err
	}
	if sh.version != tls.VersionTLS13 {
		return f, f.readPlain12(c)
	}
	s, ok := suiteFor(sh.suite)
	switch {
	case !ok:
		return f, fmt.Errorf("cannot decrypt cipher suite %s", tls.CipherSuiteName(sh.suite))
	case len(secret) != s.hash().Size():
		return f, errors.New("no handshake secret was logged")
	}
	if err := c.setKeys(s.trafficKeys(secret)); err != nil {
		return f, err
	}
	return f, f.readEncrypted(c, nil, nil)
}

// readPlain12 reads a TLS 1.2 server's flight after its ServerHello,
// through ServerHelloDone (RFC 5246, Section 7.3): the group and the
// scheme it signed with are in its ServerKeyExchange.
func (f *flight) readPlain12(c *recordReader) error {
	for {
		msg, err := c.message()
		if err != nil {
			return err
		}
		switch msg[0] {
		case typeCertificate:
			f.certs, err = parseCertificate(msg, false)
		case typeServerKeyExchange:
			if g, s, ok := parseServerKeyExchange12(msg); ok {
				f.group, f.scheme = g, s
			}
		case typeCertificateRequest:
			f.request, err = parseCertRequest12(msg)
		case typeServerHelloDone:
			f.finished = true
			return nil
		default:
			// CertificateStatus (22) and others a client ignores here.
		}
		if err != nil {
			return err
		}
	}
}
