package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
)

// tlsServer serves cfg on loopback until the test ends; each connection
// is handshaken, then read until the client closes.
func tlsServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func devChains(t *testing.T, dir string, names ...string) []tls.Certificate {
	t.Helper()
	var out []tls.Certificate
	for _, n := range names {
		c, err := certs.LoadChain(filepath.Join(dir, n+".crt"), filepath.Join(dir, n+".key"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c.TLS)
	}
	return out
}

// The exit code is the verdict: 0 PQ-ready, 2 reachable but not, 1
// unreachable; the report is all that is printed.
func TestProbeExitCodes(t *testing.T) {
	dir := testPKI(t)
	both := devChains(t, dir, "server-mldsa", "server-ecdsa")
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	for _, tc := range []struct {
		name string
		addr string
		code int
		says string
	}{
		{"hybrid server", tlsServer(t, &tls.Config{Certificates: both}), 0,
			"PQ-ready: yes: offered only hybrid post-quantum groups, the server chose X25519MLKEM768\nML-DSA authentication: yes: mldsa65 for clients that offer ML-DSA; clients that do not offer it get ecdsa_secp256r1_sha256\n"},
		{"classical server", tlsServer(t, &tls.Config{Certificates: both[1:], CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}}), 2,
			"PQ-ready: no: offered only hybrid post-quantum groups: the server refused with alert handshake_failure\nML-DSA authentication: no: the server signs with ecdsa_secp256r1_sha256 even for clients that offer ML-DSA\n"},
		{"nothing listening", closedAddr, 1, "unreachable: cannot connect: dial tcp " + closedAddr + ": connect: connection refused\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCmd(t, "probe", tc.addr, "--ca", filepath.Join(dir, "ca.crt"), "--server-name", "localhost")
			if code != tc.code || stderr != "" || !strings.HasSuffix(stdout, tc.says) {
				t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant exit %d, ending %q", code, stderr, stdout, tc.code, tc.says)
			}
			if strings.Contains(stdout, "not verified") {
				t.Errorf("a chain did not verify against --ca:\n%s", stdout)
			}
		})
	}
}

// --json writes the report as one JSON document.
func TestProbeJSON(t *testing.T) {
	dir := testPKI(t)
	addr := tlsServer(t, &tls.Config{Certificates: devChains(t, dir, "server-mldsa", "server-ecdsa")})
	stdout, _, code := runCmd(t, "probe", "--json", addr, "--ca="+filepath.Join(dir, "ca.crt"), "--server-name=localhost")
	var r struct {
		Verdict  string `json:"verdict"`
		PQGroup  string `json:"pq_group"`
		MLDSA    bool   `json:"mldsa"`
		Attempts []struct {
			Name, Group     string
			SignatureScheme string `json:"signature_scheme"`
			Verified        bool
		}
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != 0 {
		t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
	}
	if r.Verdict != "pq-ready" || r.PQGroup != "X25519MLKEM768" || !r.MLDSA || len(r.Attempts) != 6 ||
		r.Attempts[4].Name != "no-mldsa" || r.Attempts[4].SignatureScheme != "ecdsa_secp256r1_sha256" || !r.Attempts[4].Verified {
		t.Errorf("%+v", r)
	}
}

// The client certificate's key loads in each of the three forms OpenSSL
// 3.5 writes ML-DSA keys in, and signs the handshake the server checks.
func TestProbeClientKeyForms(t *testing.T) {
	dir := testPKI(t)
	for _, key := range []string{"mldsa65-seed.key", "mldsa65-both.key", "mldsa65-expanded.key"} {
		t.Run(key, func(t *testing.T) {
			presented := make(chan string, 4)
			addr := tlsServer(t, &tls.Config{
				Certificates: devChains(t, dir, "server-mldsa"),
				ClientAuth:   tls.RequireAnyClientCert, // the testdata certificate is a CA's, not a client's
				VerifyConnection: func(cs tls.ConnectionState) error {
					if len(cs.PeerCertificates) > 0 {
						presented <- certs.Algorithm(cs.PeerCertificates[0].PublicKey)
					}
					return nil
				},
			})
			stdout, stderr, code := runCmd(t, "probe", addr, "--ca", filepath.Join(dir, "ca.crt"), "--server-name", "localhost",
				"--cert", "../../testdata/mldsa65.crt", "--key", "../../testdata/"+key)
			if code != 0 || !strings.Contains(stdout, "client certificate:    ok;") || !strings.Contains(stdout, "client certificate requested and sent") {
				t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
			}
			if got := <-presented; got != "ML-DSA-65" {
				t.Errorf("the server got a %s client certificate", got)
			}
		})
	}
}

func TestProbeUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"probe"}, "probe: name the server as HOST:PORT; " + probeUse},
		{[]string{"probe", "example.com"}, `probe: "example.com" is not HOST:PORT (an IPv6 address goes in brackets: [::1]:443); ` + probeUse},
		{[]string{"probe", "a:1", "b:2"}, `probe: one address only, not "a:1" and "b:2"; ` + probeUse},
		{[]string{"probe", "a:1", "--insecure"}, `probe: unknown argument "--insecure"; ` + probeUse},
		{[]string{"probe", "a:1", "--ca"}, "probe: --ca needs a value; " + probeUse},
		{[]string{"probe", "a:1", "--key", "k"}, "probe: --cert and --key go together: the client certificate and its private key"},
		{[]string{"probe", "a:1", "--ca", "/nonexistent.crt"}, "probe: --ca: open /nonexistent.crt: no such file or directory"},
		{[]string{"probe", "a:1", "--cert", "../../testdata/mldsa65.crt", "--key", "../../testdata/mldsa65-other.key"}, "probe: ../../testdata/mldsa65-other.key does not match ../../testdata/mldsa65.crt"},
		// The key's text where its path belongs is not repeated (the
		// one-line check below fails if it is).
		{[]string{"probe", "a:1", "--cert", "../../testdata/mldsa65.crt", "--key", "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n"}, "probe: --key: holds a private key in PEM, not the path of a file; write the key to a file and give its path (the key is not shown here)"},
	} {
		_, stderr, code := runCmd(t, tc.args...)
		if code != 78 || !strings.HasPrefix(stderr, "quantum-safe-proxy: error: "+tc.err) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 78, %q", tc.args, code, stderr, tc.err)
		}
	}
}

// A cancelled probe stops: the context reaches every attempt.
func TestProbeContext(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := run(ctx, []string{"probe", ln.Addr().String()}, nil, &bytes.Buffer{}, &bytes.Buffer{})
	var v *verdictError
	if !errors.As(err, &v) || v.code != exitFail || time.Since(start) > 5*time.Second {
		t.Errorf("%v after %v", err, time.Since(start))
	}
}
