package proxy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// clientModeConfig is a client-mode configuration for target, trusting
// the dev PKI's roots and presenting its ML-DSA client chain.
func clientModeConfig(t testing.TB, target string) *config.Config {
	dir := pki(t)
	cfg := baseConfig()
	cfg.Mode, cfg.Target, cfg.ServerName, cfg.MinTLSVersion = config.ModeClient, target, "localhost", "1.3"
	cfg.CACertPath = filepath.Join(dir, certs.CABundle)
	cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, certs.ClientMLDSACert), KeyPath: filepath.Join(dir, certs.ClientMLDSAKey)}}
	return cfg
}

// startClientMode runs a client-mode proxy for cfg on loopback.
func startClientMode(t testing.TB, cfg *config.Config) *harness {
	t.Helper()
	return startClientModeObserved(t, cfg, nil)
}

// startClientModeObserved is startClientMode with obs as the Observer.
func startClientModeObserved(t testing.TB, cfg *config.Config, obs Observer) *harness {
	t.Helper()
	cl, err := tlsconf.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &records{ch: make(chan struct{}, 1)}
	rec.level.Set(slog.LevelDebug)
	snap := &Snapshot{Client: cl, Target: cfg.Target, HandshakeTimeout: cfg.HandshakeTimeout, DialTimeout: time.Second,
		Forward: forward.Options{IdleTimeout: cfg.IdleTimeout, CloseTimeout: cfg.CloseTimeout}}
	p := New(Options{Logger: slog.New(rec), MaxConnections: cfg.MaxConnections, MaxHandshakes: cfg.MaxHandshakes, Observer: obs}, snap)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(ln, "local")
	t.Cleanup(func() {
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
		rec.checkPanics(t)
	})
	return &harness{addr: ln.Addr().String(), log: rec, proxy: p}
}

// A plain client's bytes cross client mode and server mode to an echo
// backend and back, each way hashed; the client's FIN reaches the
// backend, whose answer and FIN still come back. The second connection
// resumes. Both proxies log the connection from their side.
func TestClientModeToServerMode(t *testing.T) {
	scfg := baseConfig()
	scfg.ClientCertMode, scfg.CACertPath = config.ClientCertRequired, filepath.Join(pki(t), certs.CABundle)
	server := start(t, scfg, nil)
	client := startClientMode(t, clientModeConfig(t, server.addr))
	for i, resumed := range []string{"false", "true"} {
		c, err := net.Dial("tcp", client.addr)
		if err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, 1<<20)
		rand.Read(payload)
		go func() {
			c.Write(payload)
			c.(*net.TCPConn).CloseWrite()
		}()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || sha256.Sum256(got) != sha256.Sum256(payload) {
			t.Fatalf("connection %d: %d bytes back of %d, %v", i+1, len(got), len(payload), err)
		}
		rec := client.log.waitN(t, "connection closed", i+1)[i]
		if rec["close_reason"] != "client_closed" || rec["bytes_in"] != "1048576" || rec["bytes_out"] != "1048576" ||
			rec["pq"] != "true" || rec["cert_alg"] != "ML-DSA-65" || rec["identity"] != "localhost" || rec["resumed"] != resumed {
			t.Errorf("client mode's log, connection %d: %v", i+1, rec)
		}
		if rec := server.log.waitN(t, "connection closed", i+1)[i]; rec["identity"] != "client-mldsa" || rec["resumed"] != resumed {
			t.Errorf("server mode's log, connection %d: %v", i+1, rec)
		}
	}
}

// When the remote side ends first, the local client reads everything,
// then EOF, and the close reason names the server.
func TestClientModeServerEndsFirst(t *testing.T) {
	server := start(t, baseConfig(), func(c net.Conn) {
		io.WriteString(c, "bye\n")
		c.Close()
	})
	cfg := clientModeConfig(t, server.addr)
	cfg.Certificates = nil
	client := startClientMode(t, cfg)
	c, err := net.Dial("tcp", client.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "bye\n" {
		t.Fatalf("%q, %v", got, err)
	}
	c.Close()
	if rec := client.log.wait(t, "connection closed"); rec["close_reason"] != ReasonServerClosed || rec["bytes_out"] != "4" || rec["client_cert"] != "none" {
		t.Errorf("%v", rec)
	}
}

// A server that pqc_mode strict refuses: the local client is reset, not
// closed, and the log says which check refused.
func TestClientModeRefusalResetsLocalClient(t *testing.T) {
	scfg := baseConfig()
	dir := pki(t)
	scfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey)}}
	server := start(t, scfg, nil)
	cfg := clientModeConfig(t, server.addr)
	cfg.PQCMode = config.PQCStrict
	client := startClientMode(t, cfg)
	c, err := net.Dial("tcp", client.addr)
	if err == nil {
		defer c.Close()
		// Nothing sent: unread bytes would make any close a reset (tcp(7)).
		_, err = c.Read(make([]byte, 1))
	}
	// On loopback the refusal can be quicker than the dial's own check of
	// the socket, which then reports the reset.
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the local client read %v; want a reset", err)
	}
	rec := client.log.wait(t, "handshake refused")
	if rec["reason"] != tlsconf.ReasonServerKeyNotMLDSA || rec["error"] != "server did not authenticate with ML-DSA: server authenticated with ECDSA P-256; pqc_mode strict requires ML-DSA" {
		t.Errorf("%v", rec)
	}
	if n := client.proxy.Stats.Refused.Load(); n != 1 {
		t.Errorf("refused %d", n)
	}
}

// max_handshakes counts remote handshakes: at the cap the oldest is cut,
// its remote dial or handshake with it, and its local client is reset.
func TestClientModeEvictsOldestHandshake(t *testing.T) {
	// A target that accepts and never answers the ClientHello.
	stall, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stall.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := stall.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	cfg := clientModeConfig(t, stall.Addr().String())
	cfg.MaxHandshakes = 1
	client := startClientMode(t, cfg)
	first, err := net.Dial("tcp", client.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	for client.proxy.Handshakes() != 1 {
		time.Sleep(time.Millisecond)
	}
	second, err := net.Dial("tcp", client.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	first.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := first.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the evicted local client read %v; want a reset", err)
	}
	if rec := client.log.wait(t, "handshake refused"); rec["reason"] != ReasonHandshakeEvicted {
		t.Errorf("%v", rec)
	}
}

// The forwarder's result is named from the local client's side.
func TestLocalView(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{forward.ReasonClientClosed, ReasonServerClosed},
		{forward.ReasonBackendClosed, ReasonLocalClosed},
		{forward.ReasonClientError, ReasonServerError},
		{forward.ReasonBackendError, ReasonLocalError},
		{forward.ReasonIdle, forward.ReasonIdle},
	} {
		in, out, reason := localView(forward.Result{BytesIn: 1, BytesOut: 2, Reason: tc.in})
		if in != 2 || out != 1 || reason != tc.want {
			t.Errorf("%s: in %d out %d reason %s", tc.in, in, out, reason)
		}
	}
}
