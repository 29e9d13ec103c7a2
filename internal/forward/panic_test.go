package forward

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// panicWriter is a backend connection whose Write panics, standing for a
// bug on the client-to-backend goroutine.
type panicWriter struct{ *net.TCPConn }

func (panicWriter) Write([]byte) (int, error) { panic("backend write panics on purpose") }

// A panic on Run's own goroutine (client to backend) cannot be recovered
// by the caller: Run recovers it, ends the connection and reports it in
// the Result, with its stack.
func TestRunRecoversItsGoroutinesPanic(t *testing.T) {
	// The panicking goroutine never gives its buffer back to the pool (the
	// collector takes it); the count the other tests check starts afresh.
	before := buffersOut.Load()
	t.Cleanup(func() { buffersOut.Store(before) })
	cert := panicTestCert(t)
	clientSide, serverSide := tcpPair(t)
	backendSide, backendPeer := tcpPair(t)
	defer backendPeer.Close()
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	go func() {
		c := tls.Client(clientSide, &tls.Config{RootCAs: roots, ServerName: "localhost"})
		c.Write([]byte("hello"))
		c.Read(make([]byte, 1)) // until the proxy side ends the connection
		c.Close()
	}()
	client, err := NewConn(serverSide)
	if err != nil {
		t.Fatal(err)
	}
	backend, err := NewConn(panicWriter{backendSide.(*net.TCPConn)})
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Server(client, &tls.Config{Certificates: []tls.Certificate{cert}})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	done := make(chan Result, 1)
	go func() { done <- Run(tc, client, backend, Options{}, nil) }()
	var res Result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end after its goroutine panicked")
	}
	if res.Panic != "backend write panics on purpose" || res.Reason != ReasonPanic ||
		!strings.Contains(string(res.Stack), "clientToBackend") {
		t.Errorf("result: panic %v, reason %q, stack:\n%s", res.Panic, res.Reason, res.Stack)
	}
}

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func panicTestCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
