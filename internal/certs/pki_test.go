package certs_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
)

// --force over a key someone left world-writable writes the new key 0600:
// the old file's permissions are not carried over.
func TestInitForceWritesKeys0600(t *testing.T) {
	for _, host := range []bool{false, true} {
		dir, caDir := t.TempDir(), filepath.Join(t.TempDir(), "ca")
		for _, p := range []string{filepath.Join(dir, certs.ServerMLDSAKey), filepath.Join(dir, certs.ServerECDSAKey)} {
			if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, 0o666); err != nil { // past the umask
				t.Fatal(err)
			}
		}
		write := func(force bool) ([]string, error) {
			if host {
				return certs.WriteHostPKI(dir, caDir, "test.example", force)
			}
			return certs.WriteDevPKI(dir, force)
		}
		if _, err := write(false); err == nil || !strings.Contains(err.Error(), "pass --force to replace them") {
			t.Fatalf("host=%v: without --force: %v", host, err)
		}
		files, err := write(true)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			want := os.FileMode(0o644)
			if strings.HasSuffix(f, ".key") {
				want = 0o600
			}
			if fi.Mode().Perm() != want {
				t.Errorf("host=%v: %s is %v, want %v", host, f, fi.Mode().Perm(), want)
			}
		}
	}
}

// The host PKI leaves no CA key and no client key where the service
// reads: only the two server keys; the roots' keys are in the 0700 CA
// directory. A client certificate issued from it verifies against the
// ca.crt the service trusts, for client authentication.
func TestHostPKISplitAndIssueClient(t *testing.T) {
	dir, caDir := t.TempDir(), filepath.Join(t.TempDir(), "ca")
	if _, err := certs.WriteHostPKI(dir, caDir, "proxy.example", false); err != nil {
		t.Fatal(err)
	}
	keys, _ := filepath.Glob(filepath.Join(dir, "*.key"))
	if want := []string{filepath.Join(dir, certs.ServerECDSAKey), filepath.Join(dir, certs.ServerMLDSAKey)}; !slices.Equal(keys, want) {
		t.Errorf("keys in the service's directory: %v, want only %v", keys, want)
	}
	if fi, err := os.Stat(caDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("CA directory: %v %v", fi, err)
	}
	for _, k := range []string{certs.MLDSARootKey, certs.ECDSARootKey} {
		if fi, err := os.Stat(filepath.Join(caDir, k)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", k, fi, err)
		}
	}
	chain, err := certs.LoadChain(filepath.Join(dir, certs.ServerMLDSACert), filepath.Join(dir, certs.ServerMLDSAKey))
	if err != nil {
		t.Fatal(err)
	}
	if got := chain.Leaf().DNSNames; !slices.Equal(got, []string{"localhost", "proxy.example"}) {
		t.Errorf("server names %v", got)
	}
	pool, _, err := certs.LoadPool(filepath.Join(dir, certs.CABundle))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, tc := range []struct{ keyType, alg, rootAlg string }{
		{certs.ClientMLDSA, "ML-DSA-65", "ML-DSA-65"},
		{certs.ClientECDSA, "ECDSA P-256", "ECDSA P-256"},
		{certs.ClientMLDSAHybrid, "ML-DSA-65", "ECDSA P-256"},
	} {
		name := "client-" + tc.keyType
		files, err := certs.IssueClient(caDir, name, tc.keyType, out, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(files, []string{filepath.Join(out, name+".crt"), filepath.Join(out, name+".key")}) {
			t.Errorf("files %v", files)
		}
		c, err := certs.LoadChain(files[0], files[1])
		if err != nil {
			t.Fatal(err)
		}
		chains, err := c.Leaf().Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if err != nil {
			t.Fatalf("%s: %v", tc.keyType, err)
		}
		if c.Algorithm() != tc.alg || certs.Algorithm(chains[0][1].PublicKey) != tc.rootAlg || c.Leaf().Subject.CommonName != name {
			t.Errorf("%s: key %s under a %s root, CN %q", tc.keyType, c.Algorithm(), certs.Algorithm(chains[0][1].PublicKey), c.Leaf().Subject.CommonName)
		}
		if fi, _ := os.Stat(files[1]); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v", files[1], fi.Mode())
		}
		if _, err := certs.IssueClient(caDir, name, tc.keyType, out, false); err == nil || !strings.Contains(err.Error(), "pass --force") {
			t.Errorf("issuing %s twice: %v", name, err)
		}
	}
	if _, err := certs.IssueClient(dir, "x", certs.ClientECDSA, out, false); err == nil || !strings.Contains(err.Error(), "ecdsa-root.key") {
		t.Errorf("issuing from the service's directory, which holds no root key: %v", err)
	}
}
