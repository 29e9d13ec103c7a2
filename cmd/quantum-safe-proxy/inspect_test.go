package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
)

// certs inspect on a key says what it is and which certificate, given
// or configured, it belongs to.
func TestCertsInspectKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := certs.WriteDevPKI(dir, false); err != nil {
		t.Fatal(err)
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	cfg := p("config.json")
	os.WriteFile(cfg, []byte(`{"certificates": [{"cert_path": "`+p(certs.ServerMLDSACert)+`", "key_path": "`+p(certs.ServerMLDSAKey)+`"},
  {"cert_path": "`+p(certs.ServerECDSACert)+`", "key_path": "`+p(certs.ServerECDSAKey)+`"}]}`), 0o600)
	for _, tc := range []struct {
		args         []string
		out, errText string
	}{
		{[]string{"certs", "inspect", "--config-file", cfg, p(certs.ServerMLDSAKey)},
			"DIR/server-mldsa.key (private key)\n  key:        ML-DSA-65\n  form:       seed-only (the 32-byte seed the key is derived from)\n  signer:     circl\n" +
				"  matches:    DIR/server-mldsa.crt [0] (CN=localhost,O=quantum-safe-proxy development)\n", ""},
		{[]string{"certs", "inspect", "--config-file=" + cfg, p(certs.ClientMLDSAKey)},
			"DIR/client-mldsa.key (private key)\n  key:        ML-DSA-65\n  form:       seed-only (the 32-byte seed the key is derived from)\n  signer:     circl\n" +
				"  matches:    none of the 2 certificate(s) given or configured\n", ""},
		{[]string{"certs", "inspect", p(certs.ServerECDSAKey)},
			"DIR/server-ecdsa.key (private key)\n  key:        ECDSA P-256\n" +
				"  matches:    no certificate to compare with; name certificates too, or --config-file for the configured ones\n", ""},
		{[]string{"certs", "inspect", "--verbose", p(certs.ServerECDSAKey)}, "",
			`quantum-safe-proxy: error: certs inspect: unknown argument "--verbose"; use certs inspect [--config-file FILE] PEM-FILE...` + "\n"},
		{[]string{"certs", "inspect"}, "",
			"quantum-safe-proxy: error: certs inspect: name one or more PEM files; use certs inspect [--config-file FILE] PEM-FILE...\n"},
	} {
		out, stderr, _ := runCmd(t, tc.args...)
		out, stderr = strings.ReplaceAll(out, dir, "DIR"), strings.ReplaceAll(stderr, dir, "DIR")
		if out != tc.out || stderr != tc.errText {
			t.Errorf("%v:\n%s%s\nwant:\n%s%s", tc.args[2:], out, stderr, tc.out, tc.errText)
		}
	}
	// A key and its certificate named together.
	out, _, code := runCmd(t, "certs", "inspect", p(certs.ServerECDSACert), p(certs.ServerECDSAKey))
	if want := "  matches:    " + p(certs.ServerECDSACert) + " [0] (CN=localhost,O=quantum-safe-proxy development)\n"; code != 0 || !strings.HasSuffix(out, want) {
		t.Errorf("cert and key: exit %d\n%s\nwant it to end %q", code, out, want)
	}
}

// check groups what clients get by the server name they ask for when a
// chain is bound to names (the exact text is tested in internal/tlsconf).
func TestCheckDescribesEachServerName(t *testing.T) {
	dir := t.TempDir()
	if _, err := certs.WriteDevPKI(dir, false); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{"certificates": [{"cert_path": "`+filepath.Join(dir, certs.ServerMLDSACert)+`", "key_path": "`+filepath.Join(dir, certs.ServerMLDSAKey)+`", "server_names": ["localhost"]},
  {"cert_path": "`+filepath.Join(dir, certs.ServerECDSACert)+`", "key_path": "`+filepath.Join(dir, certs.ServerECDSAKey)+`"}]}`), 0o600)
	out, stderr, code := runCmd(t, "check", "--config-file", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	out = strings.ReplaceAll(out, dir, "DIR")
	for _, want := range []string{
		"clients asking for localhost:\n  PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):\n    key exchange X25519MLKEM768, served chain ML-DSA-65 (DIR/server-mldsa.crt)\n",
		"clients asking for no server name, or a name no chain is bound to:\n  PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):\n    key exchange X25519MLKEM768, served chain ECDSA P-256 (DIR/server-ecdsa.crt)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}
