package integration

import (
	"crypto/mldsa"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mldsaKeyForms has OpenSSL 3.5 write a key of set alg (ML-DSA-44, -65,
// -87) in each PKCS#8 form it knows (seed and expanded, its default;
// seed-only; expanded-only) and a self-signed certificate for localhost.
// It returns the certificate's path and the key files by form.
func mldsaKeyForms(t *testing.T, alg string) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	both := filepath.Join(dir, "both.key")
	keys := map[string]string{"both": both, "seed": filepath.Join(dir, "seed.key"), "expanded": filepath.Join(dir, "expanded.key")}
	crt := filepath.Join(dir, "leaf.crt")
	for _, args := range [][]string{
		{"genpkey", "-algorithm", alg, "-out", both},
		{"pkey", "-in", both, "-provparam", "ml-dsa.output_formats=seed-only", "-out", keys["seed"]},
		{"pkey", "-in", both, "-provparam", "ml-dsa.output_formats=priv-only", "-out", keys["expanded"]},
		{"req", "-x509", "-new", "-key", both, "-subj", "/CN=localhost", "-days", "30",
			"-addext", "subjectAltName=DNS:localhost", "-addext", "keyUsage=critical,digitalSignature", "-out", crt},
	} {
		if out, err := exec.Command(openssl(t), args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return crt, keys
}

// schemeOf is the TLS name of an ML-DSA set: "ML-DSA-65" -> "mldsa65".
func schemeOf(alg string) string { return "mldsa" + strings.TrimPrefix(alg, "ML-DSA-") }

// startProxyEnv is startProxy with extra environment (GODEBUG).
func startProxyEnv(t *testing.T, env []string, args ...string) *proxyProc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	p := startProc(t, cmd)
	p.addr = p.wait(t, "listening")["address"].(string)
	return p
}

// handshakeGo connects with a default Go client that trusts crt, checks
// that it got X25519MLKEM768 and an ML-DSA leaf of set alg (crypto/tls
// has verified the CertificateVerify with crypto/mldsa), and that bytes
// come back.
func handshakeGo(t *testing.T, addr, crt, alg string) {
	t.Helper()
	data, err := os.ReadFile(crt)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(data)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("Go client: %v", err)
	}
	defer c.Close()
	cs := c.ConnectionState()
	pub, ok := cs.PeerCertificates[0].PublicKey.(*mldsa.PublicKey)
	if cs.CurveID != tls.X25519MLKEM768 || !ok || pub.Parameters().String() != alg {
		t.Fatalf("Go client: group %v, leaf key %T, want X25519MLKEM768 and %s", cs.CurveID, cs.PeerCertificates[0].PublicKey, alg)
	}
	io.WriteString(c, "ping\n")
	buf := make([]byte, 5)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping\n" {
		t.Fatalf("Go client: echo %q, %v", buf, err)
	}
}

// handshakeOpenSSL connects with OpenSSL 3.5's s_client, which verifies
// the chain against crt and the ML-DSA CertificateVerify itself.
func handshakeOpenSSL(t *testing.T, addr, crt, alg string) {
	t.Helper()
	r := runSClient(t, addr, "-CAfile", crt, "-verify_return_error")
	if r.group != "X25519MLKEM768" || r.peerSig != schemeOf(alg) || !r.verified || !r.echoed {
		t.Fatalf("OpenSSL: group %q, signature %q, verified %v, echoed %v, want X25519MLKEM768 and %s\n%s",
			r.group, r.peerSig, r.verified, r.echoed, schemeOf(alg), r.out)
	}
}

// Every form of every ML-DSA set, as OpenSSL 3.5 writes it, signs the
// built binary's handshakes through circl, which the start-up log and
// check say, and the signatures verify in a Go client (crypto/mldsa)
// and in OpenSSL 3.5's s_client.
func TestEveryKeyFormSignsThroughCircl(t *testing.T) {
	backend := echoBackend(t)
	for _, alg := range []string{"ML-DSA-44", "ML-DSA-65", "ML-DSA-87"} {
		crt, keys := mldsaKeyForms(t, alg)
		for _, form := range []string{"seed", "both", "expanded"} {
			t.Run(alg+"/"+form, func(t *testing.T) {
				p := startProxy(t, "--target", backend, "--cert", crt, "--key", keys[form])
				if rec := p.wait(t, "serving certificate"); rec["signer"] != "circl" || rec["key"] != alg {
					t.Errorf("start-up log: %v, want key %s signer circl", rec, alg)
				}
				handshakeGo(t, p.addr, crt, alg)
				handshakeOpenSSL(t, p.addr, crt, alg)
				out, stderr, code := runBinary(t, "check", "--cert", crt, "--key", keys[form])
				if code != 0 || !strings.Contains(out, ", signer circl\n") {
					t.Errorf("check: exit %d, %s%s", code, stderr, out)
				}
			})
		}
	}
}

// In Go's FIPS 140-3 mode (GODEBUG=fips140=on), keys with a seed sign
// in the Go Cryptographic Module (crypto/mldsa), as the log and check
// say, and handshakes still verify in Go and OpenSSL clients; a key
// without its seed cannot be used in the module and is refused at start
// with exit 78 and one line that says why and what to do.
func TestFIPSModeSignsWithCryptoMLDSA(t *testing.T) {
	backend := echoBackend(t)
	fips := []string{"GODEBUG=fips140=on"}
	for _, alg := range []string{"ML-DSA-44", "ML-DSA-65", "ML-DSA-87"} {
		crt, keys := mldsaKeyForms(t, alg)
		for _, form := range []string{"seed", "both"} {
			t.Run(alg+"/"+form, func(t *testing.T) {
				p := startProxyEnv(t, fips, "--target", backend, "--cert", crt, "--key", keys[form])
				if rec := p.wait(t, "serving certificate"); rec["signer"] != "crypto/mldsa (FIPS 140-3)" {
					t.Errorf("start-up log: %v, want signer crypto/mldsa (FIPS 140-3)", rec)
				}
				handshakeGo(t, p.addr, crt, alg)
				handshakeOpenSSL(t, p.addr, crt, alg)
				cmd := exec.Command(binary, "check", "--cert", crt, "--key", keys[form])
				cmd.Env = append(os.Environ(), fips...)
				out, err := cmd.CombinedOutput()
				if err != nil || !strings.Contains(string(out), ", signer crypto/mldsa (FIPS 140-3)\n") {
					t.Errorf("check: %v\n%s", err, out)
				}
			})
		}
		t.Run(alg+"/expanded", func(t *testing.T) {
			cmd := exec.Command(binary, "--listen", "127.0.0.1:0", "--target", backend, "--cert", crt, "--key", keys["expanded"])
			cmd.Env = append(os.Environ(), fips...)
			out, err := cmd.CombinedOutput()
			want := "quantum-safe-proxy: error: " + keys["expanded"] + ": " + alg + " private key is expanded-only (no seed), and Go's FIPS 140-3 module, in force here (GODEBUG fips140), signs only with a key it derives from its seed; regenerate the key with its seed (openssl genpkey -algorithm " + alg + "; or certs init) and reissue its certificate\n"
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 78 || string(out) != want {
				t.Errorf("exit %v, output:\n%s\nwant exit 78 and:\n%s", err, out, want)
			}
		})
	}
}
