package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// OpenSSL 3.5 resumes as it ships (-sess_out, then -sess_in), over TLS 1.3
// and TLS 1.2: the second connection reports "Reused", its bytes come
// back, and the proxy logs resumed=true with the algorithm of the chain
// the session began with.
func TestOpenSSLResumes(t *testing.T) {
	p := startProxy(t, servingBothChains(echoBackend(t))...)
	n := 0
	for _, tc := range []struct {
		name    string
		args    []string
		version string
		alg     string
	}{
		{"TLS 1.3", nil, "TLSv1.3", "ML-DSA-65"},
		{"TLS 1.2", []string{"-tls1_2"}, "TLSv1.2", "ECDSA P-256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess := filepath.Join(t.TempDir(), "session.pem")
			for i, flag := range []string{"-sess_out", "-sess_in"} {
				r := runSClient(t, p.addr, append([]string{flag, sess, "-CAfile", pki("ca.crt")}, tc.args...)...)
				want := map[bool]string{false: "New, ", true: "Reused, "}[i == 1] + tc.version
				if !strings.Contains(r.out, want) || !r.echoed {
					t.Fatalf("connection %d: want %q and the echo\n%s", i+1, want, r.out)
				}
				n++
				rec := p.wait(t, "connection closed", n)
				if rec["resumed"] != (i == 1) || rec["cert_alg"] != tc.alg || rec["bytes_out"] != rec["bytes_in"] || rec["bytes_in"] == 0.0 {
					t.Errorf("connection %d: proxy log %v; want resumed %v, cert_alg %s", i+1, rec, i == 1, tc.alg)
				}
			}
		})
	}
}

// A 0-RTT attempt: the proxy's tickets never allow early data (crypto/tls
// sets max_early_data only for QUIC, handshake_server_tls13.go
// sendSessionTicket), so OpenSSL, told to send early data with a resumed
// session, does not send it (RFC 8446 section 4.2.10), completes the
// handshake by resumption, and the data then flows as usual.
func TestOpenSSLEarlyDataIsDeclined(t *testing.T) {
	p := startProxy(t, servingBothChains(echoBackend(t))...)
	dir := t.TempDir()
	sess, early := filepath.Join(dir, "session.pem"), filepath.Join(dir, "early.txt")
	os.WriteFile(early, []byte("GET /early HTTP/1.0\r\n\r\n"), 0o600)
	if r := runSClient(t, p.addr, "-sess_out", sess); !r.echoed {
		t.Fatalf("first connection:\n%s", r.out)
	}
	p.wait(t, "connection closed")
	r := runSClient(t, p.addr, "-sess_in", sess, "-early_data", early)
	if !strings.Contains(r.out, "Reused, TLSv1.3") || !strings.Contains(r.out, "Early data was not sent") || !r.echoed {
		t.Fatalf("want a resumed handshake, early data not sent, and the echo\n%s", r.out)
	}
	rec := p.wait(t, "connection closed", 2)
	if rec["resumed"] != true || rec["bytes_in"] != rec["bytes_out"] {
		t.Errorf("proxy log: %v", rec)
	}
}

// A Go client with its default session cache through the built binary:
// the second connection resumes and is logged with the ticket's chain.
func TestGoClientResumesThroughTheBinary(t *testing.T) {
	p := startProxy(t, servingBothChains(echoBackend(t))...)
	roots := x509.NewCertPool()
	pem, err := os.ReadFile(pki("ca.crt"))
	if err != nil || !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("reading %s: %v", pki("ca.crt"), err)
	}
	cc := &tls.Config{RootCAs: roots, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	for i := range 2 {
		c, err := tls.Dial("tcp", p.addr, cc)
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("resumed or not, the same bytes\n")
		c.Write(msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
			t.Fatalf("connection %d: echo %q, %v", i+1, got, err)
		}
		cs := c.ConnectionState()
		c.Close()
		if cs.DidResume != (i == 1) || cs.CurveID != tls.X25519MLKEM768 {
			t.Fatalf("connection %d: resumed %v over %s", i+1, cs.DidResume, cs.CurveID)
		}
		if rec := p.wait(t, "connection closed", i+1); rec["resumed"] != (i == 1) || rec["cert_alg"] != "ML-DSA-65" {
			t.Errorf("connection %d: proxy log %v", i+1, rec)
		}
	}
}

// pqc_mode strict with client certificates: an OpenSSL 3.5 client can
// present only an ML-DSA key under a classical issuer (DESIGN.md), which
// strict mode accepts only with strict_client_classical_issuer; refused
// without it, with a hint naming the option. It resumes with it, too.
func TestOpenSSLStrictClientClassicalIssuer(t *testing.T) {
	backend := echoBackend(t)
	for _, option := range []bool{false, true} {
		args := servingBothChains(backend, "--pqc-mode", "strict", "--client-cert-mode", "required", "--ca-cert", pki("ca.crt"))
		if option {
			args = append(args, "--strict-client-classical-issuer")
		}
		p := startProxy(t, args...)
		sess := filepath.Join(t.TempDir(), "session.pem")
		client := []string{"-cert", pki("client-mldsa-ecdsa-issued.crt"), "-key", pki("client-mldsa-ecdsa-issued.key")}
		r := runSClient(t, p.addr, append(client, "-sess_out", sess)...)
		if !option {
			if r.echoed {
				t.Fatalf("strict mode served an ML-DSA key under an ECDSA issuer\n%s", r.out)
			}
			rec := p.wait(t, "handshake refused")
			if rec["reason"] != "client_chain_not_mldsa" || !strings.Contains(rec["hint"].(string), "set strict_client_classical_issuer") {
				t.Errorf("proxy log: %v", rec)
			}
			continue
		}
		if !r.echoed {
			t.Fatalf("with --strict-client-classical-issuer: not served\n%s", r.out)
		}
		p.wait(t, "connection closed")
		r = runSClient(t, p.addr, append(client, "-sess_in", sess)...)
		if !r.echoed || !strings.Contains(r.out, "Reused, TLSv1.3") {
			t.Fatalf("resumption with --strict-client-classical-issuer:\n%s", r.out)
		}
		if rec := p.wait(t, "connection closed", 2); rec["resumed"] != true || rec["identity"] != "client-mldsa-ecdsa-issued" {
			t.Errorf("proxy log: %v", rec)
		}
	}
}

// Tickets across SIGHUP with the binary: a reload that leaves the client
// policy alone keeps resumption (the process's ticket keys outlive
// snapshots); one that turns client certificates on does not let a Go
// client holding a ticket in without a certificate.
func TestTicketsAcrossSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	backend := echoBackend(t)
	config := func(extra string) string {
		return `{"target": "` + backend + `", "cert_path": "` + pki("server-mldsa.crt") + `", "key_path": "` + pki("server-mldsa.key") + `"` + extra + `}`
	}
	writeConfig(t, cfgPath, config(""))
	p := startProxy(t, "--config-file", cfgPath)
	cc := goClient(t, "", "")
	cc.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	connect := func() (tls.ConnectionState, error) {
		c, err := tls.Dial("tcp", p.addr, cc)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer c.Close()
		msg := []byte("across a reload\n")
		c.Write(msg)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(c, got)
		return c.ConnectionState(), err
	}
	if cs, err := connect(); err != nil || cs.DidResume {
		t.Fatalf("first connection: resumed %v, %v", cs.DidResume, err)
	}
	writeConfig(t, cfgPath, config(`, "idle_timeout": "5m"`))
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.wait(t, "reloaded", 1)
	if cs, err := connect(); err != nil || !cs.DidResume {
		t.Fatalf("after a reload that changed no client policy: resumed %v, %v; want resumed", cs.DidResume, err)
	}
	writeConfig(t, cfgPath, config(`, "client_cert_mode": "required", "ca_cert_path": "`+pki("ca.crt")+`"`))
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.wait(t, "reloaded", 2)
	if cs, err := connect(); err == nil {
		t.Fatalf("after client_cert_mode required: a client without a certificate got in (resumed %v)", cs.DidResume)
	}
	if rec := p.wait(t, "handshake refused"); rec["reason"] != "no_client_certificate" {
		t.Errorf("proxy log: %v", rec)
	}
}

// A client holding a 0-RTT ticket from another server at this address
// (an OpenSSL server that offered early data, as the OpenSSL-based
// project this one replaces could be) sends early data; crypto/tls cannot
// skip it (RFC 8446 section 4.2.10 would let it) and refuses the
// handshake with unsupported_extension. The refusal is logged for what it
// is.
func TestOpenSSLForeignZeroRTTTicketIsRefused(t *testing.T) {
	ossl := openssl(t)
	dir := t.TempDir()
	sess, early := filepath.Join(dir, "session.pem"), filepath.Join(dir, "early.txt")
	os.WriteFile(early, []byte("GET /early HTTP/1.0\r\n\r\n"), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	server := exec.CommandContext(ctx, ossl, "s_server", "-quiet", "-accept", fmt.Sprintf("127.0.0.1:%d", port),
		"-cert", pki("server-ecdsa.crt"), "-key", pki("server-ecdsa.key"), "-early_data")
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	defer server.Wait()
	defer server.Process.Kill()
	// s_client saves the session once its tickets arrived and its input ends.
	var out []byte
	for range 50 {
		client := exec.CommandContext(ctx, ossl, "s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port), "-servername", "localhost", "-sess_out", sess)
		client.Stdin = &slowEOF{time.Second}
		if out, _ = client.CombinedOutput(); strings.Contains(string(out), "Max Early Data: 16384") {
			break
		}
		time.Sleep(100 * time.Millisecond) // s_server not listening yet
	}
	if !strings.Contains(string(out), "Max Early Data: 16384") {
		t.Fatalf("OpenSSL s_server issued no 0-RTT ticket:\n%s", out)
	}
	p := startProxy(t, servingBothChains(echoBackend(t))...)
	r := runSClient(t, p.addr, "-sess_in", sess, "-early_data", early)
	if r.echoed || !strings.Contains(r.out, "Early data was rejected") || !strings.Contains(r.out, "alert number 110") {
		t.Fatalf("want early data rejected with unsupported_extension (110) and no echo\n%s", r.out)
	}
	if rec := p.wait(t, "handshake refused"); rec["reason"] != "unexpected_early_data" {
		t.Errorf("proxy log: %v", rec)
	}
}

// slowEOF is a stdin that ends after a pause, so that s_client reads its
// session tickets before it quits.
type slowEOF struct{ d time.Duration }

func (s *slowEOF) Read([]byte) (int, error) {
	time.Sleep(s.d)
	return 0, io.EOF
}
