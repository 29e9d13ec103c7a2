package tlsconf

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// The server's VerifyConnection runs the peer checks on resumed sessions:
// a client whose ticket predates a CRL that revokes it, or an allow rule
// that leaves it out, resumes its session (the ticket opens: neither is
// part of the ticket policy) and is refused all the same. Real handshakes
// with Go clients that keep their session cache, for an ECDSA and an
// ML-DSA client CA, and over TLS 1.2, whose resumption crypto/tls also
// hands to VerifyConnection (handshake_server.go, doResumeHandshake).
func TestPeerCheckOnResumedSessions(t *testing.T) {
	dir := t.TempDir()
	if _, err := certs.WriteDevPKI(dir, false); err != nil {
		t.Fatal(err)
	}
	base := config.Default()
	base.Certificates = []config.CertPair{
		{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey)},
		{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey)},
	}
	base.ClientCertMode, base.CACertPath = config.ClientCertRequired, filepath.Join(dir, certs.CABundle)
	for _, tc := range []struct {
		client, root string
		max          uint16
	}{{"client-ecdsa", "ecdsa-root", tls.VersionTLS13}, {"client-mldsa", "mldsa-root", tls.VersionTLS13}, {"client-ecdsa", "ecdsa-root", tls.VersionTLS12}} {
		t.Run(tc.client+" "+tls.VersionName(tc.max), func(t *testing.T) {
			leaf, err := certs.LoadCertificates(filepath.Join(dir, tc.client+".crt"))
			if err != nil {
				t.Fatal(err)
			}
			crl := filepath.Join(t.TempDir(), "crl.pem")
			root, err := certs.LoadCertificates(filepath.Join(dir, tc.root+".crt"))
			if err != nil {
				t.Fatal(err)
			}
			rootKey, _, err := certs.LoadKey(filepath.Join(dir, tc.root+".key"))
			if err != nil {
				t.Fatal(err)
			}
			writeCRLSerial(t, crl, root[0], rootKey, new(big.Int).Add(leaf[0].SerialNumber, big.NewInt(1))) // not the client
			revoking := *base
			revoking.CRLFiles = []string{crl}
			notAllowed := *base
			notAllowed.AllowCN = []string{"someone-else"}

			cc := clientOf(t, dir, tc.client)
			cc.MaxVersion = tc.max
			first := newServer(t, &revoking)
			if resumed, err := handshake(t, first, cc); err != nil || resumed {
				t.Fatalf("first connection: resumed %v, %v", resumed, err)
			}
			// The CRL now revokes the client itself.
			writeCRLSerial(t, crl, root[0], rootKey, leaf[0].SerialNumber)
			revoked := newServer(t, &revoking)
			if revoked.policy != first.policy {
				t.Fatal("a new CRL changed the ticket policy: the resumption path goes untested")
			}
			resumed, err := handshake(t, revoked, cc)
			if !resumed || !errors.As(err, new(*RevokedError)) {
				t.Fatalf("after the CRL revoked it: resumed %v, %v; want a resumed handshake refused as revoked", resumed, err)
			}
			// A TLS 1.3 client learnt of the refusal after its handshake
			// ended and keeps its session: a rule that leaves it out
			// refuses it on resumption too. A TLS 1.2 client dropped the
			// session its failed resumption offered (RFC 5077 section
			// 3.2), and the rule refuses its full handshake.
			resumed, err = handshake(t, newServer(t, &notAllowed), cc)
			if resumed != (tc.max == tls.VersionTLS13) || !errors.As(err, new(*NotAllowedError)) {
				t.Fatalf("with an allow rule that leaves it out: resumed %v, %v; want refused as not allowed", resumed, err)
			}
		})
	}
}

// writeCRLSerial writes the CRL of a CA revoking one serial of any size.
func writeCRLSerial(t *testing.T, path string, cert *x509.Certificate, key crypto.Signer, serial *big.Int) {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: serial, RevocationTime: time.Now().Add(-time.Minute)}}}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newServer(t *testing.T, cfg *config.Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clientOf is a Go client presenting the PKI's certificate name, with a
// session cache.
func clientOf(t *testing.T, dir, name string) *tls.Config {
	t.Helper()
	c, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	data, _ := os.ReadFile(filepath.Join(dir, certs.CABundle))
	roots.AppendCertsFromPEM(data)
	return &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{c},
		ClientSessionCache: tls.NewLRUClientSessionCache(4)}
}

// handshake runs one connection of client cc to server s, over loopback
// TCP: the client writes a byte and the server echoes it, so that a
// refusal after the client's Finished reaches the client. It returns
// whether the server resumed the session, and the server's handshake error.
func handshake(t *testing.T, s *Server, cc *tls.Config) (bool, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		resumed bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer raw.Close()
		sc := tls.Server(raw, s.TLS)
		err = sc.Handshake()
		if err == nil {
			b := make([]byte, 1)
			if _, err = sc.Read(b); err == nil {
				_, err = sc.Write(b)
			}
		}
		done <- result{sc.ConnectionState().DidResume, err}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), cc)
	var clientErr error
	if err == nil {
		c.Write([]byte{1})
		// The byte back, or the server's alert.
		_, clientErr = c.Read(make([]byte, 1))
		c.Close()
	} else {
		clientErr = err
	}
	r := <-done
	if (r.err == nil) != (clientErr == nil) {
		t.Fatalf("server %v, client %v: one side failed alone", r.err, clientErr)
	}
	if r.err != nil && !strings.Contains(clientErr.Error(), "remote error: tls: bad certificate") {
		t.Errorf("refused client saw %v, want the bad_certificate alert", clientErr)
	}
	return r.resumed, r.err
}
