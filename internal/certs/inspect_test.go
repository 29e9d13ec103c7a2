package certs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// certs inspect describes a private key: its algorithm, the form of an
// ML-DSA key, and which certificate it belongs to, never its bytes.
func TestInspectKeys(t *testing.T) {
	cert, err := Candidates(td + "mldsa65.crt")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := WriteDevPKI(dir, false); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("not PEM\n"), 0o600)
	const matches = "  matches:    ../../testdata/mldsa65.crt [0] (CN=localhost)\n"
	for _, tc := range []struct {
		file       string
		candidates []Candidate
		want, err  string
	}{
		{td + "mldsa65-seed.key", cert, "../../testdata/mldsa65-seed.key (private key)\n  key:        ML-DSA-65\n" +
			"  form:       seed-only (the 32-byte seed the key is derived from)\n  signer:     circl\n" + matches, ""},
		{td + "mldsa65-both.key", cert, "../../testdata/mldsa65-both.key (private key)\n  key:        ML-DSA-65\n" +
			"  form:       seed and expanded key (OpenSSL 3.5's default; the expanded key was checked against the seed)\n  signer:     circl\n" + matches, ""},
		{td + "mldsa65-expanded.key", cert, "../../testdata/mldsa65-expanded.key (private key)\n  key:        ML-DSA-65\n" +
			"  form:       expanded-only (no seed; it cannot sign in FIPS 140-3 mode, whose module takes keys as seeds)\n  signer:     circl\n" + matches, ""},
		{td + "mldsa65-other.key", cert, "../../testdata/mldsa65-other.key (private key)\n  key:        ML-DSA-65\n" +
			"  form:       seed and expanded key (OpenSSL 3.5's default; the expanded key was checked against the seed)\n  signer:     circl\n" +
			"  matches:    none of the 1 certificate(s) given or configured\n", ""},
		{td + "mldsa44-both.key", nil, "../../testdata/mldsa44-both.key (private key)\n  key:        ML-DSA-44\n" +
			"  form:       seed and expanded key (OpenSSL 3.5's default; the expanded key was checked against the seed)\n  signer:     circl\n" +
			"  matches:    no certificate to compare with; name certificates too, or --config-file for the configured ones\n", ""},
		{filepath.Join(dir, ServerECDSAKey), cert, "DIR/server-ecdsa.key (private key)\n  key:        ECDSA P-256\n" +
			"  matches:    none of the 1 certificate(s) given or configured\n", ""},
		{empty, nil, "", "DIR/empty.pem: no PEM certificate or private key found"},
	} {
		var b strings.Builder
		err := Inspect(&b, tc.file, tc.candidates, time.Now())
		got, gotErr := strings.ReplaceAll(b.String(), dir, "DIR"), ""
		if err != nil {
			gotErr = strings.ReplaceAll(err.Error(), dir, "DIR")
		}
		if got != tc.want || gotErr != tc.err {
			t.Errorf("inspect %s:\n%s(error %q)\nwant:\n%s(error %q)", tc.file, got, gotErr, tc.want, tc.err)
		}
	}
}
