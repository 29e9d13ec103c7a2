package proxy

import (
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

// Full handshakes through the proxy's TLS policy over loopback TCP: both
// sides' CPU, one new TCP connection and one backend dial per op.
func BenchmarkHandshake(b *testing.B) {
	for _, bc := range []struct {
		name      string
		group     tls.CurveID
		cert, key string
	}{
		{"X25519/ECDSA-P256", tls.X25519, certs.ServerECDSACert, certs.ServerECDSAKey},
		{"X25519/ML-DSA-65", tls.X25519, certs.ServerMLDSACert, certs.ServerMLDSAKey},
		{"X25519MLKEM768/ECDSA-P256", tls.X25519MLKEM768, certs.ServerECDSACert, certs.ServerECDSAKey},
		{"X25519MLKEM768/ML-DSA-65", tls.X25519MLKEM768, certs.ServerMLDSACert, certs.ServerMLDSAKey},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := pki(b)
			cfg := baseConfig()
			cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, bc.cert), KeyPath: filepath.Join(dir, bc.key)}}
			h := start(b, cfg, nil)
			h.log.level.Set(slog.LevelInfo) // the default log_level
			cc := clientConfig(b)
			cc.CurvePreferences = []tls.CurveID{bc.group}
			// Full handshakes are what this measures, so this client keeps
			// no session; BenchmarkResumedHandshake measures resumption.
			cc.ClientSessionCache = nil
			b.ReportAllocs()
			for b.Loop() {
				c, err := tls.Dial("tcp", h.addr, cc)
				if err != nil {
					b.Fatal(err)
				}
				if c.ConnectionState().CurveID != bc.group {
					b.Fatalf("negotiated %s", c.ConnectionState().CurveID)
				}
				c.Close()
			}
		})
	}
}

// BenchmarkHandshakeLogLevel measures what log_level debug costs a full
// handshake, and that below debug it costs nothing: "info" should match
// BenchmarkHandshake/X25519MLKEM768/ML-DSA-65 in time and allocations.
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
	dir := pki(b)
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
	ch, err := certs.LoadChain(filepath.Join(dir, certs.ServerMLDSACert), filepath.Join(dir, certs.ServerMLDSAKey))
	if err != nil {
		b.Fatal(err)
	}
	ln, _ := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ch.TLS}})
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
