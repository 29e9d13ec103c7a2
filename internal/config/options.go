package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// option is one setting as it appears in each source. Flags, environment
// variables, the JSON schema and the usage text all come from [options],
// so they cannot drift apart.
type option struct {
	key   string // JSON key
	flag  string // without dashes; "" if none
	env   string // without the QUANTUM_SAFE_PROXY_ prefix; "" if none
	arg   string // placeholder in usage, "" for a boolean
	usage string
	set   func(c *Config, v string) error
	// rust marks an option of the Rust project that this proxy maps or
	// refuses ([rustOptions]); it is left out of --help.
	rust bool
	// list, when set, makes the option a list of strings instead of set:
	// a JSON array (or one string), a repeated flag, or a comma-separated
	// variable. Each source replaces the list of the one before; item
	// checks one entry.
	list func(c *Config) *[]string
	item func(v string) error
}

// EnvPrefix starts every environment variable the proxy reads.
const EnvPrefix = "QUANTUM_SAFE_PROXY_"

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
}

// maxDuration bounds every duration setting. A year is longer than any
// timeout has a use for, and far below the ~292 years where time.Duration
// (int64 nanoseconds) overflows: without a bound, "1e300" or "inf" seconds
// would convert to a negative or meaningless deadline.
const maxDuration = 365 * 24 * time.Hour

// durationSyntax is the form time.ParseDuration accepts; a value of this
// form that it refuses is out of range rather than misspelt.
var durationSyntax = regexp.MustCompile(`^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

func parseDuration(v string) (time.Duration, error) {
	notDuration := fmt.Errorf("%q is not a duration (write e.g. 10s, 2m, or a number of seconds)", v)
	negative := fmt.Errorf("%q is negative; a duration is 0 or more, e.g. 10s", v)
	tooLong := fmt.Errorf("%q is longer than a year (8760h), the most a duration may be; write e.g. 10s or 24h", v)
	// Plain numbers are seconds, as in the Rust project's files.
	if n, err := strconv.ParseFloat(v, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		switch {
		case math.IsNaN(n):
			return 0, notDuration
		case n < 0:
			return 0, negative
		case n > maxDuration.Seconds(): // also +Inf, and out of float64's range
			return 0, tooLong
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil && durationSyntax.MatchString(v) && strings.HasPrefix(v, "-"):
		return 0, negative
	case err != nil && durationSyntax.MatchString(v):
		return 0, tooLong // time.ParseDuration refuses what overflows int64 nanoseconds
	case err != nil:
		return 0, notDuration
	case d < 0:
		return 0, negative
	case d > maxDuration:
		return 0, tooLong
	}
	return d, nil
}

func durationSetter(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := parseDuration(v)
		if err != nil {
			// The setting keeps its value, so a refused one leads to no
			// second complaint (handshake_timeout 0, for instance).
			return err
		}
		*field(c) = d
		return nil
	}
}

// boolSetter sets a boolean field from "true" or "false" (any case, or
// 1/0 and the other forms strconv.ParseBool takes).
func boolSetter(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := parseBool(v)
		*field(c) = b
		return err
	}
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", v)
	}
	return b, nil
}

// options lists every setting except the certificate list, which has its
// own rules (pairs, several of them).
var options = []option{
	{key: "listen", flag: "listen", env: "LISTEN", arg: "ADDR", usage: "address to accept on when systemd passes no socket: host:port or unix:/path; [::] or 0.0.0.0 is every address, IPv6 and IPv4 (default [::]:8443; 127.0.0.1:8443 in client mode)",
		set: func(c *Config, v string) error { c.Listen = v; return nil }},
	{key: "require_systemd_socket", flag: "require-systemd-socket", env: "REQUIRE_SYSTEMD_SOCKET", usage: "refuse to start without a socket from systemd (LISTEN_FDS) instead of binding --listen; the packaged units set it",
		set: boolSetter(func(c *Config) *bool { return &c.RequireSystemdSocket })},
	{key: "target", flag: "target", env: "TARGET", arg: "ADDR", usage: "backend: host:port or unix:/path; loopback only unless --unsafe-target (default 127.0.0.1:6000)",
		set: func(c *Config, v string) error { c.Target = v; return nil }},
	{key: "ca_cert_path", flag: "ca-cert", env: "CA_CERT", arg: "FILE", usage: "PEM roots that client certificates must chain to (ML-DSA and ECDSA may mix)",
		set: func(c *Config, v string) error { c.CACertPath = v; return nil }},
	{key: "client_cert_mode", flag: "client-cert-mode", env: "CLIENT_CERT_MODE", arg: "MODE", usage: "required, optional or none (default none, or optional when a CA is given)",
		set: func(c *Config, v string) error {
			c.ClientCertMode = ClientCertMode(v)
			return oneOf(v, "required", "optional", "none")
		}},
	{key: "pqc_mode", flag: "pqc-mode", env: "PQC_MODE", arg: "MODE", usage: "hybrid (PQ preferred, legacy clients served), strict (PQ only) or classical (default hybrid)",
		set: func(c *Config, v string) error {
			c.PQCMode = PQCMode(v)
			return oneOf(v, "hybrid", "strict", "classical")
		}},
	{key: "hybrid_mode", flag: "hybrid-mode", env: "HYBRID_MODE", usage: "Rust-compatible switch: true means --pqc-mode hybrid, false means classical",
		set: func(c *Config, v string) error {
			b, err := parseBool(v)
			c.hybridMode = &b
			return err
		}},
	{key: "strict_client_classical_issuer", flag: "strict-client-classical-issuer", env: "STRICT_CLIENT_CLASSICAL_ISSUER", usage: "in pqc_mode strict, accept an ML-DSA client key issued by a classical CA (as OpenSSL clients present)",
		set: boolSetter(func(c *Config) *bool { return &c.StrictClientClassicalIssuer })},
	{key: "min_tls_version", flag: "min-tls-version", env: "MIN_TLS_VERSION", arg: "VERSION", usage: "1.2 or 1.3 (default 1.2; strict mode needs 1.3)",
		set: func(c *Config, v string) error { c.MinTLSVersion = v; return oneOf(v, "1.2", "1.3") }},
	{key: "log_level", flag: "log-level", env: "LOG_LEVEL", arg: "LEVEL", usage: "error, warn, info, debug or trace (default info)",
		set: func(c *Config, v string) error {
			c.LogLevel = strings.ToLower(v)
			return oneOf(c.LogLevel, "error", "warn", "info", "debug", "trace")
		}},
	{key: "log_format", flag: "log-format", env: "LOG_FORMAT", arg: "FORMAT", usage: "text or json, for logs on stderr (default text)",
		set: func(c *Config, v string) error { c.LogFormat = v; return oneOf(v, "text", "json") }},
	{key: "environment", flag: "environment", env: "ENVIRONMENT", arg: "NAME", usage: "deployment label (the Rust project's production, development...), logged at start; changes nothing",
		set: func(c *Config, v string) error { c.Environment = v; return nil }},
	{key: "handshake_timeout", flag: "handshake-timeout", env: "HANDSHAKE_TIMEOUT", arg: "DURATION", usage: "limit on the TLS handshake; 0 needs --unsafe-no-handshake-timeout (default 10s)",
		set: durationSetter(func(c *Config) *time.Duration { return &c.HandshakeTimeout })},
	{key: "dial_timeout", flag: "dial-timeout", env: "DIAL_TIMEOUT", arg: "DURATION", usage: "limit on connecting to the backend (default 5s)",
		set: durationSetter(func(c *Config) *time.Duration { return &c.DialTimeout })},
	{key: "idle_timeout", flag: "idle-timeout", env: "IDLE_TIMEOUT", arg: "DURATION", usage: "cut connections that move no bytes either way this long; 0 never (default 0)",
		set: durationSetter(func(c *Config) *time.Duration { return &c.IdleTimeout })},
	{key: "close_timeout", flag: "close-timeout", env: "CLOSE_TIMEOUT", arg: "DURATION", usage: "cut a half-closed connection that moves no bytes this long (default 60s)",
		set: durationSetter(func(c *Config) *time.Duration { return &c.CloseTimeout })},
	{key: "drain_timeout", flag: "drain-timeout", env: "DRAIN_TIMEOUT", arg: "DURATION", usage: "how long connections may finish after SIGTERM (default 30s)",
		set: durationSetter(func(c *Config) *time.Duration { return &c.DrainTimeout })},
	{key: "max_connections", flag: "max-connections", env: "MAX_CONNECTIONS", arg: "N", usage: "cap on established connections; more wait in the kernel backlog; 0 no cap (default 10000)",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%q is not a whole number >= 0", v)
			}
			c.MaxConnections = n
			return nil
		}},
	{key: "max_handshakes", flag: "max-handshakes", env: "MAX_HANDSHAKES", arg: "N", usage: "cap on handshakes in progress, apart from max_connections; at the cap the oldest is cut; 0 no cap (default 20000)",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%q is not a whole number >= 0", v)
			}
			c.MaxHandshakes = n
			return nil
		}},
	{key: "unsafe_no_handshake_timeout", flag: "unsafe-no-handshake-timeout", env: "UNSAFE_NO_HANDSHAKE_TIMEOUT", usage: "allow handshake_timeout 0: a client that connects and stalls holds its socket forever",
		set: boolSetter(func(c *Config) *bool { return &c.UnsafeNoHandshakeTimeout })},
	{key: "mode", flag: "mode", env: "MODE", arg: "MODE", usage: "server (accept TLS, forward plain text to target) or client (accept plain text, forward over TLS to target) (default server)",
		set: func(c *Config, v string) error { c.Mode = Mode(v); return oneOf(v, "server", "client") }},
	{key: "server_name", flag: "server-name", env: "SERVER_NAME", arg: "NAME", usage: "client mode: the name the server's certificate must hold, sent as SNI (default the host of target)",
		set: func(c *Config, v string) error { c.ServerName = v; return nil }},
	{key: "allow_cn", flag: "allow-cn", env: "ALLOW_CN", arg: "CN", usage: "admit a peer certificate with this subject common name; repeat for more (any allow rule that matches admits)",
		list: func(c *Config) *[]string { return &c.AllowCN }, item: nonEmpty},
	{key: "allow_ou", flag: "allow-ou", env: "ALLOW_OU", arg: "OU", usage: "admit a peer certificate with this subject organizational unit; repeatable",
		list: func(c *Config) *[]string { return &c.AllowOU }, item: nonEmpty},
	{key: "allow_dns", flag: "allow-dns", env: "ALLOW_DNS", arg: "NAME", usage: "admit a peer certificate with this DNS name among its SANs (*.example.com: one label); repeatable",
		list: func(c *Config) *[]string { return &c.AllowDNS }, item: checkDNSRule},
	{key: "allow_uri", flag: "allow-uri", env: "ALLOW_URI", arg: "URI", usage: "admit a peer certificate with this URI SAN (a SPIFFE ID); ending in /, any URI under it; repeatable",
		list: func(c *Config) *[]string { return &c.AllowURI }, item: checkURIRule},
	{key: "allow_spki_sha256", flag: "allow-spki-sha256", env: "ALLOW_SPKI_SHA256", arg: "PIN", usage: "admit a peer whose public key (SubjectPublicKeyInfo) has this SHA-256, base64 or hex; repeatable",
		list: func(c *Config) *[]string { return &c.AllowSPKISHA256 }, item: func(v string) error { _, err := ParseSPKIPin(v); return err }},
	{key: "crl_files", flag: "crl-file", env: "CRL_FILES", arg: "FILE", usage: "PEM or DER CRL of a CA in ca_cert_path; peers it revokes are refused; repeatable",
		list: func(c *Config) *[]string { return &c.CRLFiles }, item: nonEmpty},
	{key: "unsafe_allow_expired_crl", flag: "unsafe-allow-expired-crl", env: "UNSAFE_ALLOW_EXPIRED_CRL", usage: "keep admitting peers when a CRL is past its nextUpdate (by default every peer certificate is then refused)",
		set: boolSetter(func(c *Config) *bool { return &c.UnsafeAllowExpiredCRL })},
	{key: "proxy_protocol", flag: "proxy-protocol", env: "PROXY_PROTOCOL", arg: "VERSION", usage: "server mode: send the backend a PROXY protocol header first: none or v2 (default none)",
		set: func(c *Config, v string) error { c.ProxyProtocol = v; return oneOf(v, "none", "v2") }},
	{key: "advertise_mldsa", flag: "advertise-mldsa", env: "ADVERTISE_MLDSA", usage: "client mode: offer ML-DSA signature algorithms in the ClientHello; false for TLS-inspecting middleboxes that reset such ClientHellos (default true)",
		set: boolSetter(func(c *Config) *bool { return &c.AdvertiseMLDSA })},
	{key: "admin_listen", flag: "admin-listen", env: "ADMIN_LISTEN", arg: "ADDR", usage: "serve /metrics, /healthz and /readyz over plain HTTP here: host:port or unix:/path; loopback only unless --unsafe-admin-listen (default none)",
		set: func(c *Config, v string) error { c.AdminListen = v; return nil }},
	{key: "unsafe_admin_listen", flag: "unsafe-admin-listen", env: "UNSAFE_ADMIN_LISTEN", usage: "allow an admin address that is not loopback or a unix socket (anyone who reaches it reads the metrics)",
		set: boolSetter(func(c *Config) *bool { return &c.UnsafeAdminListen })},
	{key: "unsafe_target", flag: "unsafe-target", env: "UNSAFE_TARGET", usage: "allow a backend that is not loopback or a unix socket (plain text leaves the host)",
		set: boolSetter(func(c *Config) *bool { return &c.UnsafeTarget })},
	{key: "unsafe_listen", flag: "unsafe-listen", env: "UNSAFE_LISTEN", usage: "client mode: allow a listen address that is not loopback or a unix socket (anyone who reaches it uses this proxy's client certificates)",
		set: boolSetter(func(c *Config) *bool { return &c.UnsafeListen })},
}
