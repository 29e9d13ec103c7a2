package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/proxy"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// chainValid is a chain whose leaf is valid from notBefore to notAfter.
func chainValid(path string, notBefore, notAfter time.Time) *certs.Chain {
	return &certs.Chain{CertPath: path, TLS: tls.Certificate{Leaf: &x509.Certificate{NotBefore: notBefore, NotAfter: notAfter}}}
}

// message runs one check and returns its message, "" when it holds.
func message(check func(context.Context) error) string {
	if err := check(context.Background()); err != nil {
		return err.Error()
	}
	return ""
}

// Each check says what it finds, in either mode: certificates outside
// their validity period, a unix backend, a client-mode target, a failed
// reload, the drain.
func TestReadyChecks(t *testing.T) {
	now := time.Now()
	var s readyState
	for name, c := range map[string]func(context.Context) error{"configuration": s.configuration, "certificates": s.certificates, "backend": s.backend} {
		if got := message(c); got == "" {
			t.Errorf("%s holds before anything loaded", name)
		}
	}
	if got := message(s.listening); got != "open, but each connection is reset until a configuration loads" {
		t.Errorf("listeners before a proxy: %q", got)
	}

	// A unix backend: up, then gone.
	sock := filepath.Join(t.TempDir(), "backend.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	snap := &proxy.Snapshot{Target: "unix:" + sock, TLS: &tlsconf.Server{Chains: []*certs.Chain{
		chainValid("a.crt", now.Add(-time.Hour), now.Add(time.Hour)),
		chainValid("b.crt", now.Add(-2*time.Hour), now.Add(-time.Hour)),
		chainValid("c.crt", now.Add(time.Hour), now.Add(2*time.Hour)),
	}}}
	p := proxy.New(proxy.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, snap)
	s.serving(p, snap, 0)
	if got := message(s.configuration); got != "" {
		t.Errorf("configuration: %q", got)
	}
	if got, want := message(s.certificates), "b.crt: certificate is not valid now: expired "+now.Add(-time.Hour).UTC().Format(time.RFC3339)+
		"; c.crt: certificate is not valid now: not valid before "+now.Add(time.Hour).UTC().Format(time.RFC3339); got != want {
		t.Errorf("certificates: %q\nwant %q", got, want)
	}
	if got := message(s.backend); got != "" {
		t.Errorf("unix backend up: %q", got)
	}
	ln.Close()
	if got, want := message(s.backend), "dial unix "+sock+": connect: no such file or directory"; got != want {
		t.Errorf("unix backend gone: %q, want %q", got, want)
	}

	// Client mode: the client certificates, and the remote target.
	remote := loopbackListener(t)
	defer remote.Close()
	s.reloaded(&proxy.Snapshot{Target: remote.Addr().String(), Client: &tlsconf.Client{Chains: []*certs.Chain{chainValid("client.crt", now.Add(-time.Hour), now.Add(time.Hour))}}})
	if got := message(s.certificates) + message(s.backend); got != "" {
		t.Errorf("client mode: %q", got)
	}
	s.reloaded(&proxy.Snapshot{Target: remote.Addr().String(), Client: &tlsconf.Client{}})
	if got := message(s.certificates); got != "" {
		t.Errorf("client mode without client certificates: %q", got)
	}

	s.reloadFailed(&config.Error{Problems: []error{errors.New("config.json: line 3: unexpected end of JSON input")}}, "10:03:41")
	if got, want := message(s.lastReload), "the reload at 10:03:41 failed, the previous configuration is still served: config.json: line 3: unexpected end of JSON input"; got != want {
		t.Errorf("reload: %q, want %q", got, want)
	}
	s.reloaded(snap)
	if got := message(s.lastReload); got != "" {
		t.Errorf("reload after a good one: %q", got)
	}

	s.draining.Store(true)
	if got := message(s.listening); got != "stopped accepting: draining 0 connections" {
		t.Errorf("listeners while draining: %q", got)
	}
}
