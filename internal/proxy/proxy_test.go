package proxy

import (
	"crypto/ecdsa"
	"crypto/mldsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

func TestHybridPQClientGetsMLKEMAndMLDSA(t *testing.T) {
	h := start(t, baseConfig(), nil)
	c, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	cs := c.ConnectionState()
	if cs.Version != tls.VersionTLS13 || cs.CurveID != tls.X25519MLKEM768 {
		t.Errorf("negotiated %s %s, want TLS 1.3 X25519MLKEM768", tls.VersionName(cs.Version), cs.CurveID)
	}
	if _, ok := cs.PeerCertificates[0].PublicKey.(*mldsa.PublicKey); !ok {
		t.Errorf("served %s, want the ML-DSA-65 chain", certs.Algorithm(cs.PeerCertificates[0].PublicKey))
	}
	echo(t, c)
	c.Close()
	rec := h.log.wait(t, "connection closed")
	// The line names the client as the proxy saw it: the client's own
	// local address.
	for k, want := range map[string]string{"client": c.LocalAddr().String(), "group": "X25519MLKEM768", "pq": "true", "cert_alg": "ML-DSA-65", "tls_version": "TLS 1.3", "bytes_in": "19", "bytes_out": "19", "close_reason": "client_closed"} {
		if rec[k] != want {
			t.Errorf("log %s=%q, want %q (%v)", k, rec[k], want, rec)
		}
	}
}

func TestTLS12ClientGetsECDSAClassically(t *testing.T) {
	h := start(t, baseConfig(), nil)
	cc := clientConfig(t)
	cc.MaxVersion = tls.VersionTLS12
	c, err := tls.Dial("tcp", h.addr, cc)
	if err != nil {
		t.Fatal(err)
	}
	cs := c.ConnectionState()
	if _, ok := cs.PeerCertificates[0].PublicKey.(*ecdsa.PublicKey); !ok || cs.CurveID != tls.X25519 {
		t.Errorf("served %s over %s, want ECDSA over X25519", certs.Algorithm(cs.PeerCertificates[0].PublicKey), cs.CurveID)
	}
	echo(t, c)
	c.Close()
	if rec := h.log.wait(t, "connection closed"); rec["pq"] != "false" || rec["group"] != "X25519" {
		t.Errorf("log: %v", rec)
	}
}

func TestClassicalModeOffersNoPQ(t *testing.T) {
	cfg := baseConfig()
	cfg.PQCMode = config.PQCClassical
	h := start(t, cfg, nil)
	c, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if cs := c.ConnectionState(); tlsconf.IsPQ(cs.CurveID) {
		t.Errorf("classical mode negotiated %s", cs.CurveID)
	}
}

func TestStrictRefusesClassicalGroups(t *testing.T) {
	cfg := baseConfig()
	cfg.PQCMode = config.PQCStrict
	cfg.MinTLSVersion = "1.3"
	h := start(t, cfg, nil)
	cc := clientConfig(t)
	cc.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	if c, err := tls.Dial("tcp", h.addr, cc); err == nil {
		c.Close()
		t.Fatal("a client without PQ groups was served in strict mode")
	}
	rec := h.log.wait(t, "handshake refused")
	if rec["reason"] != tlsconf.ReasonNoPQGroup || rec["pq_offered"] != "false" {
		t.Errorf("log: %v", rec)
	}
	// A PQ client is served.
	c, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.ConnectionState().CurveID != tls.X25519MLKEM768 {
		t.Errorf("strict: %s", c.ConnectionState().CurveID)
	}
	c.Close()
}

func TestMutualTLS(t *testing.T) {
	cfg := baseConfig()
	cfg.ClientCertMode = config.ClientCertRequired
	h := start(t, cfg, nil)

	// No certificate: refused, for that reason.
	if c, err := tls.Dial("tcp", h.addr, clientConfig(t)); err == nil {
		// TLS 1.3 client auth fails after the client's Finished: the
		// refusal arrives on the first read.
		_, err = c.Read(make([]byte, 1))
		if err == nil {
			t.Fatal("a client without certificate was served")
		}
		c.Close()
	}
	rec := h.log.wait(t, "handshake refused")
	if rec["reason"] != tlsconf.ReasonNoClientCert || !strings.Contains(rec["hint"], "signature_algorithms_cert") {
		t.Errorf("log: %v", rec)
	}

	// A Go client with a full ML-DSA chain is served and identified.
	c, err := tls.Dial("tcp", h.addr, withClientCert(t, clientConfig(t), certs.ClientMLDSACert, certs.ClientMLDSAKey))
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c)
	c.Close()
	if rec := h.log.wait(t, "connection closed"); rec["identity"] != "client-mldsa" {
		t.Errorf("identity %q, want client-mldsa", rec["identity"])
	}
}

func TestStrictMutualTLSWantsMLDSAClientKey(t *testing.T) {
	cfg := baseConfig()
	cfg.PQCMode = config.PQCStrict
	cfg.MinTLSVersion = "1.3"
	cfg.ClientCertMode = config.ClientCertRequired
	h := start(t, cfg, nil)
	c, err := tls.Dial("tcp", h.addr, withClientCert(t, clientConfig(t), certs.ClientECDSACert, certs.ClientECDSAKey))
	if err == nil {
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Fatal("strict mode served an ECDSA client key")
	}
	if rec := h.log.wait(t, "handshake refused"); rec["reason"] != tlsconf.ReasonClientKeyNotPQ {
		t.Errorf("log: %v", rec)
	}
	c, err = tls.Dial("tcp", h.addr, withClientCert(t, clientConfig(t), certs.ClientMLDSACert, certs.ClientMLDSAKey))
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c)
	c.Close()
}

func TestHandshakeTimeoutAndNotTLS(t *testing.T) {
	cfg := baseConfig()
	cfg.HandshakeTimeout = 300 * time.Millisecond
	h := start(t, cfg, nil)
	silent, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if rec := h.log.wait(t, "handshake refused"); rec["reason"] != tlsconf.ReasonTimeout {
		t.Errorf("silent client: %v", rec)
	}
	h2 := start(t, baseConfig(), nil)
	plain, err := net.Dial("tcp", h2.addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(plain, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer plain.Close()
	if rec := h2.log.wait(t, "handshake refused"); rec["reason"] != tlsconf.ReasonNotTLS {
		t.Errorf("plain HTTP: %v", rec)
	}
}

// The client writes, shuts its write side, and still receives the
// backend's complete reply, sent after the backend saw EOF.
func TestHalfClose(t *testing.T) {
	reply := strings.Repeat("reply after EOF ", 50000) // ~800 KB, many records
	h := start(t, baseConfig(), func(c net.Conn) {
		got, _ := io.ReadAll(c)
		io.WriteString(c, reply+string(got))
		c.Close()
	})
	c, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "request")
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read after half-close: %v", err)
	}
	if string(got) != reply+"request" {
		t.Fatalf("got %d bytes, want %d", len(got), len(reply)+7)
	}
	c.Close()
	if rec := h.log.wait(t, "connection closed"); rec["close_reason"] != forward.ReasonClientClosed || rec["bytes_out"] != "800007" {
		t.Errorf("log: %v", rec)
	}
}

func TestIdleTimeout(t *testing.T) {
	cfg := baseConfig()
	cfg.IdleTimeout = 300 * time.Millisecond
	h := start(t, cfg, nil)
	c, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo(t, c)
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("idle connection stayed open")
	}
	if rec := h.log.wait(t, "connection closed"); rec["close_reason"] != forward.ReasonIdle {
		t.Errorf("log: %v", rec)
	}
}

// At the connection cap, further clients wait in the kernel backlog and
// are served once a slot frees; none is accepted and dropped.
func TestMaxConnectionsQueuesInBacklog(t *testing.T) {
	h, first := atTheCap(t)
	second := make(chan error, 1)
	go func() {
		c, err := tls.Dial("tcp", h.addr, clientConfig(t))
		if err == nil {
			echo(t, c)
			c.Close()
		}
		second <- err
	}()
	select {
	case err := <-second:
		t.Fatalf("second connection was served past the cap (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	first.Close()
	if err := <-second; err != nil {
		t.Fatalf("queued connection failed: %v", err)
	}
}

// Intermediates in the certificate file are sent: a client that trusts
// only the root verifies the leaf.
func TestSendsIntermediates(t *testing.T) {
	dir := t.TempDir()
	chainFile, keyFile, root := writeThreeLevelChain(t, dir)
	cfg := baseConfig()
	cfg.Certificates = []config.CertPair{{CertPath: chainFile, KeyPath: keyFile}}
	h := start(t, cfg, nil)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	c, err := tls.Dial("tcp", h.addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := len(c.ConnectionState().PeerCertificates); n != 2 {
		t.Errorf("server sent %d certificates, want leaf + intermediate", n)
	}
}

// Keys in each form OpenSSL 3.5 writes serve a handshake that a Go client
// (crypto/mldsa) verifies.
func TestServesEveryKeyForm(t *testing.T) {
	for _, key := range []string{"mldsa65-seed.key", "mldsa65-both.key", "mldsa65-expanded.key"} {
		t.Run(key, func(t *testing.T) {
			cfg := baseConfig()
			cfg.Certificates = []config.CertPair{{CertPath: "../../testdata/mldsa65.crt", KeyPath: "../../testdata/" + key}}
			h := start(t, cfg, nil)
			roots, _ := certs.LoadCertificates("../../testdata/mldsa65.crt")
			pool := x509.NewCertPool()
			pool.AddCert(roots[0])
			c, err := tls.Dial("tcp", h.addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
			if err != nil {
				t.Fatal(err)
			}
			echo(t, c)
			c.Close()
		})
	}
}

// SNI binding: a chain bound to a name is served only for it.
func TestServerNameBinding(t *testing.T) {
	dir := pki(t)
	cfg := baseConfig()
	cfg.Certificates = []config.CertPair{
		{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey), ServerNames: []string{"pq.localhost"}},
		{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey)},
	}
	h := start(t, cfg, nil)
	for sni, want := range map[string]string{"localhost": "ECDSA P-256", "pq.localhost": "ML-DSA-65"} {
		cc := clientConfig(t)
		cc.ServerName = sni
		cc.InsecureSkipVerify = true // the dev certificates do not name pq.localhost
		c, err := tls.Dial("tcp", h.addr, cc)
		if err != nil {
			t.Fatal(err)
		}
		if got := certs.Algorithm(c.ConnectionState().PeerCertificates[0].PublicKey); got != want {
			t.Errorf("SNI %s: served %s, want %s", sni, got, want)
		}
		c.Close()
	}
}

// After the client half-closes, the close timeout also bounds writes: a
// client that stops reading cannot hold the connection open.
func TestCloseTimeoutBoundsStuckWrites(t *testing.T) {
	cfg := baseConfig()
	cfg.CloseTimeout = 300 * time.Millisecond
	h := start(t, cfg, func(c net.Conn) {
		defer c.Close()
		io.ReadAll(c)
		chunk := make([]byte, 1<<20)
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	c, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "request")
	c.CloseWrite() // and never read the reply
	if rec := h.log.wait(t, "connection closed"); rec["close_reason"] != forward.ReasonCloseTimeout {
		t.Errorf("log: %v", rec)
	}
}

// A proxy at its connection cap still stops accepting at once.
func TestStopAcceptingAtTheCap(t *testing.T) {
	h, c := atTheCap(t)
	defer c.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error)
	go func() { served <- h.proxy.Serve(ln, "second") }()
	time.Sleep(50 * time.Millisecond) // let it block on the cap
	h.proxy.StopAccepting()
	ln.Close()
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still blocked at the cap after StopAccepting")
	}
}

// atTheCap starts a proxy capped at one connection and fills the slot.
func atTheCap(t *testing.T) (*harness, *tls.Conn) {
	cfg := baseConfig()
	cfg.MaxConnections = 1
	h := start(t, cfg, nil)
	c, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c)
	return h, c
}

// A unix:/path target: the bytes reach a backend on a unix socket.
func TestUnixSocketTarget(t *testing.T) {
	cfg := baseConfig()
	cfg.Target = "unix:" + filepath.Join(t.TempDir(), "backend.sock")
	h := start(t, cfg, nil)
	c, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c)
	c.Close()
	if rec := h.log.wait(t, "connection closed"); rec["close_reason"] != forward.ReasonClientClosed || rec["bytes_out"] != "19" {
		t.Errorf("log: %v", rec)
	}
}

// TestGoClientResumes connects twice with a Go client that keeps a session
// cache, as every Go client with ClientSessionCache set and every browser
// does: the second handshake resumes (TLS 1.3 PSK, no certificate sent)
// and is forwarded and logged like any other.
func TestGoClientResumes(t *testing.T) {
	h := start(t, baseConfig(), nil)
	cfg := clientConfig(t)
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	for i, wantResumed := range []bool{false, true} {
		c, err := tls.Dial("tcp", h.addr, cfg)
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		echo(t, c)
		// The ticket arrives after the handshake; reading the echo took it in.
		cs := c.ConnectionState()
		c.Close()
		if cs.DidResume != wantResumed || cs.CurveID != tls.X25519MLKEM768 {
			t.Fatalf("connection %d: resumed %v, group %v; want resumed %v over X25519MLKEM768", i+1, cs.DidResume, cs.CurveID, wantResumed)
		}
	}
	// The two lines may come in either order; the resumed one names the
	// chain recorded in its ticket.
	resumed := 0
	for _, m := range h.log.waitN(t, "connection closed", 2) {
		if m["resumed"] == "true" {
			resumed++
		}
		if m["cert_alg"] != "ML-DSA-65" || m["close_reason"] != "client_closed" {
			t.Errorf("logged %v; want cert_alg ML-DSA-65", m)
		}
	}
	if resumed != 1 {
		t.Errorf("%d connections logged resumed=true, want 1", resumed)
	}
}

// TestBackendUnreachableResetsClient: the client's handshake has finished
// when the backend dial fails, so a close, even with close_notify, would
// read as a complete empty answer (Go's client reports io.EOF); the
// client must see a reset.
func TestBackendUnreachableResetsClient(t *testing.T) {
	h := start(t, baseConfig(), nil)
	h.backend.Close() // dials are refused from now on
	c, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if err == io.EOF || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after a failed backend dial: %v; want a connection reset, never a clean end", err)
	}
	h.log.wait(t, "backend unreachable")
}
