package integration

import (
	"bufio"
	"crypto/mldsa"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"strings"
	"testing"
)

func mtlsProxy(t *testing.T) *proxyProc {
	return startProxy(t, servingBothChains(echoBackend(t), "--client-cert-mode", "required", "--ca-cert", pki("ca.crt"))...)
}

func TestOpenSSLWithoutClientCertificateIsRefused(t *testing.T) {
	p := mtlsProxy(t)
	if r := runSClient(t, p.addr); r.echoed {
		t.Fatalf("served without a client certificate\n%s", r.out)
	}
	if rec := p.wait(t, "handshake refused"); rec["reason"] != "no_client_certificate" {
		t.Errorf("proxy log: %v", rec)
	}
}

// An OpenSSL client authenticates with an ML-DSA-65 key certified by an
// ECDSA issuer (DESIGN.md: OpenSSL withholds ML-DSA-signed client leaves).
func TestOpenSSLMLDSAClientKeyIsAccepted(t *testing.T) {
	p := mtlsProxy(t)
	r := runSClient(t, p.addr, "-cert", pki("client-mldsa-ecdsa-issued.crt"), "-key", pki("client-mldsa-ecdsa-issued.key"))
	if !r.echoed || r.group != "X25519MLKEM768" {
		t.Fatalf("group %q echoed %v\n%s", r.group, r.echoed, r.out)
	}
	if rec := p.wait(t, "connection closed"); rec["identity"] != "client-mldsa-ecdsa-issued" || rec["pq"] != true {
		t.Errorf("proxy log: %v", rec)
	}
}

// OpenSSL withholds a client leaf signed with ML-DSA, because Go lists no
// ML-DSA in signature_algorithms_cert; the refusal says why.
func TestOpenSSLWithheldMLDSASignedLeafIsExplained(t *testing.T) {
	p := mtlsProxy(t)
	if r := runSClient(t, p.addr, "-cert", pki("client-mldsa.crt"), "-key", pki("client-mldsa.key")); r.echoed {
		t.Fatalf("OpenSSL presented its ML-DSA-signed leaf after all; DESIGN.md's finding no longer holds\n%s", r.out)
	}
	rec := p.wait(t, "handshake refused")
	if rec["reason"] != "no_client_certificate" || !strings.Contains(rec["hint"].(string), "signature_algorithms_cert") {
		t.Errorf("proxy log: %v", rec)
	}
}

func goClient(t *testing.T, certFile, keyFile string) *tls.Config {
	t.Helper()
	data, err := os.ReadFile(pki("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	// A session cache, as clients ship with: one that comes back resumes.
	cfg := &tls.Config{RootCAs: poolFrom(data), ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(64)}
	if certFile != "" {
		c, err := tls.LoadX509KeyPair(pki(certFile), pki(keyFile))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg
}

// A Go client with a full ML-DSA chain (ML-DSA key, ML-DSA issuer).
func TestGoClientWithFullMLDSAChainIsAccepted(t *testing.T) {
	p := mtlsProxy(t)
	c, err := tls.Dial("tcp", p.addr, goClient(t, "client-mldsa.crt", "client-mldsa.key"))
	if err != nil {
		t.Fatal(err)
	}
	cs := c.ConnectionState()
	if _, ok := cs.PeerCertificates[0].PublicKey.(*mldsa.PublicKey); !ok || cs.CurveID != tls.X25519MLKEM768 {
		t.Errorf("negotiated %s with a %T server key", cs.CurveID, cs.PeerCertificates[0].PublicKey)
	}
	io.WriteString(c, "hi\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); line != "hi\n" {
		t.Fatalf("echo %q, %v", line, err)
	}
	c.Close()
	if rec := p.wait(t, "connection closed"); rec["identity"] != "client-mldsa" {
		t.Errorf("proxy log: %v", rec)
	}
}

// Half-close through the binary: the client writes, shuts its write side
// and still receives the backend's complete reply.
func TestHalfCloseThroughBinary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reply := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		req, _ := io.ReadAll(c) // until the proxy passes the client's EOF on
		io.WriteString(c, reply+string(req))
		c.Close()
	}()
	p := startProxy(t, servingBothChains(ln.Addr().String())...)
	c, err := tls.Dial("tcp", p.addr, goClient(t, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "request")
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != reply+"request" {
		t.Fatalf("got %d bytes (%v), want %d", len(got), err, len(reply)+7)
	}
}

func poolFrom(pemData []byte) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	return pool
}
