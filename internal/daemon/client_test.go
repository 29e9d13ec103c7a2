package daemon

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/listen"
)

// tlsGreeter is a TLS server on loopback serving the dev PKI's ML-DSA
// chain that greets every connection with name.
func tlsGreeter(t *testing.T, dir, name string) string {
	t.Helper()
	ch, err := certs.LoadChain(filepath.Join(dir, certs.ServerMLDSACert), filepath.Join(dir, certs.ServerMLDSAKey))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ch.TLS}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.WriteString(c, name+"\n")
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// greetingVia connects in plain text and returns the first line.
func greetingVia(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("via %s: %v", addr, err)
	}
	return strings.TrimSpace(line)
}

// A client-mode daemon carries plain connections to its target over
// TLS; a reload moves new connections to another target; a reload that
// switches mode is refused and changes nothing.
func TestClientModeReload(t *testing.T) {
	dir := devPKI(t)
	a, b := tlsGreeter(t, dir, "a"), tlsGreeter(t, dir, "b")
	r := startDaemonWith(t, func(c *config.Config) error {
		c.Mode, c.Target, c.ServerName, c.MinTLSVersion = config.ModeClient, a, "localhost", "1.3"
		c.CACertPath, c.Certificates = filepath.Join(dir, certs.CABundle), nil
		return nil
	})
	waitListening(t, r.addr)
	if got := greetingVia(t, r.addr); got != "a" {
		t.Fatalf("before the reload: %q", got)
	}
	r.reload(t, func(c *config.Config) error {
		c.Mode, c.Target, c.ServerName, c.MinTLSVersion = config.ModeClient, b, "localhost", "1.3"
		c.CACertPath, c.Certificates = filepath.Join(dir, certs.CABundle), nil
		return nil
	})
	waitLog(t, r, "msg=reloaded changed=target")
	if got := greetingVia(t, r.addr); got != "b" {
		t.Fatalf("after the reload: %q", got)
	}
	r.reload(t, nil) // the server-mode configuration of startDaemon
	waitLog(t, r, `level=ERROR msg="reload: mode: client to server changes only with a restart (systemctl restart)"`)
	if got := greetingVia(t, r.addr); got != "b" {
		t.Fatalf("after a refused reload: %q", got)
	}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

func waitLog(t *testing.T, r *running, want string) {
	t.Helper()
	for range 200 {
		if strings.Contains(r.stderr.String(), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %q in the log:\n%s", want, r.stderr.String())
}

// In client mode a socket from systemd must be loopback or unix unless
// unsafe_listen, as --listen must.
func TestClientListenersFromSystemd(t *testing.T) {
	wide, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer wide.Close()
	loop := loopbackListener(t)
	unix, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close()
	set := &listen.Set{Activated: true, Serve: []listen.Listener{{Listener: wide, Name: "wide"}, {Listener: loop, Name: "loop"}, {Listener: unix, Name: "unix"}}}
	cfg := config.Default()
	cfg.Mode = config.ModeClient
	err = checkClientListeners(cfg, set)
	ce, ok := err.(*config.Error)
	if !ok || len(ce.Problems) != 1 || !strings.HasPrefix(ce.Problems[0].Error(), `socket "wide" from systemd (`) {
		t.Fatalf("%v", err)
	}
	cfg.UnsafeListen = true
	if err := checkClientListeners(cfg, set); err != nil {
		t.Errorf("with unsafe_listen: %v", err)
	}
	cfg.UnsafeListen, cfg.Mode = false, config.ModeServer
	if err := checkClientListeners(cfg, set); err != nil {
		t.Errorf("in server mode: %v", err)
	}
}
