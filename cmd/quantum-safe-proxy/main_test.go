package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, nil, &out, &errOut)
	code := exitCode(err, &errOut)
	return out.String(), errOut.String(), code
}

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenHint is what a failing golden test tells whoever changed an option.
const goldenHint = "if the change is intended, run: go test ./cmd/quantum-safe-proxy -update, and review the diff of testdata/*.golden"

// The help text and the manual page are compared with golden files that
// people wrote and reviewed, not with the option table both are generated
// from: a setting dropped from the table, or a reworded one, shows up here.
func TestHelpAndManualGolden(t *testing.T) {
	defer func(v string) { version = v }(version)
	version = "1.0.0-golden"
	help, stderr, code := runCmd(t, "--help")
	if code != 0 || stderr != "" {
		t.Fatalf("--help: exit %d, stderr %q", code, stderr)
	}
	man, _, code := runCmd(t, "man")
	if code != 0 {
		t.Fatalf("man: exit %d", code)
	}
	for name, got := range map[string]string{"help.golden": help, "man.golden": man} {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v; %s", err, goldenHint)
		}
		if got != string(want) {
			t.Errorf("%s differs from the output:\n%s\n%s", path, lineDiff(string(want), got), goldenHint)
		}
	}
}

// Every flag the golden help promises is one the parser knows.
func TestHelpFlagsParse(t *testing.T) {
	data, err := os.ReadFile("testdata/help.golden")
	if err != nil {
		t.Fatal(err)
	}
	flags := regexp.MustCompile(`(?m)^  --([a-z0-9-]+)( [A-Z]+)?`).FindAllStringSubmatch(string(data), -1)
	if len(flags) < 10 {
		t.Fatalf("only %d flags found in help.golden", len(flags))
	}
	for _, m := range flags {
		args := []string{"--" + m[1]}
		if m[2] != "" {
			args = append(args, "x")
		}
		_, err := config.Load(args, nil)
		if err != nil && strings.Contains(err.Error(), "unknown flag") {
			t.Errorf("--help lists --%s, which the parser refuses: %v", m[1], err)
		}
	}
}

// lineDiff shows the first lines where want and got part.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i, shown := 0, 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  golden: %q\n  output: %q\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"version"}, 0, ""},
		{[]string{"-V"}, 0, ""}, // the Rust project's
		{[]string{"--listne", "x", "--targte", "y", "--cert", "a", "--key", "b"}, 78,
			"quantum-safe-proxy: error: --listne: unknown flag; did you mean --listen?\nquantum-safe-proxy: error: --targte: unknown flag; did you mean --target?\n"},
		{[]string{"check", "--classic-cert", "c.crt", "--classic-key", "c.key"}, 78,
			"quantum-safe-proxy: error: --classic-cert: replaced by a second certificate pair: --cert PQ.crt --key PQ.key --cert CLASSIC.crt --key CLASSIC.key (in JSON, a \"certificates\" list), the classical chain after the ML-DSA one\n" +
				"quantum-safe-proxy: error: --classic-key: replaced by a second certificate pair: --cert PQ.crt --key PQ.key --cert CLASSIC.crt --key CLASSIC.key (in JSON, a \"certificates\" list), the classical chain after the ML-DSA one\n"},
		{[]string{"--pqc-mode", "pq", "--cert", "a", "--key", "b"}, 78, `quantum-safe-proxy: error: --pqc-mode: "pq" is not one of hybrid, strict, classical` + "\n"},
		{[]string{"--handshake-timeout", "1e300", "--cert", "a", "--key", "b"}, 78, `quantum-safe-proxy: error: --handshake-timeout: "1e300" is longer than a year (8760h), the most a duration may be; write e.g. 10s or 24h` + "\n"},
		{[]string{"certs", "frobnicate"}, 78, `quantum-safe-proxy: error: certs: unknown command "frobnicate": use init, issue-client or inspect` + "\n"},
		{[]string{"certs", "init", "--host", "--dir", "certs"}, 78, "quantum-safe-proxy: error: certs init --host: name both --dir (read by the service) and --ca-dir (root only)\n"},
		{[]string{"certs", "init", "--host", "--dir", "d", "--ca-dir", "d/"}, 78, "quantum-safe-proxy: error: certs init --host: --ca-dir must not be --dir: the service must not read the roots' keys\n"},
		{[]string{"certs", "init", "--dir", "d", "--ca-dir", "c"}, 78, "quantum-safe-proxy: error: certs init: --ca-dir goes with --host; use --dir DIR [--force], or --host --dir DIR --ca-dir DIR [--force]\n"},
		{[]string{"certs", "issue-client", "--ca-dir", "ca", "--name", "a", "--key-type", "rsa"}, 78, `quantum-safe-proxy: error: certs issue-client: --key-type "rsa" is not one of mldsa, ecdsa, mldsa-ecdsa-issued` + "\n"},
		{[]string{"certs", "issue-client", "--ca-dir=ca", "--name=../a"}, 78, `quantum-safe-proxy: error: certs issue-client: --name "../a" is not a plain name; it is the certificate's CN and the files' name` + "\n"},
		{[]string{"certs", "issue-client", "--ca-dir=ca", "--name=a\nb\x1b"}, 78, `quantum-safe-proxy: error: certs issue-client: --name "a\nb\x1b" is not a plain name; it is the certificate's CN and the files' name` + "\n"},
		{[]string{"certs", "issue-client", "--name", "a"}, 78, "quantum-safe-proxy: error: certs issue-client: use --ca-dir DIR --name NAME [--key-type mldsa|ecdsa|mldsa-ecdsa-issued] [--out DIR] [--force]\n"},
		{[]string{"check", "--cert", "/nonexistent.crt", "--key", "/nonexistent.key"}, 78, "quantum-safe-proxy: error: open /nonexistent.crt: no such file or directory\n"},
	} {
		_, stderr, code := runCmd(t, tc.args...)
		if code != tc.code || stderr != tc.err {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tc.args, code, stderr, tc.code, tc.err)
		}
	}
}

// A configuration that fails still shows its warnings, after the errors:
// a variable ignored without --from-env may be the cause.
func TestConfigErrorShowsWarnings(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"check", "--cert", "a", "--key", "b", "--client-cert-mode", "required"},
		[]string{"QUANTUM_SAFE_PROXY_CA_CERT=ca.crt"}, &out, &errOut)
	want := "quantum-safe-proxy: error: --client-cert-mode: \"required\" needs the roots to check client certificates against; set --ca-cert FILE (ca_cert_path) or client_cert_mode none\n" +
		"quantum-safe-proxy: warning: QUANTUM_SAFE_PROXY_CA_CERT is set but ignored: environment variables are read only with --from-env\n"
	if code := exitCode(err, &errOut); code != 78 || errOut.String() != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, errOut.String(), want)
	}
	// Said in the error, the variables are not repeated as a warning.
	errOut.Reset()
	err = run(context.Background(), []string{"check"}, []string{"QUANTUM_SAFE_PROXY_CERT=a", "QUANTUM_SAFE_PROXY_KEY=b"}, &out, &errOut)
	want = "quantum-safe-proxy: error: no certificate configured: QUANTUM_SAFE_PROXY_CERT, QUANTUM_SAFE_PROXY_KEY are set but ignored: environment variables are read only with --from-env; add --from-env, or pass --cert FILE --key FILE\n"
	if code := exitCode(err, &errOut); code != 78 || errOut.String() != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, errOut.String(), want)
	}
}
