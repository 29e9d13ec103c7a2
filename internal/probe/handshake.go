package probe

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
)

// flight is what a server sent in its first flight, as read off the
// wire: enough to report what it chose and how it authenticated.
type flight struct {
	version    uint16
	suite      uint16
	group      tls.CurveID
	helloRetry bool     // the server sent a HelloRetryRequest
	certs      [][]byte // DER, leaf first
	scheme     tls.SignatureScheme
	request    *certRequest // nil when the server asked for no client certificate
	finished   bool         // the flight was read through the server's Finished
}

// handshake13 runs the client side of a TLS 1.3 handshake over rw with
// its own ClientHello (so that it offers what crypto/tls will not let a
// client choose, such as no ML-DSA), up to the server's Finished: it
// derives the handshake traffic keys, decrypts the server's flight and
// checks its CertificateVerify against the transcript. It sends nothing
// after its ClientHello; the caller closes the connection. The flight is
// returned as far as it was read, with the error that stopped it.
//
// It does not check the server's Finished or the chain: the chain is for
// the caller to verify and report, and a server that got this far has
// shown what it chose. It offers no PSK, no early data and no ALPN.
func handshake13(rw io.ReadWriter, of offer) (*flight, error) {
	f := &flight{}
	hello, err := newClientHello(of)
	if err != nil {
		return f, err
	}
	if _, err := rw.Write(record(hello.msg, true)); err != nil {
		return f, fmt.Errorf("sending the ClientHello: %w", err)
	}
	c := &recordReader{r: rw}
	msg, sh, err := f.readServerHello(c)
	if err != nil {
		return f, err
	}
	s, ok := suiteFor(sh.suite)
	if !ok {
		return f, fmt.Errorf("the server chose cipher suite %s, which the probe did not offer", tls.CipherSuiteName(sh.suite))
	}
	transcript := s.hash()
	if sh.retry {
		if msg, sh, err = f.retry(c, rw, hello, of, s, transcript, msg, sh); err != nil {
			return f, err
		}
	}
	transcript.Write(hello.msg)
	transcript.Write(msg)
	if sh.version != tls.VersionTLS13 {
		return f, fmt.Errorf("the server chose %s; this attempt offers TLS 1.3 only", versionName(sh.version))
	}
	i := slices.IndexFunc(hello.keys, func(k *keyPair) bool { return k.group == sh.group })
	if i < 0 {
		return f, fmt.Errorf("the server chose group %s, for which the probe sent no key share", GroupName(sh.group))
	}
	shared, err := hello.keys[i].sharedSecret(sh.share)
	if err != nil {
		return f, err
	}
	if err := c.setKeys(s.trafficKeys(s.serverHandshakeSecret(shared, transcript.Sum(nil)))); err != nil {
		return f, err
	}
	return f, f.readEncrypted(c, transcript, of.Schemes)
}

// readServerHello reads a ServerHello or HelloRetryRequest into f.
func (f *flight) readServerHello(c *recordReader) ([]byte, *serverHello, error) {
	msg, err := c.message()
	if err != nil {
		return nil, nil, err
	}
	sh, err := parseServerHello(msg)
	if err != nil {
		return nil, nil, err
	}
	f.version, f.suite, f.group = sh.version, sh.suite, sh.group
	f.helloRetry = f.helloRetry || sh.retry
	return msg, sh, nil
}

// retry answers a HelloRetryRequest (RFC 8446, Section 4.1.4) with a
// second ClientHello and reads the ServerHello that follows. The first
// ClientHello enters the transcript as its hash in a message_hash message
// (Section 4.4.1).
func (f *flight) retry(c *recordReader, w io.Writer, hello *clientHello, of offer, s suite, transcript hash.Hash, hrr []byte, sh *serverHello) ([]byte, *serverHello, error) {
	if sh.version != tls.VersionTLS13 {
		return nil, nil, errors.New("the server sent a HelloRetryRequest without choosing TLS 1.3")
	}
	if !slices.Contains(of.Groups, sh.group) || slices.ContainsFunc(hello.keys, func(k *keyPair) bool { return k.group == sh.group }) {
		return nil, nil, fmt.Errorf("the server's HelloRetryRequest asks for group %s, which the probe did not offer or already sent a key share for", GroupName(sh.group))
	}
	h := s.hash()
	h.Write(hello.msg)
	transcript.Write([]byte{typeMessageHash, 0, 0, byte(h.Size())})
	transcript.Write(h.Sum(nil))
	transcript.Write(hrr)
	chosen := sh.suite
	if err := hello.retry(of, sh.group, sh.cookie); err != nil {
		return nil, nil, err
	}
	if _, err := w.Write(record(hello.msg, false)); err != nil {
		return nil, nil, fmt.Errorf("sending the second ClientHello: %w", err)
	}
	msg, sh, err := f.readServerHello(c)
	switch {
	case err != nil:
		return nil, nil, err
	case sh.retry:
		return nil, nil, errors.New("the server sent a second HelloRetryRequest")
	case sh.suite != chosen:
		return nil, nil, errors.New("the server's ServerHello changed the cipher suite its HelloRetryRequest chose")
	}
	return msg, sh, nil
}

// readEncrypted reads the server's encrypted flight, EncryptedExtensions
// through Finished, in the order RFC 8446 (Section 4.4) requires of a
// handshake authenticated by certificate. With a transcript, each message
// is hashed into it and the CertificateVerify is checked against it;
// without (a flight crypto/tls has checked), they are only read.
func (f *flight) readEncrypted(c *recordReader, transcript hash.Hash, offered []tls.SignatureScheme) error {
	msg, err := c.message()
	if err != nil {
		return err
	}
	if _, ok := messageBody(msg); !ok || msg[0] != typeEncryptedExtensions {
		return unexpected(msg[0], "EncryptedExtensions")
	}
	for {
		if transcript != nil {
			transcript.Write(msg)
		}
		if msg, err = c.message(); err != nil {
			return err
		}
		switch {
		case msg[0] == typeCertificateRequest && f.request == nil && f.certs == nil:
			f.request, err = parseCertRequest13(msg)
		case msg[0] == typeCertificate && f.certs == nil:
			f.certs, err = parseCertificate(msg, true)
			if err == nil && len(f.certs) == 0 {
				err = errors.New("the server sent an empty Certificate message")
			}
		case msg[0] == typeCertificateVerify && f.certs != nil && f.scheme == 0:
			var sig []byte
			if f.scheme, sig, err = parseCertificateVerify(msg); err == nil && transcript != nil {
				err = f.checkSignature(sig, transcript, offered)
			}
		case msg[0] == typeFinished && f.scheme != 0:
			f.finished = true
			return nil
		default:
			return unexpected(msg[0], "the next message of its flight")
		}
		if err != nil {
			return err
		}
	}
}

func (f *flight) checkSignature(sig []byte, transcript hash.Hash, offered []tls.SignatureScheme) error {
	leaf, err := x509.ParseCertificate(f.certs[0])
	if err != nil {
		return fmt.Errorf("the server's certificate does not parse: %v", err)
	}
	return verifyCertificateVerify(leaf, f.scheme, sig, transcript.Sum(nil), offered)
}

func unexpected(typ uint8, want string) error {
	return fmt.Errorf("the server sent handshake message %d where %s belongs", typ, want)
}
