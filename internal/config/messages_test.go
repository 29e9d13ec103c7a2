package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// loadCase is one run of Load: a config file (written to config.json in
// a fresh directory, which becomes the working directory), arguments and
// environment.
type loadCase struct {
	name string
	file string
	args []string
	env  []string
	want []string // every problem, in order; or every warning, when the load succeeds
}

func (tc loadCase) load(t *testing.T) (*Config, error) {
	t.Helper()
	args := tc.args
	if tc.file != "" {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tc.file), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		args = append([]string{"--config-file", "config.json"}, args...)
	}
	return Load(args, tc.env)
}

// checkProblems runs each case and compares every line of the error with
// what the operator should read, exactly: no line more (no follow-on
// error), no line less.
func checkProblems(t *testing.T, cases []loadCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.load(t)
			if err == nil {
				t.Fatalf("no error; want:\n%s", strings.Join(tc.want, "\n"))
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", err, strings.Join(tc.want, "\n"))
			}
		})
	}
}

// checkWarnings runs each case, which must load, and compares its
// warnings exactly.
func checkWarnings(t *testing.T, cases []loadCase) []*Config {
	t.Helper()
	var loaded []*Config
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.load(t)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !slices.Equal(c.Warnings, tc.want) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(c.Warnings, "\n"), strings.Join(tc.want, "\n"))
			}
			loaded = append(loaded, c)
		})
	}
	return loaded
}

// Flags: every unknown one at once, each with its suggestion, and boolean
// flags that take true or false as the Rust project's clap did.
func TestFlagMessages(t *testing.T) {
	checkProblems(t, []loadCase{
		{name: "every unknown flag", args: []string{"--listne", "0.0.0.0:1", "--frobnicate", "--client_cert_mode", "required", "--cert", "a", "--key", "b"},
			want: []string{
				`--listne: unknown flag; did you mean --listen?`,
				`--frobnicate: unknown flag; see quantum-safe-proxy --help`,
				`--client_cert_mode: unknown flag; did you mean --client-cert-mode?`,
			}},
		{name: "every stray argument", args: []string{"serve", "--cert", "a", "--key", "b", "now"},
			want: []string{
				`unexpected argument "serve"; settings are given as --name value`,
				`unexpected argument "now"; settings are given as --name value`,
			}},
		{name: "after --", args: []string{"--cert", "a", "--key", "b", "--", "--listen"},
			want: []string{`unexpected argument "--listen"; settings are given as --name value`}},
		{name: "a value forgotten", args: []string{"--cert", "--key", "b.key"},
			want: []string{`--cert: needs a value`}},
		{name: "a value before --", args: []string{"--cert", "a", "--key", "--"},
			want: []string{`--key: needs a value`}},
		{name: "a negative value of an unknown flag", args: []string{"--cert", "a", "--key", "b", "--bogus", "-5"},
			want: []string{`--bogus: unknown flag; see quantum-safe-proxy --help`}},
		{name: "a value missing at the end", args: []string{"--cert", "a", "--key"},
			want: []string{`--key: needs a value`}},
		{name: "boolean given a word", args: []string{"--hybrid-mode", "yes", "--cert", "a", "--key", "b"},
			want: []string{`--hybrid-mode: "yes" is not true or false`}},
		{name: "boolean given a bad value", args: []string{"--unsafe-target=maybe", "--cert", "a", "--key", "b"},
			want: []string{`--unsafe-target: "maybe" is not true or false`}},
		{name: "from-env given a bad value", args: []string{"--from-env=2", "--cert", "a", "--key", "b"},
			want: []string{`--from-env: "2" is not true or false`}},
	})
	// Booleans followed by true or false, as the Rust README writes them.
	c, err := Load([]string{"--cert", "a", "--key", "b", "--unsafe-target", "true", "--target", "10.0.0.1:80", "--strict-client-classical-issuer", "false", "--from-env", "false"},
		[]string{"QUANTUM_SAFE_PROXY_TARGET=127.0.0.1:1"})
	if err != nil || !c.UnsafeTarget || c.StrictClientClassicalIssuer || c.Target != "10.0.0.1:80" {
		t.Errorf("booleans with values: %+v, %v", c, err)
	}
	if _, err := Load([]string{"--frobnicate", "--help"}, nil); err != ErrHelp {
		t.Errorf("--help after an unknown flag: %v, want ErrHelp", err)
	}
}

// A problem that may hide the certificate (a file that does not parse, a
// misspelt or refused key, flag or variable) is not followed by "no
// certificate configured"; when that is the only problem, the advice fits
// where the configuration lives.
func TestNoFollowOnErrors(t *testing.T) {
	hostDir := t.TempDir()
	hostFile := filepath.Join(hostDir, "config.json")
	if err := os.WriteFile(hostFile, []byte(`{"target": "127.0.0.1:6000"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	defer func(d string) { hostConfigDir = d }(hostConfigDir)
	hostConfigDir = hostDir + "/"
	checkProblems(t, []loadCase{
		{name: "JSON that does not parse", file: "{\n\"listen\": ,\n}",
			want: []string{`config.json: line 2: invalid JSON: invalid character ',' looking for beginning of value`}},
		{name: "file that cannot be read", args: []string{"--config-file", "/nonexistent/config.json"},
			want: []string{`/nonexistent/config.json: cannot read the config file: no such file or directory`}},
		{name: "misspelt key_path", file: `{"cert_path": "a.crt", "kye_path": "a.key"}`,
			want: []string{`config.json: kye_path: unknown key; did you mean "key_path"?`}},
		{name: "misspelt cert_path", file: `{"cert_pth": "a.crt", "key_path": "a.key"}`,
			want: []string{`config.json: cert_pth: unknown key; did you mean "cert_path"?`}},
		{name: "misspelt key in a certificate", file: `{"certificates": [{"cert_path": "a.crt", "keypath": "a.key"}]}`,
			want: []string{`config.json: certificates[0]: keypath: unknown key; did you mean "key_path"?`}},
		{name: "misspelt CA key", file: `{"client_cert_mode": "required", "ca_cert_pth": "ca.crt"}`, args: good,
			want: []string{`config.json: ca_cert_pth: unknown key; did you mean "ca_cert_path"?`}},
		{name: "misspelt flag", args: []string{"--crt", "a.crt", "--key", "a.key"},
			want: []string{`--crt: unknown flag; did you mean --cert?`}},
		{name: "unknown variable", args: []string{"--from-env"}, env: []string{"QUANTUM_SAFE_PROXY_CRT=a.crt", "QUANTUM_SAFE_PROXY_KEY=a.key"},
			want: []string{
				`QUANTUM_SAFE_PROXY_CRT: unknown variable; see quantum-safe-proxy --help for the QUANTUM_SAFE_PROXY_* names`,
				`QUANTUM_SAFE_PROXY_CERT and QUANTUM_SAFE_PROXY_KEY: set both or neither`,
			}},
		{name: "a refused Rust key", file: `{"classic_cert": "a.crt", "classic_key": "a.key"}`,
			want: []string{
				`config.json: classic_cert: ` + secondCert,
				`config.json: classic_key: ` + secondCert,
			}},
		{name: "nothing at all", args: nil,
			want: []string{"no certificate configured: pass --cert FILE --key FILE (or cert_path and key_path in a --config-file); `quantum-safe-proxy certs init --dir DIR` makes a development PKI"}},
		{name: "a development file without certificates", file: `{"target": "127.0.0.1:6000"}`,
			want: []string{"no certificate configured: config.json sets neither cert_path and key_path nor certificates, and no --cert/--key was given; `quantum-safe-proxy certs init --dir DIR` makes a development PKI"}},
		{name: "a host's file without certificates", args: []string{"--config-file", hostFile},
			want: []string{"no certificate configured: " + hostFile + " sets neither cert_path and key_path nor certificates, and no --cert/--key was given"}},
		{name: "variables without --from-env", env: []string{"QUANTUM_SAFE_PROXY_KEY=a.key", "QUANTUM_SAFE_PROXY_CERT=a.crt", "QUANTUM_SAFE_PROXY_TARGET=127.0.0.1:1", "PATH=/bin"},
			want: []string{"no certificate configured: QUANTUM_SAFE_PROXY_CERT, QUANTUM_SAFE_PROXY_KEY, QUANTUM_SAFE_PROXY_TARGET are set but ignored: environment variables are read only with --from-env; add --from-env, or pass --cert FILE --key FILE"}},
	})
	// The certificate given otherwise, the variables are a warning.
	checkWarnings(t, []loadCase{
		{name: "one variable without --from-env", args: good, env: []string{"QUANTUM_SAFE_PROXY_TARGET=127.0.0.1:1"},
			want: []string{"QUANTUM_SAFE_PROXY_TARGET is set but ignored: environment variables are read only with --from-env"}},
		{name: "variables read", args: append([]string{"--from-env"}, good...), env: []string{"QUANTUM_SAFE_PROXY_TARGET=127.0.0.1:1"}},
	})
}

// --ca-cert without a mode means optional, as the Rust project's default
// was; it is warned about, never ignored.
func TestCAWithoutModeIsOptional(t *testing.T) {
	for _, c := range checkWarnings(t, []loadCase{
		{name: "flag", args: append([]string{"--ca-cert", "ca.crt"}, good...),
			want: []string{"--ca-cert is set and client_cert_mode is not: client certificates are verified when presented (optional), as in the Rust project; set client_cert_mode required to demand one, or none to ask for none"}},
		{name: "file", file: `{"ca_cert_path": "ca.crt"}`, args: good,
			want: []string{"config.json: ca_cert_path is set and client_cert_mode is not: client certificates are verified when presented (optional), as in the Rust project; set client_cert_mode required to demand one, or none to ask for none"}},
		{name: "variable", args: append([]string{"--from-env"}, good...), env: []string{"QUANTUM_SAFE_PROXY_CA_CERT=ca.crt"},
			want: []string{"QUANTUM_SAFE_PROXY_CA_CERT is set and client_cert_mode is not: client certificates are verified when presented (optional), as in the Rust project; set client_cert_mode required to demand one, or none to ask for none"}},
	}) {
		if c.ClientCertMode != ClientCertOptional {
			t.Errorf("client_cert_mode %s, want optional", c.ClientCertMode)
		}
	}
	// An explicit mode, none included, is kept and not warned about.
	for _, mode := range []ClientCertMode{ClientCertNone, ClientCertRequired, ClientCertOptional} {
		c, err := Load(append([]string{"--ca-cert", "ca.crt", "--client-cert-mode", string(mode)}, good...), nil)
		if err != nil || c.ClientCertMode != mode || len(c.Warnings) != 0 {
			t.Errorf("--client-cert-mode %s: %v, %v", mode, c, err)
		}
	}
}

// Every option of the Rust project's released versions that this proxy
// has no setting of its own for: refused with its replacement, accepted
// with a warning that it changes nothing, or mapped; from a flag, a
// variable (with --from-env) and the JSON file alike.
func TestRustOptions(t *testing.T) {
	type rustCase struct {
		key, flag, env, value string
		refused               bool
		msg                   string
	}
	const (
		buffers = "has no effect here: connections are copied through buffers the proxy sizes itself (64 KiB, 1 MiB while a transfer keeps a socket full); remove it"
		openssl = "has no meaning here: TLS is Go's crypto/tls, no OpenSSL library is loaded; remove it"
		order   = "has no effect here: each client always gets the first configured chain it can verify (by its signature_algorithms); list the chains in that order, ML-DSA first, and remove it"
		second  = `replaced by a second certificate pair: --cert PQ.crt --key PQ.key --cert CLASSIC.crt --key CLASSIC.key (in JSON, a "certificates" list), the classical chain after the ML-DSA one`
		first   = `replaced by the first certificate pair: --cert FILE --key FILE (in JSON, cert_path and key_path, or the first entry of "certificates")`
		ca      = "replaced by --ca-cert FILE (in JSON, ca_cert_path)"
	)
	cases := []rustCase{
		{"buffer_size", "buffer-size", "BUFFER_SIZE", "8192", false, buffers},
		{"openssl_dir", "openssl-dir", "OPENSSL_DIR", "/opt/openssl35", false, openssl},
		{"use_sigalgs", "use-sigalgs", "USE_SIGALGS", "true", false, order},
		{"strategy", "strategy", "STRATEGY", "dynamic", false, order},
		{"", "", "CHECK_ENVIRONMENT", "true", false, "was read by the Rust project's Docker entry script, not by the proxy; it has no effect here"},
		{"classic_cert", "classic-cert", "CLASSIC_CERT", "c.crt", true, second},
		{"classic_key", "classic-key", "CLASSIC_KEY", "c.key", true, second},
		{"fallback_cert", "fallback-cert", "FALLBACK_CERT", "c.crt", true, second},
		{"fallback_key", "fallback-key", "FALLBACK_KEY", "c.key", true, second},
		{"traditional_cert", "traditional-cert", "TRADITIONAL_CERT", "c.crt", true, second},
		{"traditional_key", "traditional-key", "TRADITIONAL_KEY", "c.key", true, second},
		{"hybrid_cert", "hybrid-cert", "HYBRID_CERT", "h.crt", true, first},
		{"hybrid_key", "hybrid-key", "HYBRID_KEY", "h.key", true, first},
		{"pqc_only_cert", "pqc-only-cert", "PQC_ONLY_CERT", "p.crt", true, first},
		{"pqc_only_key", "pqc-only-key", "PQC_ONLY_KEY", "p.key", true, first},
		{"cert", "", "", "s.crt", true, `replaced by "cert_path" (and "key" by "key_path"), or a "certificates" list`},
		{"key", "", "", "s.key", true, `replaced by "key_path" (and "cert" by "cert_path"), or a "certificates" list`},
		{"client_ca_cert", "client-ca-cert", "CLIENT_CA_CERT", "ca.crt", true, ca},
		{"client_ca_cert_path", "", "CLIENT_CA_CERT_PATH", "ca.crt", true, ca},
		{"", "", "CONFIG_FILE", "config.json", true, "replaced by --config-file FILE"},
	}
	// Every Rust option is covered here, and no more.
	if len(cases) != len(rustOptions)-1 { // connection_timeout, mapped, is below
		t.Errorf("%d cases for %d Rust options", len(cases), len(rustOptions)-1)
	}
	var refusals, warnings []loadCase
	for _, rc := range cases {
		var forms []loadCase
		if rc.flag != "" {
			forms = append(forms, loadCase{name: "--" + rc.flag, args: []string{"--" + rc.flag, rc.value}, want: []string{"--" + rc.flag + ": " + rc.msg}})
		}
		if rc.env != "" {
			forms = append(forms, loadCase{name: rc.env, args: []string{"--from-env"}, env: []string{EnvPrefix + rc.env + "=" + rc.value},
				want: []string{EnvPrefix + rc.env + ": " + rc.msg}})
		}
		if rc.key != "" {
			forms = append(forms, loadCase{name: "json " + rc.key, file: `{"` + rc.key + `": "` + rc.value + `"}`, want: []string{"config.json: " + rc.key + ": " + rc.msg}})
		}
		for _, f := range forms {
			if rc.refused {
				refusals = append(refusals, f)
			} else {
				f.args = append(f.args, good...)
				warnings = append(warnings, f)
			}
		}
	}
	checkProblems(t, refusals)
	checkWarnings(t, warnings)
	// A value the Rust project would have refused is still an error.
	checkProblems(t, []loadCase{
		{name: "bad buffer_size", file: `{"buffer_size": -1}`, args: good, want: []string{`config.json: buffer_size: "-1" is not a whole number > 0`}},
		{name: "bad strategy", args: append([]string{"--strategy", "random"}, good...), want: []string{`--strategy: "random" is not one of single, sigalgs, dynamic`}},
		{name: "bad connection_timeout", args: append([]string{"--connection-timeout", "soon"}, good...),
			want: []string{`--connection-timeout: "soon" is not a duration (write e.g. 10s, 2m, or a number of seconds)`}},
		{name: "connection_timeout and dial_timeout disagree", file: `{"connection_timeout": 30, "dial_timeout": "5s"}`, args: good,
			want: []string{`config.json: connection_timeout and config.json: dial_timeout disagree (30s and 5s); drop connection_timeout, dial_timeout replaces it`}},
	})
	// connection_timeout bounded the connect to the backend: dial_timeout.
	for _, tc := range []loadCase{
		{name: "flag", args: append([]string{"--connection-timeout", "30"}, good...)},
		{name: "variable", args: append([]string{"--from-env"}, good...), env: []string{"QUANTUM_SAFE_PROXY_CONNECTION_TIMEOUT=30"}},
		{name: "file", file: `{"connection_timeout": 30}`, args: good},
		{name: "both agree", file: `{"connection_timeout": 30, "dial_timeout": "30s"}`, args: good},
	} {
		c, err := tc.load(t)
		if err != nil || c.DialTimeout != 30*time.Second || len(c.Warnings) != 0 {
			t.Errorf("connection_timeout from %s: %v, %v", tc.name, c, err)
		}
	}
	// The Rust project's other flag names: -l, -t, --config, --environment.
	file := writeFile(t, "rust.json", `{"cert_path": "a.crt", "key_path": "a.key"}`)
	c, err := Load([]string{"-l", "0.0.0.0:9443", "-t", "127.0.0.1:7000", "--config", file, "--environment", "production"}, nil)
	if err != nil || c.Listen != "0.0.0.0:9443" || c.Target != "127.0.0.1:7000" || c.Certificates[0].CertPath != "a.crt" || c.Environment != "production" {
		t.Errorf("-l, -t, --config, --environment: %+v, %v", c, err)
	}
}

// Each example of the Rust project's README (github.com/JerryR7/quantum-safe-proxy,
// README.md "7. Usage", unchanged from April 2025 to its last version):
// the command line, the variables with --from-env, the example file, and
// the Docker command lines. Each loads with the meaning it had there.
func TestRustReadmeExamples(t *testing.T) {
	type example struct {
		name string
		loadCase
		check func(c *Config) bool
	}
	rustCA := "certs/hybrid/dilithium3/ca.crt"
	for _, ex := range []example{
		{name: "basic usage", loadCase: loadCase{args: strings.Fields("--listen 0.0.0.0:8443 --target 127.0.0.1:6000 --cert certs/hybrid/dilithium3/server.crt --key certs/hybrid/dilithium3/server.key --ca-cert certs/hybrid/dilithium3/ca.crt --client-cert-mode optional")},
			check: func(c *Config) bool {
				return c.Listen == "0.0.0.0:8443" && c.ClientCertMode == ClientCertOptional && c.CACertPath == rustCA &&
					c.Certificates[0].KeyPath == "certs/hybrid/dilithium3/server.key" && c.PQCMode == PQCHybrid
			}},
		{name: "environment variables", loadCase: loadCase{args: []string{"--from-env"}, env: []string{
			`QUANTUM_SAFE_PROXY_LISTEN=0.0.0.0:9443`,
			`QUANTUM_SAFE_PROXY_TARGET=127.0.0.1:7000`,
			`QUANTUM_SAFE_PROXY_CERT=certs/hybrid/dilithium3/server.crt`,
			`QUANTUM_SAFE_PROXY_KEY=certs/hybrid/dilithium3/server.key`,
			`QUANTUM_SAFE_PROXY_CA_CERT=certs/hybrid/dilithium3/ca.crt`,
			`QUANTUM_SAFE_PROXY_LOG_LEVEL=debug`,
			`QUANTUM_SAFE_PROXY_HYBRID_MODE=true`,
			`QUANTUM_SAFE_PROXY_CLIENT_CERT_MODE=optional`,
		}},
			check: func(c *Config) bool {
				return c.Listen == "0.0.0.0:9443" && c.Target == "127.0.0.1:7000" && c.LogLevel == "debug" &&
					c.PQCMode == PQCHybrid && c.ClientCertMode == ClientCertOptional && c.CACertPath == rustCA
			}},
		{name: "configuration file", loadCase: loadCase{file: `{
  "listen": "0.0.0.0:8443",
  "target": "127.0.0.1:6000",
  "cert_path": "certs/hybrid/ml-dsa-87/server.crt",
  "key_path": "certs/hybrid/ml-dsa-87/server.key",
  "ca_cert_path": "certs/hybrid/ml-dsa-87/ca.crt",
  "client_cert_mode": "optional",
  "log_level": "info",
  "buffer_size": 8192,
  "connection_timeout": 30,
  "openssl_dir": "/opt/openssl35"
}`, want: []string{
			"config.json: buffer_size: " + "has no effect here: connections are copied through buffers the proxy sizes itself (64 KiB, 1 MiB while a transfer keeps a socket full); remove it",
			"config.json: openssl_dir: " + "has no meaning here: TLS is Go's crypto/tls, no OpenSSL library is loaded; remove it",
		}},
			check: func(c *Config) bool {
				return c.DialTimeout == 30*time.Second && c.ClientCertMode == ClientCertOptional && c.Certificates[0].CertPath == "certs/hybrid/ml-dsa-87/server.crt"
			}},
		{name: "docker ML-DSA-87", loadCase: loadCase{args: strings.Fields("--listen 0.0.0.0:8443 --target 127.0.0.1:6000 --cert /app/certs/hybrid/ml-dsa-87/server.crt --key /app/certs/hybrid/ml-dsa-87/server.key --ca-cert /app/certs/hybrid/ml-dsa-87/ca.crt --client-cert-mode optional")},
			check: func(c *Config) bool { return c.ClientCertMode == ClientCertOptional }},
		{name: "docker ML-DSA-65", loadCase: loadCase{args: strings.Fields("--listen 0.0.0.0:8443 --target 127.0.0.1:6000 --cert /app/certs/hybrid/ml-dsa-65/server.crt --key /app/certs/hybrid/ml-dsa-65/server.key --ca-cert /app/certs/hybrid/ml-dsa-65/ca.crt --client-cert-mode optional")},
			check: func(c *Config) bool { return c.ClientCertMode == ClientCertOptional }},
		// Its --help of April 2025: --hybrid-mode as a clap boolean, and
		// the client CA without a mode (the default was optional).
		{name: "hybrid mode and CA alone", loadCase: loadCase{args: strings.Fields("--cert s.crt --key s.key --ca-cert ca.crt --hybrid-mode true --log-level debug"),
			want: []string{"--ca-cert is set and client_cert_mode is not: client certificates are verified when presented (optional), as in the Rust project; set client_cert_mode required to demand one, or none to ask for none"}},
			check: func(c *Config) bool { return c.ClientCertMode == ClientCertOptional && c.PQCMode == PQCHybrid }},
	} {
		t.Run(ex.name, func(t *testing.T) {
			c, err := ex.load(t)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !slices.Equal(c.Warnings, ex.want) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(c.Warnings, "\n"), strings.Join(ex.want, "\n"))
			}
			if !ex.check(c) {
				t.Errorf("loaded as %+v", c)
			}
		})
	}
}
