package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var good = []string{"--cert", "s.crt", "--key", "s.key"}

func TestDefaults(t *testing.T) {
	c, err := Load(good, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "[::]:8443" || c.Target != "127.0.0.1:6000" || c.PQCMode != PQCHybrid ||
		c.ClientCertMode != ClientCertNone || c.HandshakeTimeout != 10*time.Second || c.MinTLSVersion != "1.2" {
		t.Errorf("unexpected defaults: %+v", c)
	}
}

// Precedence: defaults < file < environment < flags.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, "config.json", `{
		"listen": "127.0.0.1:1111", "target": "127.0.0.1:2222", "log_level": "debug",
		"cert_path": "file.crt", "key_path": "file.key", "handshake_timeout": 3,
		"certificates": [{"cert_path": "b.crt", "key_path": "b.key", "server_names": ["b.example"]}]
	}`)
	env := []string{"QUANTUM_SAFE_PROXY_TARGET=127.0.0.1:3333", "QUANTUM_SAFE_PROXY_LOG_LEVEL=warn", "PATH=/bin"}
	c, err := Load([]string{"--config-file", file, "--from-env", "--log-level", "error"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:1111" || c.Target != "127.0.0.1:3333" || c.LogLevel != "error" || c.HandshakeTimeout != 3*time.Second {
		t.Errorf("got listen %s target %s log %s hs %v", c.Listen, c.Target, c.LogLevel, c.HandshakeTimeout)
	}
	want := []CertPair{{CertPath: "file.crt", KeyPath: "file.key"}, {CertPath: "b.crt", KeyPath: "b.key", ServerNames: []string{"b.example"}}}
	if !reflect.DeepEqual(c.Certificates, want) {
		t.Errorf("certificates = %+v", c.Certificates)
	}
	// Environment is ignored without --from-env.
	c, err = Load([]string{"--config-file", file}, env)
	if err != nil || c.Target != "127.0.0.1:2222" {
		t.Errorf("without --from-env: target %v, err %v", c, err)
	}
	// Flags replace the certificate list as a whole.
	c, _ = Load([]string{"--config-file", file, "--cert", "x.crt", "--key", "x.key", "--cert", "y.crt", "--key", "y.key"}, nil)
	if len(c.Certificates) != 2 || c.Certificates[1].CertPath != "y.crt" {
		t.Errorf("flags: %+v", c.Certificates)
	}
}

func TestHybridModeMapping(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want PQCMode
	}{
		{[]string{"--hybrid-mode"}, PQCHybrid},
		{[]string{"--hybrid-mode=false"}, PQCClassical},
		{[]string{"--hybrid-mode=true", "--pqc-mode", "strict"}, PQCStrict},
		// As with the Rust project's clap: a boolean flag takes true or
		// false as the next argument, or stands alone for true.
		{[]string{"--hybrid-mode", "true"}, PQCHybrid},
		{[]string{"--hybrid-mode", "false"}, PQCClassical},
		{[]string{"--hybrid-mode", "FALSE"}, PQCClassical},
		{[]string{"--hybrid-mode", "--log-level", "debug"}, PQCHybrid},
		{[]string{"-hybrid-mode", "false"}, PQCClassical},
	} {
		c, err := Load(append(tc.args, good...), nil)
		if err != nil || c.PQCMode != tc.want {
			t.Errorf("%v: %v %v, want %s", tc.args, c, err, tc.want)
		}
	}
	c, _ := Load(append([]string{"--pqc-mode", "strict"}, good...), nil)
	if c.MinTLSVersion != "1.3" {
		t.Errorf("strict: min TLS %s, want 1.3", c.MinTLSVersion)
	}
}

// Both address families are accepted for listen and for a loopback
// target, with the Rust project's 0.0.0.0:8443 as before.
func TestAddressForms(t *testing.T) {
	for _, listen := range []string{"[::]:8443", "0.0.0.0:8443", ":8443", "[::1]:8443", "127.0.0.1:8443"} {
		if c, err := Load(append([]string{"--listen", listen}, good...), nil); err != nil || c.Listen != listen {
			t.Errorf("--listen %s: %v", listen, err)
		}
	}
	for _, target := range []string{"[::1]:6000", "127.0.0.1:6000", "[::ffff:127.0.0.1]:6000", "localhost:6000"} {
		if c, err := Load(append([]string{"--target", target}, good...), nil); err != nil || c.Target != target {
			t.Errorf("--target %s: %v", target, err)
		}
	}
}

// Every case starts from a good configuration and breaks one thing; the
// message is what the operator reads.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string // JSON, written to config.json when set
		args []string
		env  []string
		want string
	}{
		{name: "typo in client_cert_mode", file: `{"client_cert_mode": "requierd", "ca_cert_path": "ca.crt"}`,
			want: `config.json: client_cert_mode: "requierd" is not one of required, optional, none`},
		{name: "unknown key", file: `{"targt": "127.0.0.1:1"}`, want: `config.json: targt: unknown key; did you mean "target"?`},
		{name: "bad JSON", file: "{\n\"listen\": ,\n}", want: `config.json: line 2: invalid JSON: invalid character ',' looking for beginning of value`},
		{name: "wrong type", file: `{"listen": ["a"]}`, want: `config.json: listen: must be a string, number or boolean, not ["a"]`},
		{name: "half a pair", file: `{"cert_path": "a.crt"}`, want: `config.json: cert_path is set but key_path is not; add "key_path"`},
		{name: "bad duration", args: []string{"--handshake-timeout", "soon"}, want: `--handshake-timeout: "soon" is not a duration (write e.g. 10s, 2m, or a number of seconds)`},
		{name: "no handshake deadline", args: []string{"--handshake-timeout", "0"},
			want: `--handshake-timeout: 0 removes the handshake deadline, so a client that connects and stalls holds its socket forever; set a duration such as 10s, or set unsafe_no_handshake_timeout (--unsafe-no-handshake-timeout) if you mean it`},
		{name: "no handshake deadline in file", file: `{"handshake_timeout": 0}`,
			want: `config.json: handshake_timeout: 0 removes the handshake deadline, so a client that connects and stalls holds its socket forever; set a duration such as 10s, or set unsafe_no_handshake_timeout (--unsafe-no-handshake-timeout) if you mean it`},
		{name: "bad max_handshakes", args: []string{"--max-handshakes", "-1"}, want: `--max-handshakes: "-1" is not a whole number >= 0`},
		{name: "unknown flag", args: []string{"--listne", "x"}, want: `--listne: unknown flag; did you mean --listen?`},
		{name: "unknown flag, nothing close", args: []string{"--frobnicate"}, want: `--frobnicate: unknown flag; see quantum-safe-proxy --help`},
		{name: "unpaired flags", args: []string{"--cert", "b.crt"}, want: `--cert/--key: 2 certificates and 1 key; give them in pairs, --cert A --key A.key --cert B --key B.key`},
		{name: "remote target", args: []string{"--target", "10.0.0.5:80"},
			want: `--target: "10.0.0.5:80" is not on this host: plain text would cross the network; use a loopback address or unix socket, or set unsafe_target (--unsafe-target) if you mean it`},
		{name: "remote IPv6 target", args: []string{"--target", "[2001:db8::5]:80"},
			want: `--target: "[2001:db8::5]:80" is not on this host: plain text would cross the network; use a loopback address or unix socket, or set unsafe_target (--unsafe-target) if you mean it`},
		{name: "IPv6 target without brackets", args: []string{"--target", "::1:6000"},
			want: `--target: "::1:6000" is neither host:port nor unix:/path; an IPv6 address goes in brackets, e.g. [::1]:6000`},
		{name: "IPv6 listen without brackets", args: []string{"--listen", "::8443"},
			want: `--listen: "::8443" is neither host:port (e.g. [::]:8443 or 127.0.0.1:8443) nor unix:/path`},
		{name: "relative unix", args: []string{"--target", "unix:app.sock"}, want: `--target: "unix:app.sock": a unix socket target needs an absolute path, e.g. unix:/run/app.sock`},
		{name: "mode without CA", args: []string{"--client-cert-mode", "required"},
			want: `--client-cert-mode: "required" needs the roots to check client certificates against; set --ca-cert FILE (ca_cert_path) or client_cert_mode none`},
		{name: "strict with TLS 1.2", args: []string{"--pqc-mode", "strict", "--min-tls-version", "1.2"},
			want: `--min-tls-version: 1.2 cannot be used with pqc_mode strict: TLS 1.2 has no post-quantum key exchange; use 1.3`},
		{name: "hybrid_mode disagrees", args: []string{"--hybrid-mode=false", "--pqc-mode", "strict"},
			want: `--hybrid-mode and --pqc-mode disagree: hybrid_mode false means pqc_mode classical; drop hybrid_mode, pqc_mode replaces it`},
		{name: "unknown env", args: []string{"--from-env"}, env: []string{"QUANTUM_SAFE_PROXY_TARGTE=x"},
			want: `QUANTUM_SAFE_PROXY_TARGTE: unknown variable; see quantum-safe-proxy --help for the QUANTUM_SAFE_PROXY_* names`},
		{name: "bad env value", args: []string{"--from-env"}, env: []string{"QUANTUM_SAFE_PROXY_PQC_MODE=pq"},
			want: `QUANTUM_SAFE_PROXY_PQC_MODE: "pq" is not one of hybrid, strict, classical`},
		{name: "stray argument", args: []string{"serve"}, want: `unexpected argument "serve"; settings are given as --name value`},
		{name: "duplicate key", file: "{\n\"target\": \"127.0.0.1:1\",\n\"target\": \"127.0.0.1:2\"\n}",
			want: `config.json: line 3: target: duplicate key (first at line 2); keep one`},
		{name: "duplicate key in a certificate", file: "{\"certificates\": [{\"cert_path\": \"a.crt\", \"key_path\": \"a.key\"},\n {\"cert_path\": \"b.crt\",\n  \"key_path\": \"b.key\", \"key_path\": \"c.key\"}]}",
			want: `config.json: line 3: certificates[1].key_path: duplicate key (first at line 3); keep one`},
		{name: "key case in a certificate", file: `{"certificates": [{"Cert_Path": "a.crt", "key_path": "a.key"}]}`,
			want: `config.json: certificates[0]: Cert_Path: unknown key; did you mean "cert_path"?`},
		{name: "unknown key in a certificate", file: `{"certificates": [{"cert_path": "a.crt", "key_path": "a.key", "server_name": ["a"]}]}`,
			want: `config.json: certificates[0]: server_name: unknown key; did you mean "server_names"?`},
		{name: "key case at the top", file: `{"TARGET": "127.0.0.1:1"}`, want: `config.json: TARGET: unknown key; did you mean "target"?`},
		{name: "certificates not a list", file: `{"certificates": {"cert_path": "a.crt"}}`,
			want: `config.json: certificates: must be a list such as [{"cert_path": "a.crt", "key_path": "a.key"}], not {"cert_path": "a.crt"}`},
		{name: "null setting", file: `{"target": null}`, want: `config.json: target: must be a string, number or boolean, not null`},
		{name: "infinite seconds", args: []string{"--handshake-timeout", "inf"},
			want: `--handshake-timeout: "inf" is longer than a year (8760h), the most a duration may be; write e.g. 10s or 24h`},
		{name: "unit without number", args: []string{"--dial-timeout", "h"},
			want: `--dial-timeout: "h" is not a duration (write e.g. 10s, 2m, or a number of seconds)`},
		{name: "NaN seconds", args: []string{"--dial-timeout", "NaN"},
			want: `--dial-timeout: "NaN" is not a duration (write e.g. 10s, 2m, or a number of seconds)`},
		{name: "huge seconds in the file", file: `{"handshake_timeout": 1e300}`,
			want: `config.json: handshake_timeout: "1e300" is longer than a year (8760h), the most a duration may be; write e.g. 10s or 24h`},
		{name: "seconds beyond float64", file: `{"idle_timeout": 1e400}`,
			want: `config.json: idle_timeout: "1e400" is longer than a year (8760h), the most a duration may be; write e.g. 10s or 24h`},
		{name: "seconds that overflow nanoseconds", args: []string{"--close-timeout", "9223372037"},
			want: `--close-timeout: "9223372037" is longer than a year (8760h), the most a duration may be; write e.g. 10s or 24h`},
		{name: "hours that overflow nanoseconds", args: []string{"--drain-timeout", "9999999h"},
			want: `--drain-timeout: "9999999h" is longer than a year (8760h), the most a duration may be; write e.g. 10s or 24h`},
		{name: "just over a year", args: []string{"--idle-timeout", "8761h"},
			want: `--idle-timeout: "8761h" is longer than a year (8760h), the most a duration may be; write e.g. 10s or 24h`},
		{name: "negative duration", args: []string{"--handshake-timeout", "-1s"},
			want: `--handshake-timeout: "-1s" is negative; a duration is 0 or more, e.g. 10s`},
		{name: "negative seconds", file: `{"close_timeout": -5}`,
			want: `config.json: close_timeout: "-5" is negative; a duration is 0 or more, e.g. 10s`},
		{name: "negative overflow", args: []string{"--dial-timeout", "-9999999h"},
			want: `--dial-timeout: "-9999999h" is negative; a duration is 0 or more, e.g. 10s`},
		{name: "infinite env duration", args: []string{"--from-env"}, env: []string{"QUANTUM_SAFE_PROXY_DRAIN_TIMEOUT=+Inf"},
			want: `QUANTUM_SAFE_PROXY_DRAIN_TIMEOUT: "+Inf" is longer than a year (8760h), the most a duration may be; write e.g. 10s or 24h`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{}, good...)
			if tc.file != "" {
				dir := t.TempDir()
				p := filepath.Join(dir, "config.json")
				os.WriteFile(p, []byte(tc.file), 0o600)
				t.Chdir(dir)
				args = append(args, "--config-file", "config.json")
			}
			_, err := Load(append(args, tc.args...), tc.env)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got %s\nwant %s", err, tc.want)
			}
		})
	}
}

// All problems are reported at once, one per line, each in full.
func TestEveryProblemAtOnce(t *testing.T) {
	_, err := Load([]string{"--pqc-mode", "pq", "--log-level", "loud", "--target", "example.com:80", "--handshake-timeout", "-1"}, nil)
	want := []string{
		`--pqc-mode: "pq" is not one of hybrid, strict, classical`,
		`--log-level: "loud" is not one of error, warn, info, debug, trace`,
		`--handshake-timeout: "-1" is negative; a duration is 0 or more, e.g. 10s`,
		`--target: "example.com:80" is not on this host: plain text would cross the network; use a loopback address or unix socket, or set unsafe_target (--unsafe-target) if you mean it`,
		"no certificate configured: pass --cert FILE --key FILE (or cert_path and key_path in a --config-file); `quantum-safe-proxy certs init --dir DIR` makes a development PKI",
	}
	if err == nil {
		t.Fatal("no error")
	}
	got := strings.Split(err.Error(), "\n")
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCredentialsDirectoryInPaths(t *testing.T) {
	args := []string{"--cert", "${CREDENTIALS_DIRECTORY}/tls.crt", "--key", "${CREDENTIALS_DIRECTORY}/tls.key"}
	c, err := Load(args, []string{"CREDENTIALS_DIRECTORY=/run/credentials/qsp.service"})
	if err != nil || c.Certificates[0].KeyPath != "/run/credentials/qsp.service/tls.key" {
		t.Fatalf("%v, %v", c, err)
	}
	_, err = Load(args, nil)
	want := "--cert[0].cert_path: ${CREDENTIALS_DIRECTORY} is not set; systemd sets it for units with LoadCredential=\n" +
		"--cert[0].key_path: ${CREDENTIALS_DIRECTORY} is not set; systemd sets it for units with LoadCredential="
	if err == nil || err.Error() != want {
		t.Errorf("unset: %v", err)
	}
}

// The bounds themselves are accepted: 0, fractions of a second, a year.
func TestDurationBounds(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"0": 0, "1.5": 1500 * time.Millisecond, "250ms": 250 * time.Millisecond,
		"8760h": 8760 * time.Hour, "31536000": 8760 * time.Hour,
	} {
		c, err := Load(append([]string{"--idle-timeout", v}, good...), nil)
		if err != nil || c.IdleTimeout != want {
			t.Errorf("--idle-timeout %s: %v, %v; want %v", v, c, err, want)
		}
	}
}

// A handshake without deadline is allowed only with the option that says
// it is unsafe; max_handshakes comes from each source.
func TestHandshakeLimits(t *testing.T) {
	c, err := Load([]string{"--cert", "a.crt", "--key", "a.key", "--handshake-timeout", "0", "--unsafe-no-handshake-timeout"}, nil)
	if err != nil || c.HandshakeTimeout != 0 || !c.UnsafeNoHandshakeTimeout {
		t.Fatalf("unsafe_no_handshake_timeout: %v, %+v", err, c)
	}
	if c.MaxHandshakes != 20000 {
		t.Errorf("default max_handshakes %d, want 20000", c.MaxHandshakes)
	}
	c, err = Load([]string{"--cert", "a.crt", "--key", "a.key", "--from-env"}, []string{"QUANTUM_SAFE_PROXY_MAX_HANDSHAKES=7"})
	if err != nil || c.MaxHandshakes != 7 {
		t.Fatalf("QUANTUM_SAFE_PROXY_MAX_HANDSHAKES=7: %v, %d", err, c.MaxHandshakes)
	}
}

// A failed load still reports log_format and log_level as far as they
// could be read and are valid, for a process that logs while it waits for
// a valid configuration.
func TestErrorCarriesLogSettings(t *testing.T) {
	broken := writeFile(t, "config.json", `{"log_level": "warn", "cert_path": `)
	for _, tc := range []struct {
		name                string
		args, env           []string
		wantFormat, wantLvl string
	}{
		{"flags", []string{"--config-file", broken, "--log-format", "json", "--log-level", "DEBUG"}, nil, "json", "debug"},
		{"environment", []string{"--config-file", broken, "--from-env"}, []string{EnvPrefix + "LOG_FORMAT=json", EnvPrefix + "LOG_LEVEL=error"}, "json", "error"},
		{"environment ignored", []string{"--config-file", broken}, []string{EnvPrefix + "LOG_FORMAT=json"}, "text", "info"},
		{"invalid", []string{"--config-file", broken, "--log-format", "xml", "--log-level", "loud"}, nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.args, tc.env)
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("Load: %v, want an *Error", err)
			}
			if e.LogFormat != tc.wantFormat || e.LogLevel != tc.wantLvl {
				t.Errorf("log_format %q, log_level %q; want %q, %q", e.LogFormat, e.LogLevel, tc.wantFormat, tc.wantLvl)
			}
		})
	}
}
