// Package config is the reference for quantum-safe-proxy's configuration:
// every setting of [Config] is documented on its field, with its JSON key,
// command-line flag and environment variable. Settings come from defaults,
// then a JSON file (--config-file), then QUANTUM_SAFE_PROXY_* variables
// (with --from-env), then flags; later sources win. The names are those of
// the Rust Quantum Safe Proxy, so its users' files, scripts and units keep
// working; the options of its other versions are mapped, warned about or
// refused with their replacement ([rustOptions]). Only this package knows
// the file format: one JSON object whose keys match exactly (case
// included, at every level) and appear once.
package config

import (
	"time"
)

// ClientCertMode says whether clients must present a certificate.
type ClientCertMode string

const (
	ClientCertRequired ClientCertMode = "required" // refuse clients without a certificate the CA file vouches for
	ClientCertOptional ClientCertMode = "optional" // verify a certificate if one is presented
	ClientCertNone     ClientCertMode = "none"     // do not ask for one
)

// PQCMode is the post-quantum policy.
type PQCMode string

const (
	// PQCHybrid prefers hybrid post-quantum key exchange (X25519MLKEM768,
	// SecP256r1MLKEM768, SecP384r1MLKEM1024) and still serves clients
	// without it classically.
	PQCHybrid PQCMode = "hybrid"
	// PQCStrict accepts only hybrid post-quantum key exchange over TLS 1.3
	// and, when client certificates are checked, only ML-DSA client keys.
	PQCStrict PQCMode = "strict"
	// PQCClassical turns post-quantum key exchange off (for comparison only).
	PQCClassical PQCMode = "classical"
)

// CertPair is one served chain: a PEM file holding the leaf and its
// intermediates, and the PEM private key of the leaf.
type CertPair struct {
	CertPath string `json:"cert_path"`
	KeyPath  string `json:"key_path"`
	// ServerNames, when set, binds the chain to these SNI names: it is
	// served only to clients asking for one of them (exact, or "*.example.com").
	ServerNames []string `json:"server_names,omitempty"`
}

// Config is the whole configuration. The zero value is not valid; start
// from [Default].
type Config struct {
	// Listen is the TCP address to accept TLS on when systemd passes no
	// socket. An unspecified host ([::], 0.0.0.0 or none) is every
	// address, IPv6 and IPv4, on one dual-stack socket (see package
	// listen). JSON listen, --listen, QUANTUM_SAFE_PROXY_LISTEN. Default
	// [::]:8443.
	Listen string
	// RequireSystemdSocket makes a start without sockets from systemd an
	// error instead of binding Listen: the packaged units set it, since
	// their service is meant to get its socket from its .socket unit, and
	// one started without (a socket unit that holds no socket) would
	// otherwise bind the port itself and hide that. JSON
	// require_systemd_socket, --require-systemd-socket,
	// QUANTUM_SAFE_PROXY_REQUIRE_SYSTEMD_SOCKET. Default false.
	RequireSystemdSocket bool
	// Target is the backend: "host:port" or "unix:/path", resolved for every
	// connection. It must be loopback or a unix socket unless UnsafeTarget.
	// JSON target, --target, QUANTUM_SAFE_PROXY_TARGET. Default 127.0.0.1:6000.
	Target string
	// Certificates are the served chains in order of preference: each
	// client gets the first chain it supports (and whose ServerNames, if
	// any, match its SNI). JSON cert_path + key_path and/or certificates;
	// --cert/--key (repeatable, in pairs); QUANTUM_SAFE_PROXY_CERT/_KEY.
	Certificates []CertPair
	// CACertPath is a PEM bundle of the roots client certificates must
	// chain to; it may mix ML-DSA and ECDSA roots. Needed unless
	// ClientCertMode is none. JSON ca_cert_path, --ca-cert, QUANTUM_SAFE_PROXY_CA_CERT.
	CACertPath string
	// ClientCertMode: required, optional or none. JSON client_cert_mode,
	// --client-cert-mode, QUANTUM_SAFE_PROXY_CLIENT_CERT_MODE. Default
	// none, or optional when CACertPath is set: the Rust project's default
	// was optional, so its users' --ca-cert alone still checks the
	// certificates clients present (a warning at start says so).
	ClientCertMode ClientCertMode
	// PQCMode: hybrid, strict or classical. JSON pqc_mode, --pqc-mode,
	// QUANTUM_SAFE_PROXY_PQC_MODE. Default hybrid. The Rust project's
	// hybrid_mode (--hybrid-mode, QUANTUM_SAFE_PROXY_HYBRID_MODE) maps onto
	// it: true is hybrid, false is classical; set together, they must agree.
	PQCMode PQCMode
	// StrictClientClassicalIssuer relaxes what pqc_mode strict asks of
	// client certificates. By default strict mode requires an ML-DSA client
	// key in a chain signed with ML-DSA throughout (every issuer's key
	// ML-DSA). Set, it accepts an ML-DSA client key issued by a classical
	// (e.g. ECDSA) CA: what OpenSSL 3.5 clients can present to a Go server,
	// which cannot ask for ML-DSA-signed certificates (go.dev/issue/82536).
	// JSON strict_client_classical_issuer, --strict-client-classical-issuer,
	// QUANTUM_SAFE_PROXY_STRICT_CLIENT_CLASSICAL_ISSUER. Default false.
	StrictClientClassicalIssuer bool
	// MinTLSVersion is "1.2" or "1.3". TLS 1.2 clients are always served
	// classically; strict mode needs 1.3. JSON min_tls_version,
	// --min-tls-version. Default 1.2 (1.3 in strict mode).
	MinTLSVersion string
	// LogLevel: error, warn, info, debug (trace is accepted as debug).
	// JSON log_level, --log-level, QUANTUM_SAFE_PROXY_LOG_LEVEL. Default info.
	LogLevel string
	// LogFormat: text or json, for stderr. JSON log_format, --log-format. Default text.
	LogFormat string
	// Environment is the Rust project's deployment label (production,
	// development, testing); it is logged at start and changes nothing.
	// JSON environment, --environment, QUANTUM_SAFE_PROXY_ENVIRONMENT.
	Environment string
	// Durations below are "10s", "2m", "1h30m" or a number of seconds
	// (2.5), from 0 to a year (8760h); anything else is an error.

	// HandshakeTimeout bounds the TLS handshake, which finishes before the
	// backend is dialed; a client still handshaking then is cut (reason
	// handshake_timeout). 0 (no limit) needs UnsafeNoHandshakeTimeout.
	// JSON handshake_timeout ("10s" or seconds), --handshake-timeout. Default 10s.
	HandshakeTimeout time.Duration
	// DialTimeout bounds connecting to the backend. JSON dial_timeout,
	// --dial-timeout. Default 5s. The Rust project's connection_timeout
	// (seconds; --connection-timeout, QUANTUM_SAFE_PROXY_CONNECTION_TIMEOUT)
	// bounded the same connect and maps onto it; set together, they must
	// agree.
	DialTimeout time.Duration
	// IdleTimeout cuts (resets) a connection after no bytes moved either
	// way for this long, counted from the last byte; 0 means never. JSON
	// idle_timeout, --idle-timeout. Default 0.
	IdleTimeout time.Duration
	// CloseTimeout applies once one direction has ended (a FIN or
	// close_notify): the other direction may go on as long as it keeps
	// moving bytes, and is cut (reset) after this long without progress.
	// JSON close_timeout, --close-timeout. Default 60s.
	CloseTimeout time.Duration
	// DrainTimeout is how long open connections may run on after SIGTERM.
	// JSON drain_timeout, --drain-timeout. Default 30s.
	DrainTimeout time.Duration
	// MaxConnections caps concurrent connections; further clients wait in
	// the kernel's accept backlog. 0 means no cap. JSON max_connections,
	// --max-connections. Default 10000.
	MaxConnections int
	// MaxHandshakes caps TLS handshakes in progress. They do not count
	// against MaxConnections until they finish, so clients that connect
	// and stall cannot take the slots of real ones; at the cap the oldest
	// handshake in progress is cut (reason handshake_evicted), so a
	// newcomer always gets its turn. 0 means no cap. JSON max_handshakes,
	// --max-handshakes, QUANTUM_SAFE_PROXY_MAX_HANDSHAKES. Default 20000:
	// with 10000 connections (two descriptors each) that is 40000 of the
	// unit's LimitNOFILE=65536.
	MaxHandshakes int
	// UnsafeNoHandshakeTimeout allows HandshakeTimeout 0, which lets a
	// client that connects and sends nothing hold a socket forever; a
	// warning is logged at start. JSON unsafe_no_handshake_timeout,
	// --unsafe-no-handshake-timeout. Default false.
	UnsafeNoHandshakeTimeout bool
	// UnsafeTarget allows a backend that is not loopback or a unix socket:
	// the bytes then cross a network in the clear. JSON unsafe_target,
	// --unsafe-target. Default false.
	UnsafeTarget bool

	// Warnings are what the operator should know about the configuration
	// as loaded, though nothing in it is wrong: variables ignored without
	// --from-env, a client_cert_mode implied by ca_cert_path. The daemon
	// logs them at start and on every reload; check prints them.
	Warnings []string

	// file is the --config-file read, "" if none.
	file string

	// hybridMode is the Rust project's hybrid_mode when it was set; it is
	// folded into PQCMode by validation.
	hybridMode *bool
	// connectionTimeout is the Rust project's connection_timeout when it
	// was set; it is folded into DialTimeout by validation.
	connectionTimeout *time.Duration
}

// File returns the --config-file the configuration was read from, "" if
// none: check tells whether the service could read it too.
func (c *Config) File() string { return c.file }

// Default returns the defaults, those of the Rust project where it has one.
func Default() *Config {
	return &Config{
		// The Rust project's 0.0.0.0:8443 served IPv4 only; [::]:8443
		// serves IPv6 as well, and 0.0.0.0:8443 still works (and means the
		// same here).
		Listen:           "[::]:8443",
		Target:           "127.0.0.1:6000",
		ClientCertMode:   ClientCertNone,
		PQCMode:          PQCHybrid,
		LogLevel:         "info",
		LogFormat:        "text",
		HandshakeTimeout: 10 * time.Second,
		DialTimeout:      5 * time.Second,
		CloseTimeout:     60 * time.Second,
		DrainTimeout:     30 * time.Second,
		MaxConnections:   10000,
		MaxHandshakes:    20000,
	}
}
