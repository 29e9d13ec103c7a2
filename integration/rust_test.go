package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The Rust project's README examples (github.com/JerryR7/quantum-safe-proxy,
// "7. Usage"), with its certificate paths replaced by a development PKI:
// the command line, the variables with --from-env, and the example file.
// The built binary's check accepts each, says what it made of the options
// that change nothing here, and checks client certificates (optional).
func TestCheckRunsRustReadmeExamples(t *testing.T) {
	crt, key, ca := pki("server-mldsa.crt"), pki("server-mldsa.key"), pki("ca.crt")
	dir := t.TempDir()
	file := filepath.Join(dir, "config.json")
	os.WriteFile(file, []byte(`{
  "listen": "0.0.0.0:8443",
  "target": "127.0.0.1:6000",
  "cert_path": "`+crt+`",
  "key_path": "`+key+`",
  "ca_cert_path": "`+ca+`",
  "client_cert_mode": "optional",
  "log_level": "info",
  "buffer_size": 8192,
  "connection_timeout": 30,
  "openssl_dir": "/opt/openssl35"
}`), 0o600)
	for _, tc := range []struct {
		name     string
		args     []string
		env      []string
		warnings []string
	}{
		{name: "command line", args: []string{"--listen", "0.0.0.0:8443", "--target", "127.0.0.1:6000", "--cert", crt, "--key", key, "--ca-cert", ca, "--client-cert-mode", "optional"}},
		{name: "environment", args: []string{"--from-env"}, env: []string{
			"QUANTUM_SAFE_PROXY_LISTEN=0.0.0.0:9443", "QUANTUM_SAFE_PROXY_TARGET=127.0.0.1:7000",
			"QUANTUM_SAFE_PROXY_CERT=" + crt, "QUANTUM_SAFE_PROXY_KEY=" + key, "QUANTUM_SAFE_PROXY_CA_CERT=" + ca,
			"QUANTUM_SAFE_PROXY_LOG_LEVEL=debug", "QUANTUM_SAFE_PROXY_HYBRID_MODE=true", "QUANTUM_SAFE_PROXY_CLIENT_CERT_MODE=optional",
		}},
		{name: "file", args: []string{"--config-file", file}, warnings: []string{
			"warning: " + file + ": buffer_size: has no effect here: connections are copied through buffers the proxy sizes itself (64 KiB, 1 MiB while a transfer keeps a socket full); remove it",
			"warning: " + file + ": openssl_dir: has no meaning here: TLS is Go's crypto/tls, no OpenSSL library is loaded; remove it",
		}},
		// Its earlier --help: the CA alone, the default mode then optional.
		{name: "CA without a mode", args: []string{"--cert", crt, "--key", key, "--ca-cert", ca, "--hybrid-mode", "true"}, warnings: []string{
			"warning: --ca-cert is set and client_cert_mode is not: client certificates are verified when presented (optional), as in the Rust project; set client_cert_mode required to demand one, or none to ask for none",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binary, append([]string{"check"}, tc.args...)...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tc.env...)
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Run(); err != nil {
				t.Fatalf("check: %v\n%s", err, errOut.String())
			}
			var warnings []string
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(line, "warning: ") && !strings.Contains(line, "ML-DSA") {
					warnings = append(warnings, line)
				}
			}
			if strings.Join(warnings, "\n") != strings.Join(tc.warnings, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s\nwhole output:\n%s", strings.Join(warnings, "\n"), strings.Join(tc.warnings, "\n"), out.String())
			}
			if !strings.Contains(out.String(), "client_cert_mode optional,") {
				t.Errorf("check does not say client certificates are optional:\n%s", out.String())
			}
		})
	}
}

// The proxy logs the configuration's warnings at start: a Rust option that
// changes nothing, and the client_cert_mode a CA alone implies.
func TestStartLogsConfigurationWarnings(t *testing.T) {
	p := startProxy(t, "--cert", pki("server-mldsa.crt"), "--key", pki("server-mldsa.key"), "--ca-cert", pki("ca.crt"),
		"--buffer-size", "8192", "--target", echoBackend(t))
	for _, msg := range []string{
		"--buffer-size: has no effect here: connections are copied through buffers the proxy sizes itself (64 KiB, 1 MiB while a transfer keeps a socket full); remove it",
		"--ca-cert is set and client_cert_mode is not: client certificates are verified when presented (optional), as in the Rust project; set client_cert_mode required to demand one, or none to ask for none",
	} {
		if rec := p.wait(t, msg); rec["level"] != "WARN" {
			t.Errorf("%q logged at %v, want WARN", msg, rec["level"])
		}
	}
}
