package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// The handshake benchmarks run each case through the proxy and through
// the naive baseline the project is measured against (DESIGN.md: a
// crypto/tls listener and two io.Copy per connection, as
// integration/testdata/naive-proxy), side by side: ".../proxy" and
// ".../naive". Both ends run in this process, over loopback TCP, with one
// new TCP connection and one backend dial per op, so ns/op is the client's
// and the server's CPU together; the proxy's own CPU per handshake is what
// integration's BenchmarkLoad reports.

// handshakeCases are the served chains, each with X25519MLKEM768.
var handshakeCases = []struct{ name, cert, key string }{
	{"X25519MLKEM768/ECDSA-P256", certs.ServerECDSACert, certs.ServerECDSAKey},
	{"X25519MLKEM768/ML-DSA-65", certs.ServerMLDSACert, certs.ServerMLDSAKey},
}

// BenchmarkHandshake measures full handshakes: the client keeps no
// session (BenchmarkResumedHandshake measures resumption).
func BenchmarkHandshake(b *testing.B) {
	for _, hc := range handshakeCases {
		for _, impl := range []string{"proxy", "naive"} {
			b.Run(hc.name+"/"+impl, func(b *testing.B) {
				cc := clientConfig(b)
				cc.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768}
				// Every iteration must be a full handshake (signature,
				// chain) to measure one; resumption, which real clients
				// do by default, has BenchmarkResumedHandshake.
				cc.ClientSessionCache = nil
				benchHandshakes(b, benchServer(b, impl, hc.cert, hc.key, false), cc, false)
			})
		}
	}
}

// BenchmarkHandshakeMTLS measures full handshakes in which the client
// authenticates with its ML-DSA-65 chain, verified against the CA bundle.
func BenchmarkHandshakeMTLS(b *testing.B) {
	for _, impl := range []string{"proxy", "naive"} {
		b.Run("X25519MLKEM768/ML-DSA-65/"+impl, func(b *testing.B) {
			cc := clientConfig(b)
			cc.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768}
			// Full handshakes only: the client's chain is verified on
			// each, which a resumed session would skip.
			cc.ClientSessionCache = nil
			ch, err := certs.LoadChain(filepath.Join(pki(b), certs.ClientMLDSACert), filepath.Join(pki(b), certs.ClientMLDSAKey))
			if err != nil {
				b.Fatal(err)
			}
			cc.Certificates = []tls.Certificate{ch.TLS}
			benchHandshakes(b, benchServer(b, impl, certs.ServerMLDSACert, certs.ServerMLDSAKey, true), cc, false)
		})
	}
}

// BenchmarkResumedHandshake measures TLS 1.3 resumption (PSK with a fresh
// X25519MLKEM768 exchange) with a Go client's default session cache:
// every connection after the first resumes, or the benchmark fails.
func BenchmarkResumedHandshake(b *testing.B) {
	for _, impl := range []string{"proxy", "naive"} {
		b.Run("X25519MLKEM768/"+impl, func(b *testing.B) {
			cc := clientConfig(b)
			cc.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768}
			cc.ClientSessionCache = tls.NewLRUClientSessionCache(8)
			benchHandshakes(b, benchServer(b, impl, certs.ServerMLDSACert, certs.ServerMLDSAKey, false), cc, true)
		})
	}
}

// benchServer starts the proxy or the naive baseline serving the dev
// PKI's chain cert/key, in front of an echo backend; mtls: requiring a
// client certificate from the CA bundle.
func benchServer(b *testing.B, impl, cert, key string, mtls bool) string {
	dir := pki(b)
	if impl == "naive" {
		return startNaiveServing(b, nil, cert, key, mtls)
	}
	cfg := baseConfig()
	cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, cert), KeyPath: filepath.Join(dir, key)}}
	if mtls {
		cfg.ClientCertMode, cfg.CACertPath = config.ClientCertRequired, filepath.Join(dir, certs.CABundle)
	}
	h := start(b, cfg, nil)
	h.log.level.Set(slog.LevelInfo) // the default log_level
	return h.addr
}

// benchHandshakes dials addr once per op and checks the group; resumed:
// each op also echoes one line, which takes in the session ticket, and
// every op after the first must resume.
func benchHandshakes(b *testing.B, addr string, cc *tls.Config, resumed bool) {
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		c, err := tls.Dial("tcp", addr, cc)
		if err != nil {
			b.Fatal(err)
		}
		cs := c.ConnectionState()
		if cs.CurveID != tls.X25519MLKEM768 {
			b.Fatalf("negotiated %s", cs.CurveID)
		}
		if resumed {
			if n > 0 && !cs.DidResume {
				b.Fatalf("connection %d did not resume", n)
			}
			io.WriteString(c, "x\n")
			if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
		n++
	}
}

// BenchmarkHandshakeLogLevel measures what log_level debug costs a full
// handshake, and that below debug it costs nothing: "info" should match
// BenchmarkHandshake/X25519MLKEM768/ML-DSA-65/proxy in time and allocations.
func BenchmarkHandshakeLogLevel(b *testing.B) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		b.Run(strings.ToLower(level.String()), func(b *testing.B) {
			dir := pki(b)
			cfg := baseConfig()
			cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey)}}
			h := start(b, cfg, nil)
			h.log.level.Set(level)
			cc := clientConfig(b)
			cc.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768}
			// The debug lines of a full handshake (chain choice among
			// them) are what this measures, so this client keeps no
			// session; BenchmarkResumedHandshake measures resumption.
			cc.ClientSessionCache = nil
			b.ReportAllocs()
			for b.Loop() {
				c, err := tls.Dial("tcp", h.addr, cc)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

const bulkChunk = 256 << 10

// Bulk throughput through one connection, up (client to backend) and down.
func BenchmarkForward(b *testing.B) {
	for _, dir := range []string{"up", "down"} {
		for _, impl := range []string{"proxy", "naive"} {
			b.Run(dir+"/"+impl, func(b *testing.B) { benchBulk(b, dir == "up", impl == "naive") })
		}
	}
}

func benchBulk(b *testing.B, up, naive bool) {
	chunk := make([]byte, bulkChunk)
	backend := func(c net.Conn) {
		defer c.Close()
		if up {
			io.Copy(io.Discard, c)
			return
		}
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}
	var addr string
	if naive {
		addr = startNaive(b, backend)
	} else {
		addr = start(b, baseConfig(), backend).addr
	}
	c, err := tls.Dial("tcp", addr, clientConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetBytes(bulkChunk)
	b.ReportAllocs()
	for b.Loop() {
		if up {
			_, err = c.Write(chunk)
		} else {
			_, err = io.ReadFull(c, chunk)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// startNaive runs the baseline the project is measured against
// (DESIGN.md): a crypto/tls listener and two io.Copy per connection.
func startNaive(b *testing.B, backend func(net.Conn)) string {
	return startNaiveServing(b, backend, certs.ServerMLDSACert, certs.ServerMLDSAKey, false)
}

// startNaiveServing is startNaive serving the chain cert/key, in front of
// backend (an echo server when nil); mtls: requiring a client certificate
// from the CA bundle, as crypto/tls does it.
func startNaiveServing(b *testing.B, backend func(net.Conn), cert, key string, mtls bool) string {
	dir := pki(b)
	if backend == nil {
		backend = func(c net.Conn) { io.Copy(c, c); c.Close() }
	}
	bl, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() {
		for {
			c, err := bl.Accept()
			if err != nil {
				return
			}
			go backend(c)
		}
	}()
	ch, err := certs.LoadChain(filepath.Join(dir, cert), filepath.Join(dir, key))
	if err != nil {
		b.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{ch.TLS}}
	if mtls {
		pool, _, err := certs.LoadPool(filepath.Join(dir, certs.CABundle))
		if err != nil {
			b.Fatal(err)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	ln, _ := tls.Listen("tcp", "127.0.0.1:0", cfg)
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				u, err := net.Dial("tcp", bl.Addr().String())
				if err != nil {
					c.Close()
					return
				}
				go func() { io.Copy(u, c); u.Close() }()
				io.Copy(c, u)
				c.Close()
			}()
		}
	}()
	b.Cleanup(func() { ln.Close(); bl.Close() })
	return ln.Addr().String()
}
