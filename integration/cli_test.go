package integration

import (
	"bytes"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestVersionAndHelp(t *testing.T) {
	out, _, code := runBinary(t, "version")
	if code != 0 || !strings.HasPrefix(out, "quantum-safe-proxy ") || !strings.Contains(out, "go1.27") {
		t.Errorf("version: %q (exit %d)", out, code)
	}
	// The built binary's help is the reviewed golden text of the command's
	// unit test, byte for byte.
	golden, err := os.ReadFile("../cmd/quantum-safe-proxy/testdata/help.golden")
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runBinary(t, "--help")
	if code != 0 || stderr != "" || out != string(golden) {
		t.Errorf("--help (exit %d, stderr %q) is not cmd/quantum-safe-proxy/testdata/help.golden; if the change is intended, run: go test ./cmd/quantum-safe-proxy -update\n%s", code, stderr, out)
	}
}

// A broken configuration: every problem at once, one line each, exit 78.
func TestCheckReportsEveryProblemAndExits78(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{"client_cert_mode": "requierd", "cert_path": "`+pki("server-mldsa.crt")+`", "key_path": "`+pki("server-mldsa.key")+`", "target": "10.1.2.3:80"}`), 0o600)
	_, stderr, code := runBinary(t, "check", "--config-file", cfg)
	want := cfg + `: client_cert_mode: "requierd" is not one of required, optional, none` + "\n" +
		`quantum-safe-proxy: error: ` + cfg + `: target: "10.1.2.3:80" is not on this host: plain text would cross the network; use a loopback address or unix socket, or set unsafe_target (--unsafe-target) if you mean it` + "\n"
	if code != 78 || stderr != "quantum-safe-proxy: error: "+want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, stderr, "quantum-safe-proxy: error: "+want)
	}
}

// Values the JSON reader would have let through, each refused by name.
func TestCheckRefusesOverflowDuplicatesAndKeyCase(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(cfg, []byte("{\n"+
		`  "handshake_timeout": 9223372037,`+"\n"+
		`  "drain_timeout": "-1s",`+"\n"+
		`  "target": "127.0.0.1:6000", "target": "10.1.2.3:80",`+"\n"+
		`  "certificates": [{"Cert_Path": "`+pki("server-mldsa.crt")+`", "key_path": "`+pki("server-mldsa.key")+`"}]`+"\n}"), 0o600)
	_, stderr, code := runBinary(t, "check", "--config-file", cfg, "--cert", pki("server-ecdsa.crt"), "--key", pki("server-ecdsa.key"))
	want := "quantum-safe-proxy: error: " + cfg + `: line 4: target: duplicate key (first at line 4); keep one` + "\n" +
		"quantum-safe-proxy: error: " + cfg + `: certificates[0]: Cert_Path: unknown key; did you mean "cert_path"?` + "\n" +
		"quantum-safe-proxy: error: " + cfg + `: drain_timeout: "-1s" is negative; a duration is 0 or more, e.g. 10s` + "\n" +
		"quantum-safe-proxy: error: " + cfg + `: handshake_timeout: "9223372037" is longer than a year (8760h), the most a duration may be; write e.g. 10s or 24h` + "\n" +
		"quantum-safe-proxy: error: " + cfg + `: target: "10.1.2.3:80" is not on this host: plain text would cross the network; use a loopback address or unix socket, or set unsafe_target (--unsafe-target) if you mean it` + "\n"
	if code != 78 || stderr != want {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 78 and:\n%s", code, stderr, want)
	}
}

// A key that does not match its certificate is named with the configured
// certificate it does belong to (most often two key paths were swapped),
// or said to belong to none.
func TestCheckNamesMismatchedKey(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cert", pki("server-mldsa.crt"), "--key", pki("server-ecdsa.key")},
			pki("server-ecdsa.key") + " does not match " + pki("server-mldsa.crt") +
				": the key is ECDSA P-256, the certificate's key is ML-DSA-65; the key is that of none of the configured certificates; pair each certificate with the key it was issued for\n"},
		{[]string{"--cert", pki("server-mldsa.crt"), "--key", pki("server-ecdsa.key"), "--cert", pki("server-ecdsa.crt"), "--key", pki("server-mldsa.key")},
			pki("server-ecdsa.key") + " does not match " + pki("server-mldsa.crt") +
				": the key is ECDSA P-256, the certificate's key is ML-DSA-65; the key is that of " + pki("server-ecdsa.crt") + "; pair each certificate with the key it was issued for\n" +
				"quantum-safe-proxy: error: " + pki("server-mldsa.key") + " does not match " + pki("server-ecdsa.crt") +
				": the key is ML-DSA-65, the certificate's key is ECDSA P-256; the key is that of " + pki("server-mldsa.crt") + "; pair each certificate with the key it was issued for\n"},
		// Two ML-DSA-65 keys: the message does not say "the key is
		// ML-DSA-65, the certificate's key is ML-DSA-65".
		{[]string{"--cert", "../testdata/mldsa65.crt", "--key", pki("server-mldsa.key"), "--cert", pki("server-mldsa.crt"), "--key", "../testdata/mldsa65-seed.key"},
			pki("server-mldsa.key") + " does not match ../testdata/mldsa65.crt: both are ML-DSA-65 keys, but not the same key; the key is that of " + pki("server-mldsa.crt") + "; pair each certificate with the key it was issued for\n" +
				"quantum-safe-proxy: error: ../testdata/mldsa65-seed.key does not match " + pki("server-mldsa.crt") + ": both are ML-DSA-65 keys, but not the same key; the key is that of ../testdata/mldsa65.crt; pair each certificate with the key it was issued for\n"},
	} {
		_, stderr, code := runBinary(t, append([]string{"check"}, tc.args...)...)
		if want := "quantum-safe-proxy: error: " + tc.want; code != 78 || stderr != want {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant:\n%s", tc.args, code, stderr, want)
		}
	}
}

// An ML-DSA key without seed whose tr (bytes 64 to 127 of the FIPS 204
// expanded key) is damaged matches its certificate yet signs nothing that
// verifies: check refuses it, naming the file, before any client sees it.
func TestCheckRefusesKeyThatCannotSign(t *testing.T) {
	data, err := os.ReadFile("../testdata/mldsa65-expanded.key")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	block.Bytes[len(block.Bytes)-4032+64] ^= 1 // the expanded key ends the DER
	bad := filepath.Join(t.TempDir(), "bad-tr.key")
	if err := os.WriteFile(bad, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runBinary(t, "check", "--cert", "../testdata/mldsa65.crt", "--key", bad)
	want := "quantum-safe-proxy: error: " + bad + ": ML-DSA-65 expanded private key (no seed) is damaged: " +
		"its tr (bytes 64 to 127) is not the hash of its public key; regenerate the key and reissue its certificate\n"
	if code != 78 || stderr != want || out != "" {
		t.Errorf("exit %d, stdout %q, stderr %q\nwant exit 78, stderr %q", code, out, stderr, want)
	}
	// The undamaged key passes.
	if _, stderr, code := runBinary(t, "check", "--cert", "../testdata/mldsa65.crt", "--key", "../testdata/mldsa65-expanded.key"); code != 0 {
		t.Errorf("the good expanded-only key: exit %d, %s", code, stderr)
	}
}

func TestCheckSaysWhatEachClientGets(t *testing.T) {
	out, stderr, code := runBinary(t, append([]string{"check"}, servingBothChains("127.0.0.1:6000")...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"key exchange X25519MLKEM768, served chain ML-DSA-65",
		"key exchange X25519, served chain ECDSA P-256",
		"warning: an ML-DSA chain is preferred",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

func TestCertsInitKeepsKeysWithoutForce(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := runBinary(t, "certs", "init", "--dir", dir); code != 0 {
		t.Fatalf("first init: exit %d %s", code, stderr)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "server-mldsa.key"))
	_, stderr, code := runBinary(t, "certs", "init", "--dir", dir)
	after, _ := os.ReadFile(filepath.Join(dir, "server-mldsa.key"))
	if code == 0 || !strings.Contains(stderr, "pass --force") || !bytes.Equal(before, after) {
		t.Errorf("second init: exit %d, %q, key changed %v", code, stderr, !bytes.Equal(before, after))
	}
	out, _, code := runBinary(t, "certs", "inspect", filepath.Join(dir, "server-mldsa.crt"))
	if code != 0 || !strings.Contains(out, "key:        ML-DSA-65") || !strings.Contains(out, "names:      localhost, 127.0.0.1, ::1") {
		t.Errorf("inspect: %s", out)
	}
}
