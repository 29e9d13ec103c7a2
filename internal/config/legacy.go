package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// rustOptions are settings that released versions of the Rust Quantum
// Safe Proxy documented (in their --help, README, guide or example
// config.json) and this proxy does not list among its own. Each is
// mapped onto the setting that replaces it; or, if it changes nothing
// that is served, accepted with a warning that says so; or refused with a
// message that names what to use instead: never "unknown key", and never
// silently ignored. They are read from every source the Rust project read
// them from, and are left out of --help; README.md ("Migrating from the
// Rust Quantum Safe Proxy") lists them.
var rustOptions = []option{
	// connection_timeout bounded the Rust project's connect to the
	// backend (src/proxy/handler.rs, timeout around TcpStream::connect),
	// which is dial_timeout here.
	{key: "connection_timeout", flag: "connection-timeout", env: "CONNECTION_TIMEOUT",
		set: func(c *Config, v string) error {
			d, err := parseDuration(v)
			if err == nil {
				c.connectionTimeout = &d
			}
			return err
		}},
	// Settings that only tuned or located the Rust project's own
	// machinery are accepted, checked, and warned about at start: they
	// change nothing that is served, and its README's example
	// configuration sets two of them.
	{key: "buffer_size", flag: "buffer-size", env: "BUFFER_SIZE",
		set: noEffectIf(wholeNumber, "has no effect here: connections are copied through buffers the proxy sizes itself (64 KiB, 1 MiB while a transfer keeps a socket full); remove it")},
	{key: "openssl_dir", flag: "openssl-dir", env: "OPENSSL_DIR",
		set: noEffectIf(nil, "has no meaning here: TLS is Go's crypto/tls, no OpenSSL library is loaded; remove it")},
	{key: "use_sigalgs", flag: "use-sigalgs", env: "USE_SIGALGS",
		set: noEffectIf(func(v string) error { _, err := parseBool(v); return err }, chainOrder)},
	{key: "strategy", flag: "strategy", env: "STRATEGY",
		set: noEffectIf(func(v string) error { return oneOf(strings.ToLower(v), "single", "sigalgs", "dynamic") }, chainOrder)},
	// The Rust project's Docker entry script read this, not the proxy.
	{env: "CHECK_ENVIRONMENT",
		set: noEffectIf(nil, "was read by the Rust project's Docker entry script, not by the proxy; it has no effect here")},
	// Settings whose loss would change what is served are refused, with
	// what replaces them.
	{key: "classic_cert", flag: "classic-cert", env: "CLASSIC_CERT", set: refuse(secondCert)},
	{key: "classic_key", flag: "classic-key", env: "CLASSIC_KEY", set: refuse(secondCert)},
	{key: "fallback_cert", flag: "fallback-cert", env: "FALLBACK_CERT", set: refuse(secondCert)},
	{key: "fallback_key", flag: "fallback-key", env: "FALLBACK_KEY", set: refuse(secondCert)},
	{key: "traditional_cert", flag: "traditional-cert", env: "TRADITIONAL_CERT", set: refuse(secondCert)},
	{key: "traditional_key", flag: "traditional-key", env: "TRADITIONAL_KEY", set: refuse(secondCert)},
	{key: "hybrid_cert", flag: "hybrid-cert", env: "HYBRID_CERT", set: refuse(firstCert)},
	{key: "hybrid_key", flag: "hybrid-key", env: "HYBRID_KEY", set: refuse(firstCert)},
	{key: "pqc_only_cert", flag: "pqc-only-cert", env: "PQC_ONLY_CERT", set: refuse(firstCert)},
	{key: "pqc_only_key", flag: "pqc-only-key", env: "PQC_ONLY_KEY", set: refuse(firstCert)},
	// The last Rust versions named the first pair "cert" and "key" in
	// their JSON files; their flags were --cert and --key, as here.
	{key: "cert", set: refuse(`replaced by "cert_path" (and "key" by "key_path"), or a "certificates" list`)},
	{key: "key", set: refuse(`replaced by "key_path" (and "cert" by "cert_path"), or a "certificates" list`)},
	{key: "client_ca_cert", flag: "client-ca-cert", env: "CLIENT_CA_CERT", set: refuse(caCert)},
	{key: "client_ca_cert_path", env: "CLIENT_CA_CERT_PATH", set: refuse(caCert)},
	{env: "CONFIG_FILE", set: refuse("replaced by --config-file FILE")},
}

const (
	chainOrder = "has no effect here: each client always gets the first configured chain it can verify (by its signature_algorithms); list the chains in that order, ML-DSA first, and remove it"
	secondCert = "replaced by a second certificate pair: --cert PQ.crt --key PQ.key --cert CLASSIC.crt --key CLASSIC.key (in JSON, a \"certificates\" list), the classical chain after the ML-DSA one"
	firstCert  = "replaced by the first certificate pair: --cert FILE --key FILE (in JSON, cert_path and key_path, or the first entry of \"certificates\")"
	caCert     = "replaced by --ca-cert FILE (in JSON, ca_cert_path)"
)

// noEffect is what the setter of an accepted Rust option that changes
// nothing here returns; the loader makes it a warning, not a problem.
type noEffect string

func (n noEffect) Error() string { return string(n) }

// noEffectIf makes the setter of such an option: the value is checked
// as the Rust project checked it (a typo is still an error), then
// reported as having no effect.
func noEffectIf(check func(string) error, msg string) func(*Config, string) error {
	return func(_ *Config, v string) error {
		if check != nil {
			if err := check(v); err != nil {
				return err
			}
		}
		return noEffect(msg)
	}
}

func wholeNumber(v string) error {
	if n, err := strconv.Atoi(v); err != nil || n <= 0 {
		return fmt.Errorf("%q is not a whole number > 0", v)
	}
	return nil
}

// refuse makes the setter of a Rust option that has no place here.
func refuse(msg string) func(*Config, string) error {
	err := errors.New(msg)
	return func(*Config, string) error { return err }
}

func init() {
	for i := range rustOptions {
		rustOptions[i].rust = true
	}
}

// flagAliases are the Rust project's other names for flags this proxy has
// (clap's short -l and -t, and --config from its last versions).
var flagAliases = map[string]string{
	"l":      "listen",
	"t":      "target",
	"config": "config-file",
}

// foldConnectionTimeout maps the Rust project's connection_timeout onto
// dial_timeout, as hybrid_mode is mapped onto pqc_mode.
func (l *loader) foldConnectionTimeout() {
	ct := l.cfg.connectionTimeout
	if ct == nil {
		return
	}
	if _, explicit := l.src["dial_timeout"]; !explicit {
		l.cfg.DialTimeout = *ct
		l.mapFrom("dial_timeout", "connection_timeout")
		return
	}
	if *ct != l.cfg.DialTimeout {
		l.fail("%s and %s disagree (%v and %v); drop connection_timeout, dial_timeout replaces it",
			l.label("connection_timeout"), l.label("dial_timeout"), *ct, l.cfg.DialTimeout)
	}
}
