package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runIn runs the command in a new working directory holding config.json
// (when file is set), so that the paths it prints are the same on every
// machine.
func runIn(t *testing.T, file string, args, environ []string) (stdout, stderr string, code int) {
	t.Helper()
	t.Chdir(t.TempDir())
	if file != "" {
		if err := os.WriteFile("config.json", []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, environ, &out, &errOut)
	code = exitCode(err, &errOut)
	return out.String(), errOut.String(), code
}

// The output of --print-config is compared with golden transcripts: the
// file, environment and command, then the exit status, stdout and stderr.
// Each case sets some settings from several sources, so that each kind of
// source shows.
func TestPrintConfigGolden(t *testing.T) {
	goldens, err := filepath.Abs(filepath.Join("testdata", "print-config")) // before runIn changes directory
	if err != nil {
		t.Fatal(err)
	}
	precedence := `{
  "target": "127.0.0.1:7001",
  "log_level": "warn",
  "listen": "127.0.0.1:8001",
  "cert_path": "/etc/quantum-safe-proxy/server.crt",
  "key_path": "/etc/quantum-safe-proxy/server.key",
  "allow_cn": ["web", "Bob, Jr."],
  "ca_cert_path": "${CREDENTIALS_DIRECTORY}/clients-ca.crt"
}
`
	precedenceEnv := []string{"QUANTUM_SAFE_PROXY_TARGET=127.0.0.1:7002", "QUANTUM_SAFE_PROXY_LOG_LEVEL=debug",
		"QUANTUM_SAFE_PROXY_DRAIN_TIMEOUT=5m", "CREDENTIALS_DIRECTORY=/run/credentials/quantum-safe-proxy.service"}
	precedenceArgs := []string{"--config-file", "config.json", "--from-env", "--target", "127.0.0.1:7003"}
	for _, tc := range []struct {
		name string
		file string
		env  []string
		args []string
	}{
		{name: "defaults", args: []string{"--print-config", "--cert", "server.crt", "--key", "server.key"}},
		{name: "precedence", file: precedence, env: precedenceEnv, args: append([]string{"--print-config"}, precedenceArgs...)},
		{name: "precedence-json", file: precedence, env: precedenceEnv, args: append([]string{"--print-config", "--json"}, precedenceArgs...)},
		{name: "rust", file: `{"hybrid_mode": false, "connection_timeout": 3, "buffer_size": 8192, "cert_path": "hybrid.crt", "key_path": "hybrid.key"}` + "\n",
			args: []string{"--print-config", "--config", "config.json", "-l", "0.0.0.0:8443", "-t", "127.0.0.1:6000", "--log-level", "trace"}},
		{name: "client", args: []string{"--print-config", "--mode", "client", "--target", "pq.example.com:443",
			"--ca-cert", "/etc/ssl/certs/ca-certificates.crt", "--pqc-mode", "strict", "--cert", "app.crt", "--key", "app.key"}},
		{name: "client-json", args: []string{"--print-config", "--json", "--mode", "client", "--target", "pq.example.com:443",
			"--ca-cert", "/etc/ssl/certs/ca-certificates.crt"}},
		{name: "problems", file: `{"target": "10.0.0.5:80", "cert_path": "a.crt", "key_path": "a.key"}` + "\n",
			env: []string{"QUANTUM_SAFE_PROXY_LISTEN=[::]:9443"}, args: []string{"--print-config", "--config-file", "config.json", "--pqc-mode", "pq"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runIn(t, tc.file, tc.args, tc.env)
			var b strings.Builder
			if tc.file != "" {
				fmt.Fprintf(&b, "-- config.json --\n%s", tc.file)
			}
			for _, e := range tc.env {
				fmt.Fprintf(&b, "$ export %s\n", e)
			}
			fmt.Fprintf(&b, "$ quantum-safe-proxy %s\nexit %d\n-- stdout --\n%s-- stderr --\n%s", strings.Join(tc.args, " "), code, stdout, stderr)
			compareGolden(t, filepath.Join(goldens, tc.name+".golden"), b.String())
		})
	}
}

// compareGolden compares got with the golden file at path, or rewrites
// the file with -update.
func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; %s", err, goldenHint)
	}
	if got != string(want) {
		t.Errorf("%s differs from the output:\n%s\n%s", path, lineDiff(string(want), got), goldenHint)
	}
}

// printed is the output of --print-config --json.
type printed struct {
	Config  json.RawMessage   `json:"config"`
	Sources map[string]string `json:"sources"`
}

// What --print-config --json prints is a configuration file an operator
// can move to: saved and given as --config-file alone, it prints the same
// settings, now all from the file (or their defaults, or implied).
func TestPrintConfigJSONLoadsBack(t *testing.T) {
	env := []string{"QUANTUM_SAFE_PROXY_CERT=${CREDENTIALS_DIRECTORY}/tls.crt", "QUANTUM_SAFE_PROXY_KEY=${CREDENTIALS_DIRECTORY}/tls.key",
		"QUANTUM_SAFE_PROXY_HYBRID_MODE=false", "QUANTUM_SAFE_PROXY_ALLOW_OU=ops,dev",
		"CREDENTIALS_DIRECTORY=/run/credentials/qsp.service"}
	args := []string{"--print-config", "--json", "--from-env", "--ca-cert", "ca.crt", "--connection-timeout", "7",
		"--idle-timeout", "90", "--crl-file", "a.crl", "--admin-listen", "unix:/run/qsp/admin.sock"}
	stdout, stderr, code := runIn(t, "", args, env)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var first printed
	if err := json.Unmarshal([]byte(stdout), &first); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if err := os.WriteFile("migrated.json", first.Config, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"--print-config", "--json", "--config-file", "migrated.json"}, env[len(env)-1:], &out, &errOut)
	if code := exitCode(err, &errOut); code != 0 {
		t.Fatalf("the printed configuration: exit %d: %s\n%s", code, errOut.String(), first.Config)
	}
	var second printed
	if err := json.Unmarshal(out.Bytes(), &second); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Config, second.Config) {
		t.Errorf("loaded back, it prints:\n%s\nfirst:\n%s", second.Config, first.Config)
	}
	for k, s := range second.Sources {
		if s != "file migrated.json" && s != "default" && !strings.HasPrefix(s, "implied by ") {
			t.Errorf("%s: source %q after the move to a file", k, s)
		}
	}
	if errOut.Len() != 0 {
		t.Errorf("warnings after the move to a file: %s", errOut.String())
	}
}

// --print-config prints paths and never what a key file holds: it reads
// no key or certificate (they may not exist), and opens no socket (a
// listen address already taken is no problem for it).
func TestPrintConfigReadsNoKeyBindsNothing(t *testing.T) {
	abs := func(name string) string {
		p, err := filepath.Abs(filepath.Join("..", "..", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	key, cert := abs("mldsa65-seed.key"), abs("mldsa65.crt")
	pem, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenAdmin, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer takenAdmin.Close()
	file := fmt.Sprintf(`{"cert_path": %q, "key_path": %q, "listen": %q, "admin_listen": %q}`, cert, key, taken.Addr(), takenAdmin.Addr())
	for _, form := range [][]string{{"--print-config"}, {"--print-config", "--json"}} {
		stdout, stderr, code := runIn(t, file, append(form, "--config-file", "config.json"), nil)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", form, code, stderr)
		}
		if !strings.Contains(stdout, key) {
			t.Errorf("%v: the key's path is not printed:\n%s", form, stdout)
		}
		for _, line := range strings.Split(string(pem), "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(stdout+stderr, line[:16]) {
				t.Errorf("%v: the output holds the key's contents (%s...)", form, line[:16])
			}
		}
	}
}

func TestPrintConfigFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--print-config=json", "--cert", "a", "--key", "b"}, 78,
			"quantum-safe-proxy: error: --print-config: takes no value; --print-config prints text, --print-config --json prints JSON\n"},
		{[]string{"--json", "--cert", "a", "--key", "b"}, 78,
			"quantum-safe-proxy: error: --json: goes with --print-config (quantum-safe-proxy --print-config --json [options])\n"},
		{[]string{"--cert", "a", "--key", "b", "-print-config", "--listne", "x"}, 78,
			"quantum-safe-proxy: error: --listne: unknown flag; did you mean --listen?\n"},
		{[]string{"--cert", "a", "--key", "b", "--json", "--print-config"}, 0, ""},
		{[]string{"--print-config", "--help"}, 0, ""},
	} {
		_, stderr, code := runIn(t, "", tc.args, nil)
		if code != tc.code || stderr != tc.err {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tc.args, code, stderr, tc.code, tc.err)
		}
	}
}
