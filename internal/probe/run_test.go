package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func probeGo(t *testing.T, cfg *tls.Config, opts Options) *Report {
	t.Helper()
	addr, _ := goServer(t, cfg)
	r, err := Run(context.Background(), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if t.Failed() || testing.Verbose() {
		var b bytes.Buffer
		r.WriteText(&b)
		t.Log("\n" + b.String())
	}
	return r
}

func attempt(t *testing.T, r *Report, name string) Attempt {
	t.Helper()
	for _, a := range r.Attempts {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no %s attempt in %+v", name, r.Attempts)
	return Attempt{}
}

// want checks an attempt's outcome, group and signature scheme.
func want(t *testing.T, a Attempt, ok bool, alert, group, scheme string) {
	t.Helper()
	if a.OK != ok || a.Alert != alert || a.Group != group || a.SignatureScheme != scheme {
		t.Errorf("%s: ok %v alert %q group %q scheme %q (error %q); want ok %v alert %q group %q scheme %q",
			a.Name, a.OK, a.Alert, a.Group, a.SignatureScheme, a.Error, ok, alert, group, scheme)
	}
}

func pool(certs ...tls.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c.Leaf)
	}
	return p
}

// A server with an ML-DSA chain first and an ECDSA chain second, as this
// proxy serves in hybrid mode: PQ-ready; ML-DSA for the client that
// offers it, ECDSA for the one that does not; classical groups and
// TLS 1.2 served too.
func TestRunHybridCertificates(t *testing.T) {
	ml, ec := selfSigned(t, newKey(t, "ML-DSA-65")), selfSigned(t, newKey(t, "ECDSA P-256"))
	r := probeGo(t, &tls.Config{Certificates: []tls.Certificate{ml, ec}}, Options{ServerName: "localhost", Roots: pool(ml, ec)})
	if r.Verdict != PQReady || r.PQGroup != "X25519MLKEM768" || !r.MLDSA {
		t.Errorf("verdict %s, group %s, ML-DSA %v: %s", r.Verdict, r.PQGroup, r.MLDSA, r.Reason)
	}
	want(t, attempt(t, r, AttemptHybrid), true, "", "X25519MLKEM768", "mldsa65")
	want(t, attempt(t, r, AttemptClassical), true, "", "X25519", "mldsa65")
	want(t, attempt(t, r, AttemptMLDSA), true, "", "X25519MLKEM768", "mldsa65")
	want(t, attempt(t, r, AttemptMLDSACerts), true, "", "X25519MLKEM768", "mldsa65")
	want(t, attempt(t, r, AttemptNoMLDSA), true, "", "X25519MLKEM768", "ecdsa_secp256r1_sha256")
	want(t, attempt(t, r, AttemptTLS12), true, "", "X25519", "ecdsa_secp256r1_sha256")
	for _, a := range r.Attempts {
		key := "ML-DSA-65"
		if a.SignatureScheme == "ecdsa_secp256r1_sha256" {
			key = "ECDSA P-256"
		}
		if len(a.Chain) != 1 || a.Chain[0].KeyAlgorithm != key || !a.Verified || a.ClientCertRequested {
			t.Errorf("%s: chain %+v, verified %v (%s), client certificate requested %v", a.Name, a.Chain, a.Verified, a.VerifyError, a.ClientCertRequested)
		}
	}
	if len(r.Attempts) != 6 {
		t.Errorf("%d attempts without a client certificate, want 6", len(r.Attempts))
	}
}

// A server that refuses a ClientHello with a signature_algorithms_cert
// extension (crypto/tls's, which leaves ML-DSA out of it), as OpenSSL
// does when its chain is signed with ML-DSA: every crypto/tls attempt is
// refused, and the "mldsa-certs" attempt shows that the server is
// PQ-ready and signs with ML-DSA.
func TestRunMLDSASignedChainForOpenSSLClients(t *testing.T) {
	ml := selfSigned(t, newKey(t, "ML-DSA-65"))
	r := probeGo(t, &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if slices.Contains(h.Extensions, 50) {
			return nil, errors.New("no suitable signature algorithm")
		}
		return &ml, nil
	}}, Options{ServerName: "localhost", Roots: pool(ml)})
	want(t, attempt(t, r, AttemptHybrid), false, "internal_error", "", "")
	want(t, attempt(t, r, AttemptMLDSA), false, "internal_error", "", "")
	want(t, attempt(t, r, AttemptMLDSACerts), true, "", "X25519MLKEM768", "mldsa65")
	if r.Verdict != PQReady || r.PQGroup != "X25519MLKEM768" || !r.MLDSA ||
		r.Reason != "the server chose X25519MLKEM768 for a client that accepts ML-DSA-signed certificates; Go's client (no ML-DSA for certificates), offered only hybrid groups, was refused: the server refused with alert internal_error" {
		t.Errorf("verdict %s %s, ML-DSA %v: %s", r.Verdict, r.PQGroup, r.MLDSA, r.Reason)
	}
	if got := r.mldsaText(); !strings.HasPrefix(got, "yes: mldsa65 for clients that accept ML-DSA-signed certificates") {
		t.Errorf("ML-DSA: %s", got)
	}
}

// A server with an ML-DSA-signed chain and an ECDSA one, as OpenSSL's
// s_server with -cert and -dcert: it serves the ML-DSA chain only to a
// client whose signature_algorithms_cert (extension 50) has ML-DSA, and
// the ECDSA chain to crypto/tls, which leaves it out. Go's client is
// served, not refused, and the ML-DSA line must say what it gets.
func TestRunMLDSASignedChainAndECDSAChain(t *testing.T) {
	ml, ec := selfSigned(t, newKey(t, "ML-DSA-65")), selfSigned(t, newKey(t, "ECDSA P-256"))
	r := probeGo(t, &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if slices.Contains(h.Extensions, 50) || !slices.Contains(h.SignatureSchemes, tls.MLDSA65) {
			return &ec, nil
		}
		return &ml, nil
	}}, Options{ServerName: "localhost", Roots: pool(ml, ec)})
	want(t, attempt(t, r, AttemptMLDSA), true, "", "X25519MLKEM768", "ecdsa_secp256r1_sha256")
	want(t, attempt(t, r, AttemptMLDSACerts), true, "", "X25519MLKEM768", "mldsa65")
	want(t, attempt(t, r, AttemptNoMLDSA), true, "", "X25519MLKEM768", "ecdsa_secp256r1_sha256")
	const text = "yes: mldsa65 for clients that accept ML-DSA-signed certificates (as OpenSSL 3.5 does); Go's client (no ML-DSA for certificates) gets ecdsa_secp256r1_sha256; clients that do not offer it get ecdsa_secp256r1_sha256"
	if got := r.mldsaText(); got != text {
		t.Errorf("ML-DSA:\n got %s\nwant %s", got, text)
	}
}

// A server without hybrid groups is not PQ-ready: the hybrid attempt is
// refused with handshake_failure, the others get X25519.
func TestRunClassicalServer(t *testing.T) {
	ec := selfSigned(t, newKey(t, "ECDSA P-256"))
	r := probeGo(t, &tls.Config{Certificates: []tls.Certificate{ec}, CurvePreferences: []tls.CurveID{tls.X25519}}, Options{ServerName: "localhost", Roots: pool(ec)})
	if r.Verdict != NotPQReady || r.MLDSA || !strings.Contains(r.Reason, "handshake_failure") {
		t.Errorf("verdict %s, ML-DSA %v: %s", r.Verdict, r.MLDSA, r.Reason)
	}
	want(t, attempt(t, r, AttemptHybrid), false, "handshake_failure", "", "")
	want(t, attempt(t, r, AttemptMLDSA), true, "", "X25519", "ecdsa_secp256r1_sha256")
	want(t, attempt(t, r, AttemptNoMLDSA), true, "", "X25519", "ecdsa_secp256r1_sha256")
}

// A server that wants SecP384r1MLKEM1024 answers every hybrid ClientHello
// with a HelloRetryRequest; the report says so, with the group and the
// scheme read from the flight that followed.
func TestRunHelloRetry(t *testing.T) {
	ec := selfSigned(t, newKey(t, "ECDSA P-384"))
	r := probeGo(t, &tls.Config{Certificates: []tls.Certificate{ec}, CurvePreferences: []tls.CurveID{tls.SecP384r1MLKEM1024, tls.CurveP384}}, Options{ServerName: "localhost", Roots: pool(ec)})
	for _, name := range []string{AttemptHybrid, AttemptMLDSA, AttemptNoMLDSA} {
		a := attempt(t, r, name)
		want(t, a, true, "", "SecP384r1MLKEM1024", "ecdsa_secp384r1_sha384")
		if !a.HelloRetry {
			t.Errorf("%s: no HelloRetryRequest reported", name)
		}
	}
	if r.Verdict != PQReady {
		t.Errorf("verdict %s: %s", r.Verdict, r.Reason)
	}
}

// A server that requires a client certificate: without one, every TLS 1.3
// attempt sees the request and its CA names, then certificate_required
// after the handshake, which still shows the key exchange (PQ-ready);
// with one, the client-cert attempt is served.
func TestRunClientCertificate(t *testing.T) {
	ml, ec := selfSigned(t, newKey(t, "ML-DSA-65")), selfSigned(t, newKey(t, "ECDSA P-256"))
	client := selfSigned(t, newKey(t, "ECDSA P-256"))
	cfg := &tls.Config{Certificates: []tls.Certificate{ml, ec}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: pool(client)}
	r := probeGo(t, cfg, Options{ServerName: "localhost", Roots: pool(ml, ec), ClientCert: &client})
	if r.Verdict != PQReady {
		t.Errorf("verdict %s: %s", r.Verdict, r.Reason)
	}
	hybrid := attempt(t, r, AttemptHybrid)
	want(t, hybrid, false, "certificate_required", "X25519MLKEM768", "mldsa65")
	if !hybrid.Handshake || !hybrid.ClientCertRequested || hybrid.ClientCertSent ||
		len(hybrid.ClientCertCAs) != 1 || hybrid.ClientCertCAs[0] != "CN=localhost" {
		t.Errorf("hybrid: %+v", hybrid)
	}
	cc := attempt(t, r, AttemptClientCert)
	want(t, cc, true, "", "X25519MLKEM768", "mldsa65")
	if !cc.ClientCertRequested || !cc.ClientCertSent {
		t.Errorf("client-cert: %+v", cc)
	}
	// The reader sees the CertificateRequest too, and its CA names.
	if nm := attempt(t, r, AttemptNoMLDSA); !nm.ClientCertRequested || len(nm.ClientCertCAs) != 1 {
		t.Errorf("no-mldsa: %+v", nm)
	}
}

// A chain the roots do not verify is reported with the reason, and the
// attempt still counts.
func TestRunUnverifiedChain(t *testing.T) {
	ec := selfSigned(t, newKey(t, "ECDSA P-256"))
	other := selfSigned(t, newKey(t, "ECDSA P-256"))
	r := probeGo(t, &tls.Config{Certificates: []tls.Certificate{ec}}, Options{ServerName: "localhost", Roots: pool(other)})
	a := attempt(t, r, AttemptHybrid)
	if !a.OK || a.Verified || !strings.Contains(a.VerifyError, "unknown authority") || r.Verdict != PQReady {
		t.Errorf("ok %v verified %v (%s), verdict %s", a.OK, a.Verified, a.VerifyError, r.Verdict)
	}
	// Verified for another name, it fails on the name.
	r = probeGo(t, &tls.Config{Certificates: []tls.Certificate{ec}}, Options{ServerName: "other.example", Roots: pool(ec)})
	if a := attempt(t, r, AttemptHybrid); a.Verified || !strings.Contains(a.VerifyError, "other.example") {
		t.Errorf("verified %v (%s)", a.Verified, a.VerifyError)
	}
}

// No listener: one attempt, unreachable. A server that does not speak
// TLS: unreachable, said so.
func TestRunUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	r, err := Run(context.Background(), addr, Options{})
	if err != nil || r.Verdict != Unreachable || len(r.Attempts) != 1 || !strings.Contains(r.Reason, "cannot connect") {
		t.Errorf("%v: verdict %s, %d attempts: %s", err, r.Verdict, len(r.Attempts), r.Reason)
	}
	ln, _ = net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n")
			c.Close()
		}
	}()
	r, _ = Run(context.Background(), ln.Addr().String(), Options{Timeout: 2 * time.Second})
	if r.Verdict != Unreachable || !strings.Contains(r.Reason, "HTTP/") {
		t.Errorf("verdict %s: %s", r.Verdict, r.Reason)
	}
}

// A server that accepts the connection and says nothing (a stalled
// process, a tarpit) is unreachable after one attempt, and the reason
// says that it connected: "cannot connect" would send the operator to
// look at firewalls and routes.
func TestRunSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	r, err := Run(context.Background(), ln.Addr().String(), Options{Timeout: 200 * time.Millisecond})
	const reason = "connected, but the server sent nothing in 200ms"
	if err != nil || r.Verdict != Unreachable || len(r.Attempts) != 1 || r.Reason != reason || r.Attempts[0].Error != reason {
		t.Errorf("%v: verdict %s, %d attempts, reason %q, error %q; want reason and error %q", err, r.Verdict, len(r.Attempts), r.Reason, r.Attempts[0].Error, reason)
	}
}

var update = flag.Bool("update", false, "rewrite testdata/report.golden")

// The JSON report's field names are an interface: a golden file pins
// them, so a rename shows up here.
func TestReportJSONGolden(t *testing.T) {
	r := &Report{
		Address: "pq.example:443", ServerName: "pq.example", Roots: "system roots",
		Verdict: PQReady, Reason: "offered only hybrid post-quantum groups, the server chose X25519MLKEM768",
		PQGroup: "X25519MLKEM768", MLDSA: true,
		Attempts: []Attempt{{
			Name: AttemptHybrid, Offered: "hybrid groups only: X25519MLKEM768", OK: true, Handshake: true,
			Version: "TLS 1.3", Group: "X25519MLKEM768", PQ: true, CipherSuite: "TLS_AES_128_GCM_SHA256",
			SignatureScheme: "mldsa65",
			Chain: []Certificate{{Subject: "CN=pq.example", Issuer: "CN=Root", KeyAlgorithm: "ML-DSA-65",
				SignatureAlgorithm: "ML-DSA-65", NotAfter: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)}},
			Verified: true, ClientCertRequested: true, ClientCertCAs: []string{"CN=Root"},
		}, {
			Name: AttemptTLS12, Offered: "TLS 1.2 only", Alert: "protocol_version",
			Error: "the server refused with alert protocol_version", VerifyError: "x509: certificate signed by unknown authority",
		}},
	}
	got, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	const path = "testdata/report.golden"
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantJSON, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, wantJSON) {
		t.Errorf("the JSON report differs from %s (%v); if the change is intended (fields may be added, never renamed), run go test ./internal/probe -update:\n%s", path, err, got)
	}
}
