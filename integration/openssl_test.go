package integration

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func servingBothChains(target string, extra ...string) []string {
	return append([]string{"--target", target,
		"--cert", pki("server-mldsa.crt"), "--key", pki("server-mldsa.key"),
		"--cert", pki("server-ecdsa.crt"), "--key", pki("server-ecdsa.key")}, extra...)
}

// A default OpenSSL 3.5 client gets X25519MLKEM768 and the ML-DSA-65
// chain, verifies it against the ML-DSA root, and its bytes come back.
func TestOpenSSLDefaultClientIsPostQuantum(t *testing.T) {
	p := startProxy(t, servingBothChains(echoBackend(t))...)
	r := runSClient(t, p.addr, "-CAfile", pki("ca.crt"), "-verify_return_error")
	if r.group != "X25519MLKEM768" || r.peerSig != "mldsa65" || !r.verified || !r.echoed {
		t.Fatalf("group %q, signature %q, verified %v, echoed %v\n%s", r.group, r.peerSig, r.verified, r.echoed, r.out)
	}
	rec := p.wait(t, "connection closed")
	if rec["group"] != "X25519MLKEM768" || rec["pq"] != true || rec["cert_alg"] != "ML-DSA-65" {
		t.Errorf("proxy log: %v", rec)
	}
}

const legacyGroups, legacySigalgs = "X25519", "ecdsa_secp256r1_sha256"

func TestOpenSSLLegacyClientGetsECDSAInHybridMode(t *testing.T) {
	p := startProxy(t, servingBothChains(echoBackend(t))...)
	r := runSClient(t, p.addr, "-groups", legacyGroups, "-sigalgs", legacySigalgs, "-CAfile", pki("ca.crt"), "-verify_return_error")
	if r.group != "X25519" || r.peerSig != "ecdsa_secp256r1_sha256" || !r.verified || !r.echoed {
		t.Fatalf("group %q, signature %q, verified %v, echoed %v\n%s", r.group, r.peerSig, r.verified, r.echoed, r.out)
	}
	rec := p.wait(t, "connection closed")
	if rec["group"] != "X25519" || rec["pq"] != false || rec["cert_alg"] != "ECDSA P-256" {
		t.Errorf("proxy log: %v", rec)
	}
}

func TestOpenSSLLegacyClientRefusedInStrictMode(t *testing.T) {
	p := startProxy(t, servingBothChains(echoBackend(t), "--pqc-mode", "strict")...)
	r := runSClient(t, p.addr, "-groups", legacyGroups, "-sigalgs", legacySigalgs)
	if r.err == nil || r.echoed {
		t.Fatalf("a classical client was served in strict mode\n%s", r.out)
	}
	if rec := p.wait(t, "handshake refused"); rec["reason"] != "no_pq_group" {
		t.Errorf("proxy log: %v", rec)
	}
	// The default (PQ) client is still served.
	if r := runSClient(t, p.addr); r.group != "X25519MLKEM768" || !r.echoed {
		t.Errorf("PQ client in strict mode: group %q echoed %v\n%s", r.group, r.echoed, r.out)
	}
}

// ML-DSA private keys in each PKCS#8 form OpenSSL 3.5 writes load and
// serve a handshake that OpenSSL verifies.
func TestOpenSSLVerifiesEveryKeyForm(t *testing.T) {
	backend := echoBackend(t)
	for _, key := range []string{"mldsa65-seed.key", "mldsa65-both.key", "mldsa65-expanded.key"} {
		t.Run(key, func(t *testing.T) {
			p := startProxy(t, "--target", backend, "--cert", "../testdata/mldsa65.crt", "--key", "../testdata/"+key)
			r := runSClient(t, p.addr, "-CAfile", "../testdata/mldsa65.crt", "-verify_return_error")
			if r.peerSig != "mldsa65" || !r.verified || !r.echoed {
				t.Fatalf("signature %q verified %v echoed %v\n%s", r.peerSig, r.verified, r.echoed, r.out)
			}
		})
	}
}

// OpenSSL asks for a key update mid-stream ("K": KeyUpdate with
// update_requested, RFC 8446, Section 4.6.3); the proxy's answer and the
// data after it arrive in order.
func TestOpenSSLKeyUpdateMidStream(t *testing.T) {
	p := startProxy(t, servingBothChains(echoBackend(t))...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl(t), "s_client", "-connect", p.addr)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout // s_client reports KEYUPDATE on stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	sc := bufio.NewScanner(stdout)
	io.WriteString(stdin, "before key update\n")
	var seen []string
	for sc.Scan() {
		switch line := sc.Text(); {
		case strings.HasSuffix(line, "before key update"):
			seen = append(seen, "before")
			io.WriteString(stdin, "K\n")
		case line == "KEYUPDATE":
			seen = append(seen, "keyupdate")
			io.WriteString(stdin, "after key update\n")
		case line == "after key update":
			seen = append(seen, "after")
			stdin.Close()
		}
	}
	if strings.Join(seen, ",") != "before,keyupdate,after" {
		t.Fatalf("saw %v, want before, keyupdate, after", seen)
	}
}
