package probe

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/mldsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// selfSigned makes a localhost certificate for key, signed by itself.
func selfSigned(t testing.TB, key crypto.Signer) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func newKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case "ECDSA P-256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ECDSA P-384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "RSA 2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "Ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "ML-DSA-65":
		k, err = mldsa.GenerateKey(mldsa.MLDSA65())
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// goServer runs a crypto/tls server with cfg on loopback, which completes
// each handshake (or fails it) and closes, and returns its address and
// the outcome of each handshake.
func goServer(t testing.TB, cfg *tls.Config) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	results := make(chan error, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				tc := tls.Server(c, cfg)
				err := tc.Handshake()
				if err == nil {
					// The reader never sends its Finished: wait for it
					// to close, as a server waits for a client.
					_, err = io.Copy(io.Discard, tc)
				}
				results <- err
			}()
		}
	}()
	return ln.Addr().String(), results
}

func runReader(t *testing.T, addr string, of offer) (*flight, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return handshake13(c, of)
}

// The reader completes the server's side of a TLS 1.3 handshake with a
// crypto/tls server of each key type, checks its signature, and reports
// what the server chose, with no ML-DSA offered.
func TestReaderAgainstGoServer(t *testing.T) {
	for _, tc := range []struct {
		key    string
		scheme tls.SignatureScheme
	}{
		{"ECDSA P-256", tls.ECDSAWithP256AndSHA256},
		{"ECDSA P-384", tls.ECDSAWithP384AndSHA384},
		{"RSA 2048", tls.PSSWithSHA256},
		{"Ed25519", tls.Ed25519},
	} {
		t.Run(tc.key, func(t *testing.T) {
			cert := selfSigned(t, newKey(t, tc.key))
			addr, _ := goServer(t, &tls.Config{Certificates: []tls.Certificate{cert}})
			f, err := runReader(t, addr, offerWithoutMLDSA("localhost"))
			if err != nil {
				t.Fatal(err)
			}
			if f.version != tls.VersionTLS13 || f.group != tls.X25519MLKEM768 || f.scheme != tc.scheme || !f.finished || f.helloRetry {
				t.Errorf("version %x group %s scheme %s finished %v retry %v", f.version, GroupName(f.group), SchemeName(f.scheme), f.finished, f.helloRetry)
			}
			if len(f.certs) != 1 || string(f.certs[0]) != string(cert.Certificate[0]) {
				t.Errorf("the chain read is not the one served")
			}
		})
	}
}

// A server that wants a group the first ClientHello sent no share for
// asks for it with a HelloRetryRequest; the reader answers it, the
// transcript takes the first hello's hash, and the signature still
// verifies. Both AES suites are covered.
func TestReaderHelloRetry(t *testing.T) {
	cert := selfSigned(t, newKey(t, "ECDSA P-256"))
	for _, g := range []tls.CurveID{tls.SecP384r1MLKEM1024, tls.SecP256r1MLKEM768, tls.CurveP256, tls.CurveP384} {
		t.Run(GroupName(g), func(t *testing.T) {
			addr, _ := goServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, CurvePreferences: []tls.CurveID{g}})
			f, err := runReader(t, addr, offerWithoutMLDSA("localhost"))
			if err != nil {
				t.Fatal(err)
			}
			if f.group != g || !f.helloRetry || !f.finished {
				t.Errorf("group %s, retry %v, finished %v", GroupName(f.group), f.helloRetry, f.finished)
			}
		})
	}
}

// A server with only an ML-DSA chain refuses a client that offers no
// ML-DSA (crypto/tls sends handshake_failure); offered ML-DSA, it signs
// with it and the reader verifies the ML-DSA-65 signature.
func TestReaderMLDSAOnlyServer(t *testing.T) {
	cert := selfSigned(t, newKey(t, "ML-DSA-65"))
	addr, results := goServer(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	_, err := runReader(t, addr, offerWithoutMLDSA("localhost"))
	var alert *AlertError
	if !errors.As(err, &alert) || AlertName(alert.Description) != "handshake_failure" {
		t.Fatalf("without ML-DSA: %v, want the handshake_failure alert", err)
	}
	if err := <-results; err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("the server's side: %v", err)
	}
	withMLDSA := offerWithoutMLDSA("localhost")
	withMLDSA.Schemes = append(mldsaSchemes, classicalSchemes...)
	f, err := runReader(t, addr, withMLDSA)
	if err != nil || f.scheme != tls.MLDSA65 || !f.finished {
		t.Fatalf("with ML-DSA: scheme %s, finished %v, %v", SchemeName(f.scheme), f.finished, err)
	}
}

// tamperingSigner signs with key, then flips a bit of the signature.
type tamperingSigner struct{ crypto.Signer }

func (s tamperingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.Signer.Sign(r, digest, opts)
	if err == nil {
		sig[len(sig)/2] ^= 0x10
	}
	return sig, err
}

// A CertificateVerify whose signature is not the leaf key's over this
// transcript fails: one with a bit flipped, and one made by another key
// than the certificate's.
func TestReaderRefusesBadCertificateVerify(t *testing.T) {
	for _, kind := range []string{"ECDSA P-256", "Ed25519", "ML-DSA-65", "RSA 2048"} {
		t.Run(kind, func(t *testing.T) {
			key := newKey(t, kind)
			tampered := selfSigned(t, key)
			tampered.PrivateKey = tamperingSigner{key}
			other := selfSigned(t, key)
			other.PrivateKey = newKey(t, kind)
			of := offerWithoutMLDSA("localhost")
			of.Schemes = append(mldsaSchemes, classicalSchemes...)
			for name, cert := range map[string]tls.Certificate{"bit flipped": tampered, "other key": other} {
				addr, _ := goServer(t, &tls.Config{Certificates: []tls.Certificate{cert}})
				f, err := runReader(t, addr, of)
				if err == nil || !strings.Contains(err.Error(), "does not verify") || f.finished {
					t.Errorf("%s: %v (finished %v), want a CertificateVerify that does not verify", name, err, f.finished)
				}
			}
		})
	}
}

// The reader's ClientHello leaves ML-DSA out of signature_algorithms, and
// the server sees what it offers (its SNI, groups and schemes).
func TestReaderHelloAsTheServerSeesIt(t *testing.T) {
	cert := selfSigned(t, newKey(t, "ECDSA P-256"))
	seen := make(chan *tls.ClientHelloInfo, 1)
	addr, _ := goServer(t, &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		seen <- h
		return &cert, nil
	}})
	if _, err := runReader(t, addr, offerWithoutMLDSA("probe.example")); err != nil {
		t.Fatal(err)
	}
	h := <-seen
	for _, s := range h.SignatureSchemes {
		if isMLDSAScheme(s) {
			t.Errorf("the ClientHello offers %s", SchemeName(s))
		}
	}
	if h.ServerName != "probe.example" || len(h.SignatureSchemes) != len(classicalSchemes) ||
		len(h.SupportedCurves) != len(shareGroups) || h.SupportedCurves[0] != tls.X25519MLKEM768 {
		t.Errorf("server saw name %q, schemes %v, groups %v", h.ServerName, h.SignatureSchemes, h.SupportedCurves)
	}
}
