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

// Mode says which side of TLS the proxy is.
type Mode string

const (
	// ModeServer accepts TLS and forwards plain text to a backend on the host.
	ModeServer Mode = "server"
	// ModeClient accepts plain text from local clients and forwards it
	// over TLS to a remote server, so that a legacy client speaks
	// post-quantum TLS without a change.
	ModeClient Mode = "client"
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
	// Listen is the address to accept connections on when systemd passes
	// no socket: host:port, or unix:/path for a unix socket (made 0660; a
	// stale one left by a crash is replaced, anything else at the path is
	// an error). An unspecified host ([::], 0.0.0.0 or none) is every
	// address, IPv6 and IPv4, on one dual-stack socket (see package
	// listen). JSON listen, --listen, QUANTUM_SAFE_PROXY_LISTEN. Default
	// [::]:8443; in client mode 127.0.0.1:8443, and there it must be
	// loopback or a unix socket unless UnsafeListen.
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
	// classically; strict mode needs 1.3. In client mode it is the oldest
	// version accepted from the remote server. JSON min_tls_version,
	// --min-tls-version. Default 1.2 (1.3 in strict mode and in client
	// mode, where TLS 1.2 would give up post-quantum key exchange to a
	// server that can only do 1.2).
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
	// Mode is server (accept TLS, forward plain text to Target) or client
	// (accept plain text on Listen or a socket from systemd, forward it
	// over TLS 1.3 to the remote Target). In client mode Certificates are
	// the chains presented to the server (none is needed), CACertPath
	// holds the roots the server's certificate must chain to (required),
	// the allow rules and CRLs apply to the server's certificate, and
	// pqc_mode strict refuses a server that does not negotiate a hybrid
	// post-quantum group or does not authenticate with ML-DSA. JSON mode,
	// --mode, QUANTUM_SAFE_PROXY_MODE. Default server.
	Mode Mode
	// ServerName is, in client mode, the name sent as SNI and the name the
	// server's certificate must hold (a DNS name, or an IP address for an
	// IP SAN). JSON server_name, --server-name,
	// QUANTUM_SAFE_PROXY_SERVER_NAME. Default the host part of Target.
	ServerName string

	// The allow rules decide which peer certificates are admitted (the
	// client's in server mode, the server's in client mode), after the
	// chain is verified: a certificate that matches any rule of any list
	// is admitted; with every list empty, any certificate the CA vouches
	// for is. They are checked in the handshake, on resumed sessions too,
	// so a refused peer never reaches the backend; a refusal is logged
	// with the lists that refused and the identity seen. In server mode
	// they need client_cert_mode required (it is implied when a CA is
	// given with no mode). Lists: a JSON array, a repeated flag, or a
	// comma-separated variable.

	// AllowCN admits a certificate whose subject common name is one of
	// these, exactly. JSON allow_cn, --allow-cn, QUANTUM_SAFE_PROXY_ALLOW_CN.
	AllowCN []string
	// AllowOU admits a certificate with one of these among its subject's
	// organizational units, exactly. JSON allow_ou, --allow-ou,
	// QUANTUM_SAFE_PROXY_ALLOW_OU.
	AllowOU []string
	// AllowDNS admits a certificate with a matching DNS name among its
	// subject alternative names, compared without regard to case. A rule
	// *.example.com matches one whole label (a.example.com, not
	// a.b.example.com or example.com), and a certificate's wildcard name
	// *.example.com matches the rule a.example.com, as RFC 6125 section
	// 6.4.3 has it. JSON allow_dns, --allow-dns, QUANTUM_SAFE_PROXY_ALLOW_DNS.
	AllowDNS []string
	// AllowURI admits a certificate with a matching URI subject alternative
	// name, such as a SPIFFE ID: exactly, or, for a rule that ends in "/",
	// any URI that starts with it (spiffe://example.org/ns/prod/) and has
	// neither dot segments nor percent-encoding after it. JSON
	// allow_uri, --allow-uri, QUANTUM_SAFE_PROXY_ALLOW_URI.
	AllowURI []string
	// AllowSPKISHA256 admits a certificate whose public key, as DER
	// SubjectPublicKeyInfo, has one of these SHA-256 digests (hex, or
	// base64 as HPKP pins are written; see [ParseSPKIPin]). JSON
	// allow_spki_sha256, --allow-spki-sha256, QUANTUM_SAFE_PROXY_ALLOW_SPKI_SHA256.
	AllowSPKISHA256 []string
	// CRLFiles are certificate revocation lists (PEM or DER), each issued
	// by a CA in CACertPath, whose signature (ECDSA, RSA, Ed25519 or
	// ML-DSA) is checked when loaded. A peer certificate that a CRL of
	// its issuer lists is refused, on resumed sessions too. Reloaded with
	// SIGHUP and when the files change. JSON crl_files, --crl-file,
	// QUANTUM_SAFE_PROXY_CRL_FILES.
	CRLFiles []string
	// UnsafeAllowExpiredCRL keeps admitting peers while a CRL is past its
	// nextUpdate. Without it every peer certificate is then refused
	// (reason crl_expired) until a fresh CRL is loaded: a CRL that is no
	// longer kept up to date cannot show a revocation. JSON
	// unsafe_allow_expired_crl, --unsafe-allow-expired-crl. Default false.
	UnsafeAllowExpiredCRL bool
	// ProxyProtocol is, in server mode, none or v2: with v2 every backend
	// connection starts with a PROXY protocol version 2 header that tells
	// the backend who connected and how (addresses, SNI, TLS version,
	// cipher, client certificate, group, post-quantum or not;
	// README, "PROXY protocol"). JSON proxy_protocol, --proxy-protocol,
	// QUANTUM_SAFE_PROXY_PROXY_PROTOCOL. Default none.
	ProxyProtocol string
	// AdvertiseMLDSA, in client mode, lists ML-DSA among the signature
	// algorithms of the ClientHello. Some TLS-inspecting firewalls reset
	// ClientHellos that list them (go.dev/issue/81199); false leaves them
	// out, and then no ML-DSA server certificate can be accepted, so it
	// cannot be combined with pqc_mode strict. JSON advertise_mldsa,
	// --advertise-mldsa, QUANTUM_SAFE_PROXY_ADVERTISE_MLDSA. Default true.
	AdvertiseMLDSA bool

	// AdminListen is where the admin HTTP endpoint (/metrics, /healthz,
	// /readyz) listens: host:port or unix:/path; "" for none. A socket
	// systemd passes with FileDescriptorName=admin serves it instead. It
	// must be loopback or a unix socket unless UnsafeAdminListen: the
	// endpoint is plain HTTP without authentication. It changes only with
	// a restart. JSON admin_listen, --admin-listen,
	// QUANTUM_SAFE_PROXY_ADMIN_LISTEN. Default none.
	AdminListen string
	// UnsafeAdminListen allows an admin address (or an admin socket from
	// systemd) that is not loopback or a unix socket: anyone who reaches
	// it reads the metrics, which name the served certificates and the
	// traffic's volume. JSON unsafe_admin_listen, --unsafe-admin-listen.
	// Default false.
	UnsafeAdminListen bool

	// UnsafeTarget allows a backend that is not loopback or a unix socket:
	// the bytes then cross a network in the clear. JSON unsafe_target,
	// --unsafe-target. Default false.
	UnsafeTarget bool
	// UnsafeListen allows, in client mode, a listen address (or a socket
	// from systemd) that is not loopback or a unix socket: whoever reaches
	// it sends plain text that leaves over TLS with this proxy's client
	// certificates, as ghostunnel's --unsafe-listen allows. JSON
	// unsafe_listen, --unsafe-listen. Default false.
	UnsafeListen bool

	// Warnings are what the operator should know about the configuration
	// as loaded, though nothing in it is wrong: variables ignored without
	// --from-env, a client_cert_mode implied by ca_cert_path. The daemon
	// logs them at start and on every reload; check prints them.
	Warnings []string

	// file is the --config-file read, "" if none.
	file string
	// sources says where each setting came from, for --print-config.
	sources *sources

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
		Mode:             ModeServer,
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
		ProxyProtocol:    "none",
		AdvertiseMLDSA:   true,
	}
}
