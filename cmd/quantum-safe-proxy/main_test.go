package main

import (
	"bytes"
	"context"
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

// The manual page and --help come from the same rows; every flag the
// parser knows appears in both.
func TestManualAndHelpListEveryFlag(t *testing.T) {
	help, _, code := runCmd(t, "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	man, _, _ := runCmd(t, "man")
	for _, r := range config.Rows() {
		if !strings.Contains(help, "--"+r.Flag) {
			t.Errorf("--help lacks --%s", r.Flag)
		}
		if !strings.Contains(man, `.B \-\-`+strings.ReplaceAll(r.Flag, "-", `\-`)) {
			t.Errorf("manual lacks --%s", r.Flag)
		}
		if r.Env != "" && !strings.Contains(man, strings.ReplaceAll(r.Env, "-", `\-`)) {
			t.Errorf("manual lacks %s", r.Env)
		}
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"version"}, 0, ""},
		{[]string{"--pqc-mode", "pq", "--cert", "a", "--key", "b"}, 78, `quantum-safe-proxy: error: --pqc-mode: "pq" is not one of hybrid, strict, classical` + "\n"},
		{[]string{"certs", "frobnicate"}, 78, `quantum-safe-proxy: error: certs: unknown command "frobnicate": use init, issue-client or inspect` + "\n"},
		{[]string{"certs", "init", "--host", "--dir", "certs"}, 78, "quantum-safe-proxy: error: certs init --host: name both --dir (read by the service) and --ca-dir (root only)\n"},
		{[]string{"certs", "init", "--host", "--dir", "d", "--ca-dir", "d/"}, 78, "quantum-safe-proxy: error: certs init --host: --ca-dir must not be --dir: the service must not read the roots' keys\n"},
		{[]string{"certs", "init", "--dir", "d", "--ca-dir", "c"}, 78, "quantum-safe-proxy: error: certs init: --ca-dir goes with --host; use --dir DIR [--force], or --host --dir DIR --ca-dir DIR [--force]\n"},
		{[]string{"certs", "issue-client", "--ca-dir", "ca", "--name", "a", "--key-type", "rsa"}, 78, `quantum-safe-proxy: error: certs issue-client: --key-type "rsa" is not one of mldsa, ecdsa, mldsa-ecdsa-issued` + "\n"},
		{[]string{"certs", "issue-client", "--ca-dir=ca", "--name=../a"}, 78, `quantum-safe-proxy: error: certs issue-client: --name "../a" is not a plain name; it is the certificate's CN and the files' name` + "\n"},
		{[]string{"certs", "issue-client", "--name", "a"}, 78, "quantum-safe-proxy: error: certs issue-client: use --ca-dir DIR --name NAME [--key-type mldsa|ecdsa|mldsa-ecdsa-issued] [--out DIR] [--force]\n"},
		{[]string{"check", "--cert", "/nonexistent.crt", "--key", "/nonexistent.key"}, 78, "quantum-safe-proxy: error: open /nonexistent.crt: no such file or directory\n"},
	} {
		_, stderr, code := runCmd(t, tc.args...)
		if code != tc.code || stderr != tc.err {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tc.args, code, stderr, tc.code, tc.err)
		}
	}
}
