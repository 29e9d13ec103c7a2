package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Every option of the table is printed: by its list, or by a getter;
// hybrid_mode alone is folded into pqc_mode. A getter for a key the
// table no longer has is a leftover.
func TestGettersCoverOptions(t *testing.T) {
	keys := map[string]bool{}
	for _, o := range options {
		keys[o.key] = true
		_, has := getters[o.key]
		switch {
		case o.key == "hybrid_mode" && has:
			t.Errorf("hybrid_mode has a getter; it is printed as the source of pqc_mode")
		case o.key != "hybrid_mode" && o.list == nil && !has:
			t.Errorf("%s: no getter: --print-config would leave it out", o.key)
		case o.list != nil && has:
			t.Errorf("%s: a list option with a getter", o.key)
		}
	}
	for k := range getters {
		if !keys[k] {
			t.Errorf("getter for %s, which is not in the option table", k)
		}
	}
}

// roundTrip prints c as JSON, writes its "config" object to a file,
// loads that file alone (with the same environment) and returns what
// it loads to, and both printed configurations.
func roundTrip(t testing.TB, c *Config, environ []string) (*Config, []byte, []byte) {
	t.Helper()
	printed := printedConfig(t, c)
	p := filepath.Join(t.TempDir(), "printed.json")
	if err := os.WriteFile(p, printed, 0o600); err != nil {
		t.Fatal(err)
	}
	c2, err := Load([]string{"--config-file", p}, environ)
	if err != nil {
		t.Fatalf("the printed configuration does not load: %v\n%s", err, printed)
	}
	return c2, printed, printedConfig(t, c2)
}

// printedConfig returns the "config" object of PrintJSON's output.
func printedConfig(t testing.TB, c *Config) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := c.PrintJSON(&out); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Config  json.RawMessage
		Sources map[string]string
	}
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("PrintJSON: %v\n%s", err, out.String())
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(doc.Config, &keys); err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		if _, ok := doc.Sources[k]; !ok {
			t.Errorf("sources has no %s", k)
		}
	}
	if len(keys) != len(doc.Sources) {
		t.Errorf("config has %d keys, sources %d", len(keys), len(doc.Sources))
	}
	return doc.Config
}

// settingsOf is c's settings alone: what a load made of the sources,
// with where they came from, the warnings and the Rust options already
// folded into their replacements left out, and an empty list the same
// as none.
func settingsOf(c *Config) Config {
	s := *c
	s.Warnings, s.file, s.sources, s.hybridMode, s.connectionTimeout = nil, "", nil, nil, nil
	for _, l := range []*[]string{&s.AllowCN, &s.AllowOU, &s.AllowDNS, &s.AllowURI, &s.AllowSPKISHA256, &s.CRLFiles} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	s.Certificates = append([]CertPair(nil), s.Certificates...)
	for i := range s.Certificates {
		if len(s.Certificates[i].ServerNames) == 0 {
			s.Certificates[i].ServerNames = nil
		}
	}
	return s
}

// The JSON --print-config prints is a configuration file that loads to
// the same settings, whatever the sources were. The cases change every
// setting from its default, each to a value no other setting has, so a
// getter that reads the wrong field shows.
func TestPrintJSONRoundTrip(t *testing.T) {
	creds := []string{"CREDENTIALS_DIRECTORY=/run/credentials/qsp.service"}
	for _, tc := range []struct {
		name string
		file string
		args []string
		env  []string
	}{
		{name: "defaults", args: good},
		{name: "server, every setting", file: `{
			"listen": "127.0.0.1:1", "require_systemd_socket": true, "target": "10.0.0.1:80", "unsafe_target": true,
			"ca_cert_path": "ca.crt", "client_cert_mode": "required", "pqc_mode": "strict", "strict_client_classical_issuer": true,
			"min_tls_version": "1.3", "log_level": "warn", "log_format": "json", "environment": "prod, eu",
			"handshake_timeout": 2.5, "dial_timeout": "90s", "idle_timeout": "1h30m", "close_timeout": "7s", "drain_timeout": "8760h",
			"max_connections": 7, "max_handshakes": 0, "unsafe_no_handshake_timeout": true,
			"allow_cn": ["web", "Bob, Jr."], "allow_ou": "ops", "allow_dns": ["*.example.com"], "allow_uri": ["spiffe://example.org/ns/"],
			"allow_spki_sha256": ["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="], "crl_files": ["a.crl", "b.crl"], "unsafe_allow_expired_crl": true,
			"proxy_protocol": "v2", "admin_listen": "0.0.0.0:9090", "unsafe_admin_listen": true,
			"certificates": [{"cert_path": "pq.crt", "key_path": "pq.key", "server_names": ["pq.example.com"]}, {"cert_path": "ec.crt", "key_path": "ec.key", "server_names": []}]}`},
		{name: "client", args: []string{"--mode", "client", "--target", "pq.example.com:443", "--ca-cert", "roots.pem",
			"--server-name", "other.example.com", "--advertise-mldsa=false", "--listen", "0.0.0.0:7000", "--unsafe-listen",
			"--cert", "c.crt", "--key", "c.key", "--allow-dns", "pq.example.com"}},
		{name: "client, implied", args: []string{"--mode", "client", "--target", "pq.example.com:443", "--ca-cert", "roots.pem"}},
		{name: "Rust options and implied settings", file: `{"hybrid_mode": false, "connection_timeout": 3, "buffer_size": 8192,
			"ca_cert_path": "ca.crt", "log_level": "trace", "cert_path": "a.crt", "key_path": "a.key"}`, args: []string{"-t", "[::1]:6000"}},
		{name: "implied required", args: append([]string{"--ca-cert", "ca.crt", "--allow-cn", "web"}, good...)},
		{name: "environment and credentials", args: []string{"--from-env"}, env: append([]string{
			"QUANTUM_SAFE_PROXY_CERT=${CREDENTIALS_DIRECTORY}/tls.crt", "QUANTUM_SAFE_PROXY_KEY=${CREDENTIALS_DIRECTORY}/tls.key",
			"QUANTUM_SAFE_PROXY_CA_CERT=${CREDENTIALS_DIRECTORY}/ca.crt", "QUANTUM_SAFE_PROXY_CRL_FILES=/a.crl,${CREDENTIALS_DIRECTORY}/b.crl",
			"QUANTUM_SAFE_PROXY_ALLOW_OU=ops", "QUANTUM_SAFE_PROXY_CLIENT_CERT_MODE=required"}, creds...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadCase{file: tc.file, args: tc.args, env: tc.env}.load(t)
			if err != nil {
				t.Fatal(err)
			}
			c2, printed, printed2 := roundTrip(t, c, tc.env)
			if got, want := settingsOf(c2), settingsOf(c); !reflect.DeepEqual(got, want) {
				t.Errorf("loaded back:\n%+v\nwant:\n%+v\nprinted:\n%s", got, want, printed)
			}
			if !bytes.Equal(printed, printed2) {
				t.Errorf("printed again:\n%s\nfirst:\n%s", printed2, printed)
			}
		})
	}
}

// Where a value came from names the reason the loader acted on.
func TestPrintSources(t *testing.T) {
	for _, tc := range []struct {
		name      string
		file      string
		args, env []string
		key, want string
	}{
		{name: "default", args: good, key: "target", want: "default"},
		{name: "file", file: `{"target": "127.0.0.1:1", "cert_path": "a", "key_path": "b"}`, key: "target", want: "file config.json"},
		{name: "env over file", file: `{"target": "127.0.0.1:1", "cert_path": "a", "key_path": "b"}`, args: []string{"--from-env"},
			env: []string{"QUANTUM_SAFE_PROXY_TARGET=127.0.0.1:2"}, key: "target", want: "env QUANTUM_SAFE_PROXY_TARGET"},
		{name: "flag over env", args: append([]string{"--from-env", "-t", "127.0.0.1:3"}, good...),
			env: []string{"QUANTUM_SAFE_PROXY_TARGET=127.0.0.1:2"}, key: "target", want: "flag --target"},
		{name: "file certificates", file: `{"cert_path": "a", "key_path": "b"}`, key: "certificates", want: "file config.json"},
		{name: "flag certificates", args: good, key: "certificates", want: "flag --cert, --key"},
		{name: "env certificates", args: []string{"--from-env"}, env: []string{"QUANTUM_SAFE_PROXY_CERT=a", "QUANTUM_SAFE_PROXY_KEY=b"},
			key: "certificates", want: "env QUANTUM_SAFE_PROXY_CERT, QUANTUM_SAFE_PROXY_KEY"},
		{name: "optional implied", args: append([]string{"--ca-cert", "ca.crt"}, good...), key: "client_cert_mode", want: "implied by ca_cert_path"},
		{name: "required implied", args: append([]string{"--ca-cert", "ca.crt", "--allow-uri", "spiffe://a/", "--allow-cn", "x"}, good...),
			key: "client_cert_mode", want: "implied by ca_cert_path and allow_cn, allow_uri"},
		{name: "mode given", args: append([]string{"--ca-cert", "ca.crt", "--client-cert-mode", "optional"}, good...), key: "client_cert_mode", want: "flag --client-cert-mode"},
		{name: "strict implies 1.3", args: append([]string{"--pqc-mode", "strict"}, good...), key: "min_tls_version", want: "implied by pqc_mode strict"},
		{name: "hybrid_mode mapped", args: append([]string{"--hybrid-mode", "false"}, good...), key: "pqc_mode", want: "mapped from hybrid_mode (flag --hybrid-mode)"},
		{name: "hybrid_mode agrees", args: append([]string{"--hybrid-mode", "--pqc-mode", "strict"}, good...), key: "pqc_mode", want: "flag --pqc-mode"},
		{name: "connection_timeout mapped", args: []string{"--from-env"}, env: []string{"QUANTUM_SAFE_PROXY_CERT=a", "QUANTUM_SAFE_PROXY_KEY=b", "QUANTUM_SAFE_PROXY_CONNECTION_TIMEOUT=3"},
			key: "dial_timeout", want: "mapped from connection_timeout (env QUANTUM_SAFE_PROXY_CONNECTION_TIMEOUT)"},
		{name: "trace", args: append([]string{"--log-level", "TRACE"}, good...), key: "log_level", want: "flag --log-level; given as trace"},
		{name: "credentials", args: []string{"--cert", "a.crt", "--key", "${CREDENTIALS_DIRECTORY}/a.key", "--crl-file", "${CREDENTIALS_DIRECTORY}/2.crl",
			"--ca-cert", "ca.crt", "--crl-file", "1.crl", "--crl-file", "${CREDENTIALS_DIRECTORY}/3.crl", "--client-cert-mode", "required"},
			env: []string{"CREDENTIALS_DIRECTORY=/run/c"}, key: "crl_files",
			want: "flag --crl-file; crl_files[0] given as ${CREDENTIALS_DIRECTORY}/2.crl; crl_files[2] given as ${CREDENTIALS_DIRECTORY}/3.crl"},
		{name: "client listen", args: []string{"--mode", "client", "--target", "a.example:443", "--ca-cert", "r.pem"}, key: "listen", want: "implied by mode client"},
		{name: "client server_name", args: []string{"--mode", "client", "--target", "a.example:443", "--ca-cert", "r.pem"}, key: "server_name", want: "implied by target"},
		{name: "client 1.3", args: []string{"--mode", "client", "--target", "a.example:443", "--ca-cert", "r.pem"}, key: "min_tls_version", want: "implied by mode client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadCase{file: tc.file, args: tc.args, env: tc.env}.load(t)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.sourceOf(tc.key); got != tc.want {
				t.Errorf("%s: source %q, want %q", tc.key, got, tc.want)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	for in, want := range map[string]string{"0": "0s", "10": "10s", "60": "1m", "600": "10m", "3600": "1h", "5400": "1h30m",
		"3610": "1h0m10s", "2.5": "2.5s", "0.001": "1ms", "8760h": "8760h", "100": "1m40s"} {
		d, err := parseDuration(in)
		if err != nil {
			t.Fatal(err)
		}
		got := formatDuration(d)
		if got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
		if back, err := parseDuration(got); err != nil || back != d {
			t.Errorf("%q reads back as %v, %v; want %v", got, back, err, d)
		}
	}
}

// A value JSON cannot hold is refused, not printed as another.
func TestPrintJSONRefusesNonUTF8(t *testing.T) {
	c, err := Load([]string{"--cert", "a\xff.crt", "--key", "a.key"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = c.PrintJSON(&out)
	want := `certificates: "a\xff.crt" is not UTF-8, which a JSON configuration file cannot hold; print it without --json`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	out.Reset()
	if err := c.PrintText(&out); err != nil || !strings.Contains(out.String(), `"a\xff.crt"`) {
		t.Errorf("text: %v\n%s", err, out.String())
	}
}
