package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// validate checks what one setting alone cannot: consistency between
// settings, addresses, and the mapping of hybrid_mode onto pqc_mode.
func (l *loader) validate() {
	c := l.cfg
	l.checkListen()
	l.checkAdminListen()
	if c.Mode != ModeServer && c.Mode != ModeClient {
		return // reported; every check that follows depends on the mode
	}
	if c.Mode == ModeClient {
		l.checkClientMode()
	} else {
		l.checkTarget()
		l.checkServerMode()
	}
	if _, given := l.src["certificates"]; !given && len(c.Certificates) == 0 && !l.uncertain && c.Mode != ModeClient {
		l.fail("%s", l.noCertificate())
	}
	l.checkKeyText()
	for i, p := range c.Certificates {
		for _, n := range p.ServerNames {
			if n == "" || strings.ContainsAny(n, " /:") {
				l.fail("%s[%d].server_names: %q is not a server name", l.label("certificates"), i, n)
			}
		}
	}
	if _, mode := l.src["client_cert_mode"]; !mode && c.CACertPath != "" && c.Mode != ModeClient && l.allowRules() != "" {
		// Allow rules name who may connect: a client without a
		// certificate matches none, so one is required.
		c.ClientCertMode = ClientCertRequired
		l.imply("client_cert_mode", "ca_cert_path and "+l.allowKeys())
	} else if !mode && c.CACertPath != "" && c.Mode != ModeClient {
		// The Rust project's client_cert_mode defaulted to optional, and
		// its README's basic usage gives --ca-cert alone: a CA given
		// without a mode keeps that meaning rather than being ignored.
		c.ClientCertMode = ClientCertOptional
		l.imply("client_cert_mode", "ca_cert_path")
		l.warn("%s is set and client_cert_mode is not: client certificates are verified when presented (optional), as in the Rust project; set client_cert_mode required to demand one, or none to ask for none",
			l.label("ca_cert_path"))
	}
	if (c.ClientCertMode == ClientCertRequired || c.ClientCertMode == ClientCertOptional) && c.CACertPath == "" && !l.uncertain {
		l.fail("%s: %q needs the roots to check client certificates against; set --ca-cert FILE (ca_cert_path) or client_cert_mode none",
			l.label("client_cert_mode"), c.ClientCertMode)
	}
	if c.Mode != ModeClient {
		l.checkPeerRules()
	}
	if c.hybridMode != nil {
		if _, explicit := l.src["pqc_mode"]; !explicit {
			if *c.hybridMode {
				c.PQCMode = PQCHybrid
			} else {
				c.PQCMode = PQCClassical
			}
			l.mapFrom("pqc_mode", "hybrid_mode")
		} else if *c.hybridMode != (c.PQCMode != PQCClassical) {
			l.fail("%s and %s disagree: hybrid_mode %v means pqc_mode %s; drop hybrid_mode, pqc_mode replaces it",
				l.label("hybrid_mode"), l.label("pqc_mode"), *c.hybridMode, map[bool]string{true: "hybrid", false: "classical"}[*c.hybridMode])
		}
	}
	l.foldConnectionTimeout()
	switch {
	case c.MinTLSVersion == "" && c.PQCMode == PQCStrict:
		c.MinTLSVersion = "1.3"
		l.imply("min_tls_version", "pqc_mode strict")
	case c.MinTLSVersion == "" && c.Mode == ModeClient:
		c.MinTLSVersion = "1.3"
		l.imply("min_tls_version", "mode client")
	case c.MinTLSVersion == "":
		c.MinTLSVersion = "1.2"
	case c.MinTLSVersion == "1.2" && c.PQCMode == PQCStrict:
		l.fail("%s: 1.2 cannot be used with pqc_mode strict: TLS 1.2 has no post-quantum key exchange; use 1.3", l.label("min_tls_version"))
	}
	if c.HandshakeTimeout == 0 && !c.UnsafeNoHandshakeTimeout {
		l.fail("%s: 0 removes the handshake deadline, so a client that connects and stalls holds its socket forever; set a duration such as 10s, or set unsafe_no_handshake_timeout (--unsafe-no-handshake-timeout) if you mean it", l.label("handshake_timeout"))
	}
	l.expandCredentials()
	if c.LogLevel == "trace" {
		c.LogLevel = "debug"
		l.note("log_level", "given as trace")
	}
}

// hostConfigDir holds a host's configuration, for which a development PKI
// is the wrong advice (a variable for tests).
var hostConfigDir = "/etc/"

// noCertificate says why no certificate is configured and what to do.
// A development PKI is suggested only where one makes sense: not for a
// configuration file under /etc, which is a host's.
func (l *loader) noCertificate() string {
	certEnv := false
	for _, n := range l.ignoredEnv {
		certEnv = certEnv || n == EnvPrefix+"CERT" || n == EnvPrefix+"KEY"
	}
	switch {
	case certEnv:
		note := l.ignoredEnvNote()
		l.warnings = slices.DeleteFunc(l.warnings, func(w string) bool { return w == note }) // said here
		return "no certificate configured: " + note + "; add --from-env, or pass --cert FILE --key FILE"
	case l.configFile == "":
		return "no certificate configured: pass --cert FILE --key FILE (or cert_path and key_path in a --config-file); `quantum-safe-proxy certs init --dir DIR` makes a development PKI"
	}
	msg := fmt.Sprintf("no certificate configured: %s sets neither cert_path and key_path nor certificates, and no --cert/--key was given", l.configFile)
	if abs, err := filepath.Abs(l.configFile); err == nil && !strings.HasPrefix(abs, hostConfigDir) {
		msg += "; `quantum-safe-proxy certs init --dir DIR` makes a development PKI"
	}
	return msg
}

func (l *loader) checkListen() {
	if path, ok := strings.CutPrefix(l.cfg.Listen, "unix:"); ok {
		if !strings.HasPrefix(path, "/") {
			l.fail("%s: %q: a unix socket needs an absolute path, e.g. unix:/run/quantum-safe-proxy/app.sock", l.label("listen"), l.cfg.Listen)
		}
		return
	}
	_, port, err := net.SplitHostPort(l.cfg.Listen)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		l.fail("%s: %q is neither host:port (e.g. [::]:8443 or 127.0.0.1:8443) nor unix:/path", l.label("listen"), l.cfg.Listen)
	}
}

// checkAdminListen checks admin_listen: none, unix:/path, or host:port
// on loopback unless unsafe_admin_listen, and never the listen address
// (the TLS listener is never the admin one). A socket named admin from
// systemd is checked when it is passed (package daemon).
func (l *loader) checkAdminListen() {
	a := l.cfg.AdminListen
	if a == "" {
		return
	}
	if a == l.cfg.Listen {
		l.fail("%s: %q is also the listen address: the admin endpoint needs an address of its own, e.g. 127.0.0.1:9090", l.label("admin_listen"), a)
		return
	}
	if path, ok := strings.CutPrefix(a, "unix:"); ok {
		if !strings.HasPrefix(path, "/") {
			l.fail("%s: %q: a unix socket needs an absolute path, e.g. unix:/run/quantum-safe-proxy/admin.sock", l.label("admin_listen"), a)
		}
		return
	}
	host, port, err := net.SplitHostPort(a)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		l.fail("%s: %q is neither host:port (e.g. 127.0.0.1:9090) nor unix:/path", l.label("admin_listen"), a)
		return
	}
	if l.cfg.UnsafeAdminListen {
		return
	}
	if addr, err := netip.ParseAddr(host); err == nil && addr.IsLoopback() || host == "localhost" {
		return
	}
	l.fail("%s: %q is not loopback: the admin endpoint is plain HTTP without authentication; listen on 127.0.0.1:PORT or unix:/path, or set unsafe_admin_listen (--unsafe-admin-listen) if you mean it", l.label("admin_listen"), a)
}

// checkTarget keeps plain text on the host: the backend must be a unix
// socket or loopback unless the operator opts in with unsafe_target.
func (l *loader) checkTarget() {
	t := l.cfg.Target
	if path, ok := strings.CutPrefix(t, "unix:"); ok {
		if !strings.HasPrefix(path, "/") {
			l.fail("%s: %q: a unix socket target needs an absolute path, e.g. unix:/run/app.sock", l.label("target"), t)
		}
		return
	}
	host, port, err := net.SplitHostPort(t)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil || host == "" {
		hint := ""
		if strings.Count(t, ":") > 1 && !strings.HasPrefix(t, "[") {
			// net.SplitHostPort cannot tell ::1:6000's port from its
			// address (RFC 3986 section 3.2.2 brackets it).
			hint = "; an IPv6 address goes in brackets, e.g. [::1]:6000"
		}
		l.fail("%s: %q is neither host:port nor unix:/path%s", l.label("target"), t, hint)
		return
	}
	if l.cfg.UnsafeTarget {
		return
	}
	if addr, err := netip.ParseAddr(host); err == nil && addr.IsLoopback() || host == "localhost" {
		return
	}
	l.fail("%s: %q is not on this host: plain text would cross the network; use a loopback address or unix socket, or set unsafe_target (--unsafe-target) if you mean it", l.label("target"), t)
}

// credentialsVar is set by systemd for units with LoadCredential=
// (systemd.exec(5), "Credentials"); file paths may start with it.
const credentialsVar = "CREDENTIALS_DIRECTORY"

// expandCredentials replaces ${CREDENTIALS_DIRECTORY} in file paths, so
// that keys handed over by LoadCredential= can be named in the config.
func (l *loader) expandCredentials() {
	dir, set := "", false
	for _, kv := range l.environ {
		if v, ok := strings.CutPrefix(kv, credentialsVar+"="); ok {
			dir, set = v, true
		}
	}
	// key names the path as --print-config does (certificates[0].key_path),
	// label as errors do (with its source: --cert[0].key_path).
	expand := func(key string, p *string) {
		if !strings.Contains(*p, "$") {
			return
		}
		top, part, _ := strings.Cut(key, "[")
		label := l.label(top)
		if part != "" {
			label += "[" + part
		}
		l.note(key, "given as %s", printable(*p))
		var unknown []string
		*p = os.Expand(*p, func(name string) string {
			if name != credentialsVar {
				unknown = append(unknown, name)
			}
			return dir
		})
		switch {
		case len(unknown) > 0:
			l.fail("%s: only ${%s} may be used in a path, not ${%s}", label, credentialsVar, unknown[0])
		case !set:
			l.fail("%s: ${%s} is not set; systemd sets it for units with LoadCredential=", label, credentialsVar)
		}
	}
	c := l.cfg
	expand("ca_cert_path", &c.CACertPath)
	for i := range c.CRLFiles {
		expand(fmt.Sprintf("crl_files[%d]", i), &c.CRLFiles[i])
	}
	for i := range c.Certificates {
		expand(fmt.Sprintf("certificates[%d].cert_path", i), &c.Certificates[i].CertPath)
		expand(fmt.Sprintf("certificates[%d].key_path", i), &c.Certificates[i].KeyPath)
	}
}

// checkKeyText refuses a key_path that holds the key itself in PEM, as
// when a container's QUANTUM_SAFE_PROXY_KEY is set to the key's text
// (some images take it so). The value is never repeated: every later
// message (open KEY: no such file) and --print-config would show the
// key on the terminal and in the journal.
func (l *loader) checkKeyText() {
	base := l.label("certificates")
	for i := range l.cfg.Certificates {
		p := &l.cfg.Certificates[i]
		if !strings.Contains(p.KeyPath, "-----BEGIN ") {
			continue
		}
		label := fmt.Sprintf("%s[%d].key_path", base, i)
		switch base {
		case "--cert":
			label = "--key"
		case EnvPrefix + "CERT":
			label = EnvPrefix + "KEY"
		}
		l.fail("%s: holds a private key in PEM, not the path of a file; write the key to a file readable only by the service and give its path (the key is not shown here)", label)
		p.KeyPath = "" // nothing after this may show it
	}
}
