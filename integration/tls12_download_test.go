package integration

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"sync"
	"testing"
)

// A backend that answers at once with more than one 64 KiB read: the
// proxy writes it to a TLS 1.2 client (29 bytes a record with AES-GCM) in
// the small records crypto/tls starts a connection with, more bytes than
// one gathered write was sized for. Every client gets the answer whole,
// and the proxy logs no panic (startProxy fails the test on one).
func TestTLS12DownloadAtOnce(t *testing.T) {
	payload := make([]byte, 4<<20)
	rand.Read(payload)
	want := sha256.Sum256(payload)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write(payload)
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, c)
			}()
		}
	}()
	p := startProxy(t, servingBothChains(ln.Addr().String())...)
	pem, _ := os.ReadFile(pki("ca.crt"))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			v := uint16(tls.VersionTLS12)
			if i%2 == 1 {
				v = tls.VersionTLS13
			}
			c, err := tls.Dial("tcp", p.addr, &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: v})
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			got, err := io.ReadAll(c)
			if err != nil || sha256.Sum256(got) != want {
				t.Errorf("tls %x: %d bytes, %v", v, len(got), err)
			}
		})
	}
	wg.Wait()
}
