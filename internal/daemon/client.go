package daemon

import (
	"fmt"
	"net"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/listen"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/proxy"
)

// logClient says, at start and on every reload, what client mode does:
// where plain text from local clients goes, what the server must show,
// and each chain presented to it.
func (d *daemon) logClient(cfg *config.Config, s *proxy.Snapshot) {
	c := s.Client
	d.log.Info("client mode: plain text from local clients goes over TLS to the target",
		"target", cfg.Target, "server_name", c.ServerName, "pqc_mode", string(c.Mode), "min_tls_version", cfg.MinTLSVersion,
		"client_certificates", len(c.Chains), "allow_rules", !c.Peer.Empty(), "advertise_mldsa", !c.OmitMLDSA)
	for _, r := range c.Roots {
		d.log.Info("server CA", "subject", r.Subject.String(), "key", certs.Algorithm(r.PublicKey), "file", cfg.CACertPath)
	}
	for i, ch := range c.Chains {
		d.log.Info("client certificate", "order", i+1, "subject", ch.Leaf().Subject.String(), "key", ch.Algorithm(), "signer", ch.Signer(),
			"chain_length", len(ch.TLS.Certificate), "expires", ch.Leaf().NotAfter.UTC().Format(time.RFC3339), "file", ch.CertPath)
	}
}

// modeChanged refuses a reload that switches mode: a listener that took
// TLS from the network must not start taking plain text on a signal, nor
// the reverse.
func modeChanged(was, now config.Mode) error {
	return fmt.Errorf("mode: %s to %s changes only with a restart (systemctl restart)", was, now)
}

// checkClientListeners applies unsafe_listen to the sockets systemd
// passed, which the configuration could not see: in client mode each
// must be a unix socket or on loopback, since whoever reaches it sends
// plain text out with this proxy's client certificates.
func checkClientListeners(cfg *config.Config, set *listen.Set) error {
	if cfg.Mode != config.ModeClient || cfg.UnsafeListen || set == nil || !set.Activated {
		return nil
	}
	var problems []error
	for _, l := range set.Serve {
		addr, ok := l.Addr().(*net.TCPAddr)
		if ok && !addr.IP.IsLoopback() {
			problems = append(problems, fmt.Errorf("socket %q from systemd (%s) is not loopback: in mode client whoever connects sends plain text out over TLS with this proxy's client certificates; set ListenStream= to 127.0.0.1:PORT or a path, or set unsafe_listen if you mean it",
				l.Name, addr))
		}
	}
	if len(problems) > 0 {
		return &config.Error{Problems: problems}
	}
	return nil
}

// applyClient puts what a client-mode snapshot needs of the process in
// force (GODEBUG for advertise_mldsa, see [tlsconf.Client.Apply]) as it
// goes into force.
func applyClient(s *proxy.Snapshot) {
	if s.Client != nil {
		s.Client.Apply()
	}
}

// tlsWarnings are the TLS policy's warnings, of either mode.
func tlsWarnings(s *proxy.Snapshot) []string {
	if s.Client != nil {
		return s.Client.Warnings()
	}
	return s.TLS.Warnings()
}

// listening is the "listening" line of a listener: in client mode with
// the server's name instead of client_cert_mode, which applies to
// server mode only.
func listening(cfg *config.Config, l listen.Listener, activated bool) []any {
	args := []any{"listener", l.Name, "address", l.Addr().String(), "systemd", activated, "mode", string(cfg.Mode),
		"target", cfg.Target, "pqc_mode", string(cfg.PQCMode)}
	if cfg.Mode == config.ModeClient {
		return append(args, "server_name", cfg.ServerName)
	}
	return append(args, "client_cert_mode", string(cfg.ClientCertMode))
}
