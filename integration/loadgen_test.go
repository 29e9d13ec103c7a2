package integration

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// loadgen builds the load generator (./loadgen) once per run.
var loadgenBuild struct {
	once sync.Once
	path string
	err  error
}

func loadgen(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("taskset"); err != nil {
		need(t, "taskset (util-linux)", "the load generator pins the proxy and the load to CPUs of their own")
	}
	lb := &loadgenBuild
	lb.once.Do(func() {
		lb.path = filepath.Join(filepath.Dir(binary), "loadgen")
		if out, err := exec.Command("go", "build", "-o", lb.path, "./loadgen").CombinedOutput(); err != nil {
			lb.err = fmt.Errorf("building ./loadgen: %v\n%s", err, out)
		}
	})
	if lb.err != nil {
		t.Fatal(lb.err)
	}
	return lb.path
}

// runLoadgen runs the load generator in smoke mode (a few seconds, every
// workload's checks, numbers meaning nothing) against bin, without HAProxy.
func runLoadgen(t *testing.T, bin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(loadgen(t), append([]string{"-smoke", "-bin", bin, "-pki", pkiDir,
		"-naive", "testdata/naive-proxy", "-haproxy", ""}, args...)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// TestLoadgenSmoke runs every workload of the load generator against the
// built binary and the naive baseline: every handshake passes its checks
// (chain, X25519MLKEM768, the served key, resumption, client auth) and
// the table has a row for each.
func TestLoadgenSmoke(t *testing.T) {
	stdout, stderr, err := runLoadgen(t, binary)
	if err != nil {
		t.Fatalf("loadgen: %v\n%s", err, stderr)
	}
	for _, row := range []string{"| workload | this project | naive Go | proxy / naive Go | target | met |",
		"| ML-DSA-65 + X25519MLKEM768 full handshakes", "| same with ML-DSA client certificates (mTLS)",
		"| ECDSA P-256 + X25519MLKEM768", "| resumed TLS 1.3 handshakes", "| bulk upload", "| bulk download",
		"| 64-byte echo round trip p99", "| memory per idle PQ connection", "Machine: "} {
		if !strings.Contains(stdout, row) {
			t.Errorf("no %q in the report:\n%s", row, stdout)
		}
	}
}

// TestLoadgenChecksFail points the load generator at a proxy that serves
// something other than the workload expects: each time it stops with exit
// status 1 and names the check.
func TestLoadgenChecksFail(t *testing.T) {
	for _, tc := range []struct {
		name, workload string
		// rewrite replaces arguments of the proxy (patterns of sh's case:
		// "pattern) a=value"); extra is added to them.
		rewrite, extra string
		want           string
	}{{
		name: "ECDSA leaf where ML-DSA is expected", workload: "mldsa",
		rewrite: fmt.Sprintf("*server-mldsa-ecdsa-issued.crt) a=%s;; *server-mldsa-ecdsa-issued.key) a=%s",
			pki("server-ecdsa.crt"), pki("server-ecdsa.key")),
		want: "check failed: certificate: the server's leaf key is ECDSA P-256, want ML-DSA-65",
	}, {
		name: "classical group", workload: "ecdsa",
		extra: "--pqc-mode classical",
		want:  "check failed: group: got X25519, want X25519MLKEM768",
	}, {
		name: "client certificate not required", workload: "mldsa-mtls",
		rewrite: "required) a=optional",
		want:    "check failed: client auth: a client without a certificate was served",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			wrapper := filepath.Join(t.TempDir(), "proxy")
			script := fmt.Sprintf("#!/bin/sh\nfor a; do shift; case $a in %s;; esac; set -- \"$@\" \"$a\"; done\nexec %s \"$@\" %s\n",
				cmp.Or(tc.rewrite, "''):"), binary, tc.extra)
			if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			_, stderr, err := runLoadgen(t, wrapper, "-workloads", tc.workload, "-impls", "proxy")
			if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 {
				t.Fatalf("loadgen: %v, want exit status 1\n%s", err, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not name the check %q:\n%s", tc.want, stderr)
			}
		})
	}
}
