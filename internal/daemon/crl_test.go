package daemon

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// writeRootCRL writes, in dir's development PKI, a CRL of the ECDSA root
// that revokes the given certificates of the PKI.
func writeRootCRL(t *testing.T, dir, path string, revoked ...string) {
	t.Helper()
	root, err := certs.LoadCertificates(filepath.Join(dir, certs.ECDSARootCert))
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := certs.LoadKey(filepath.Join(dir, certs.ECDSARootKey))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour)}
	for _, name := range revoked {
		leaf, err := certs.LoadCertificates(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: leaf[0].SerialNumber, RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, root[0], key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A new CRL written over the configured one is reloaded with nothing sent
// to the process, the reload says the CRLs changed, and the client it
// revokes is refused from then on.
func TestNewCRLIsReloaded(t *testing.T) {
	notify := listenNotify(t)
	echo := echoBackend(t)
	r := startDaemonWith(t, func(c *config.Config) error {
		c.Target = echo
		// The PKI's directory is known once the chains are configured;
		// the first load writes a CRL that revokes no one.
		dir := filepath.Dir(c.Certificates[0].CertPath)
		crl := filepath.Join(dir, "ecdsa-root.crl")
		if _, err := os.Stat(crl); err != nil {
			writeRootCRL(t, dir, crl)
		}
		c.ClientCertMode, c.CACertPath, c.CRLFiles = config.ClientCertRequired, filepath.Join(dir, certs.CABundle), []string{crl}
		return nil
	})
	notify.next(t, "READY=1", 10*time.Second)
	cc := clientCert(t, r.dir, certs.ClientECDSACert, certs.ClientECDSAKey)
	if err := exchangeByte(r.addr, cc); err != nil {
		t.Fatalf("before the revocation: %v", err)
	}
	writeRootCRL(t, r.dir, filepath.Join(r.dir, "ecdsa-root.crl"), certs.ClientECDSACert)
	if d := notify.next(t, "READY=1", 10*time.Second); !strings.HasSuffix(d, " ok (changed CRLs)") {
		t.Errorf("STATUS after the new CRL: %q", d)
	}
	if err := exchangeByte(r.addr, cc); err == nil || !strings.Contains(err.Error(), "bad certificate") {
		t.Fatalf("after the revocation: %v, want the bad_certificate alert", err)
	}
	if want := `msg="reloaded: configured files changed" changed=CRLs`; !strings.Contains(r.stderr.String(), want) {
		t.Errorf("no %q:\n%s", want, r.stderr)
	}
	// The proxy closes the socket, then logs why.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(r.stderr.String(), "reason=revoked"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no reason=revoked logged:\n%s", r.stderr)
		}
	}
}

// clientCert is a Go client presenting a certificate of the PKI in dir.
func clientCert(t *testing.T, dir, cert, key string) *tls.Config {
	t.Helper()
	c, err := tls.LoadX509KeyPair(filepath.Join(dir, cert), filepath.Join(dir, key))
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{c}}
}

// exchangeByte connects, sends a byte and reads it back from the
// backend, or the proxy's alert that refuses the client.
func exchangeByte(addr string, cc *tls.Config) error {
	c, err := tls.Dial("tcp", addr, cc)
	if err != nil {
		return err
	}
	defer c.Close()
	c.Write([]byte{7})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	if _, err = c.Read(b); err == nil && b[0] != 7 {
		err = errors.New("the backend's echo is not the byte sent")
	}
	return err
}

// echoBackend is a loopback TCP server that echoes each connection.
func echoBackend(t *testing.T) string {
	ln := loopbackListener(t)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}
