package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
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

// OpenSSL asks for a key update ("K": KeyUpdate with update_requested,
// RFC 8446, Section 4.6.3) while the backend streams to it without
// pause: the proxy's own KeyUpdate must slot in between the records it is
// writing, so the numbered lines keep arriving, none lost or out of
// order, and what the client sends under its new keys reaches the
// backend.
func TestOpenSSLKeyUpdateMidStream(t *testing.T) {
	p := startProxy(t, servingBothChains(streamingBackend(t))...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl(t), "s_client", "-connect", p.addr)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	// s_client reports KEYUPDATE on stderr; read apart from the data, so
	// that it cannot land in the middle of a line.
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	keyUpdated := make(chan struct{})
	go waitForLine(stderr, "KEYUPDATE", keyUpdated)
	sc := bufio.NewScanner(stdout)
	next, afterUpdate, requested, echoed := -1, 0, false, false
	for sc.Scan() && (afterUpdate < 200 || !echoed) {
		line := sc.Text()
		if requested && afterUpdate == 0 && closed(keyUpdated) {
			afterUpdate = 1
			io.WriteString(stdin, "after key update\n")
		}
		if line == "echo: after key update" {
			echoed = true
			continue
		}
		num, ok := strings.CutPrefix(line, "line ")
		n, err := strconv.Atoi(num)
		switch {
		case !ok && next == -1:
			continue // s_client's report of the handshake
		case !ok || err != nil:
			t.Fatalf("read %q after line %d: the stream lost or altered bytes (key update done: %v)", line, next-1, afterUpdate > 0)
		case next != -1 && n != next:
			t.Fatalf("read %q after line %d: the stream lost or reordered bytes (key update done: %v)", line, next-1, afterUpdate > 0)
		}
		next = n + 1
		if afterUpdate > 0 {
			afterUpdate++
		} else if n >= 100 && !requested {
			requested = true
			io.WriteString(stdin, "K\n")
		}
	}
	if afterUpdate < 200 || !echoed {
		t.Fatalf("after the key update: %d lines and echo %v, want 200 lines and the echo (stream ended: %v)", afterUpdate, echoed, sc.Err())
	}
}

// waitForLine closes seen when r yields the line want, and drains r.
func waitForLine(r io.Reader, want string, seen chan<- struct{}) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if sc.Text() == want && seen != nil {
			close(seen)
			seen = nil
		}
	}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// streamingBackend writes numbered lines without pause to its first
// connection, and puts what it reads from the client into the stream as
// "echo: " lines.
func streamingBackend(t *testing.T) string {
	var mu sync.Mutex
	return backend(t, func(c *net.TCPConn) {
		go func() {
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				mu.Lock()
				fmt.Fprintf(c, "echo: %s\n", sc.Text())
				mu.Unlock()
			}
		}()
		for i := 0; ; i++ {
			mu.Lock()
			_, err := fmt.Fprintf(c, "line %d\n", i)
			mu.Unlock()
			if err != nil {
				return
			}
		}
	})
}

// An OpenSSL client that offers only classical signature algorithms,
// against an ML-DSA chain alone, is refused with a reason of its own and
// the fix as hint (it was handshake_failed with none).
func TestOpenSSLClassicalClientAgainstMLDSAOnlyIsExplained(t *testing.T) {
	p := startProxy(t, "--target", echoBackend(t), "--cert", pki("server-mldsa.crt"), "--key", pki("server-mldsa.key"))
	r := runSClient(t, p.addr, "-sigalgs", legacySigalgs)
	if r.err == nil || r.echoed {
		t.Fatalf("a client without ML-DSA was served an ML-DSA chain\n%s", r.out)
	}
	rec := p.wait(t, "handshake refused")
	if hint, _ := rec["hint"].(string); rec["reason"] != "no_shared_signature_algorithm" || !strings.Contains(hint, "add an ECDSA chain") {
		t.Errorf("proxy log: %v", rec)
	}
}

// A default OpenSSL client that does not trust the served chain (its
// -CAfile holds a root that signed neither chain) is refused as
// client_refused_server_certificate with the hint, however it sends its
// alert: in TLS 1.3 middlebox compatibility mode (the default) OpenSSL
// sends unknown_ca in plaintext after the server switched to handshake
// keys, which crypto/tls reports only as bad record MAC.
func TestOpenSSLClientDistrustingChainIsExplained(t *testing.T) {
	backend := echoBackend(t)
	for _, tc := range []struct {
		name  string
		args  []string
		alert string // the alert field logged, "" for none
	}{
		{"default", nil, "unknown_ca (sent in plaintext)"},
		{"no_middlebox", []string{"-no_middlebox"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, servingBothChains(backend)...)
			r := runSClient(t, p.addr, append([]string{"-CAfile", "../testdata/mldsa65.crt", "-verify_return_error"}, tc.args...)...)
			if r.err == nil || r.echoed {
				t.Fatalf("the client accepted a chain its CA file does not hold\n%s", r.out)
			}
			rec := p.wait(t, "handshake refused")
			hint, _ := rec["hint"].(string)
			if rec["reason"] != "client_refused_server_certificate" || !strings.Contains(hint, "does not trust the chain") {
				t.Errorf("proxy log: %v", rec)
			}
			if alert, _ := rec["alert"].(string); alert != tc.alert {
				t.Errorf("alert %q, want %q; proxy log: %v", alert, tc.alert, rec)
			}
		})
	}
}
