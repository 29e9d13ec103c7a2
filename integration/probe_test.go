package integration

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// probeReport is the JSON report of `probe --json`, as the README
// documents it: decoded here field by field, so that a renamed field
// fails these tests.
type probeReport struct {
	Address    string         `json:"address"`
	ServerName string         `json:"server_name"`
	Roots      string         `json:"roots"`
	Verdict    string         `json:"verdict"`
	Reason     string         `json:"reason"`
	PQGroup    string         `json:"pq_group"`
	MLDSA      bool           `json:"mldsa"`
	Attempts   []probeAttempt `json:"attempts"`
}

type probeAttempt struct {
	Name            string `json:"name"`
	OK              bool   `json:"ok"`
	Handshake       bool   `json:"handshake"`
	Alert           string `json:"alert"`
	Error           string `json:"error"`
	Version         string `json:"tls_version"`
	Group           string `json:"group"`
	PQ              bool   `json:"pq"`
	SignatureScheme string `json:"signature_scheme"`
	Chain           []struct {
		Subject            string    `json:"subject"`
		KeyAlgorithm       string    `json:"key_algorithm"`
		SignatureAlgorithm string    `json:"signature_algorithm"`
		NotAfter           time.Time `json:"not_after"`
	} `json:"chain"`
	Verified            bool     `json:"verified"`
	VerifyError         string   `json:"verify_error"`
	ClientCertRequested bool     `json:"client_cert_requested"`
	ClientCertCAs       []string `json:"client_cert_cas"`
	ClientCertSent      bool     `json:"client_cert_sent"`
}

// runProbe runs `probe --json ADDR --server-name localhost` with extra
// arguments and returns the report and the exit code.
func runProbe(t *testing.T, addr string, extra ...string) (probeReport, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"probe", "--json", addr, "--server-name", "localhost"}, extra...)
	out, err := exec.CommandContext(ctx, binary, args...).Output()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var r probeReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("probe %v: exit %d, %v:\n%s", args, code, err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("probe %v: exit %d:\n%s", args, code, out)
		}
	})
	return r, code
}

func (r probeReport) attempt(t *testing.T, name string) probeAttempt {
	t.Helper()
	for _, a := range r.Attempts {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no %q attempt", name)
	return probeAttempt{}
}

// expect checks an attempt's outcome, group, signature scheme and leaf
// key ("" for no chain).
func (a probeAttempt) expect(t *testing.T, ok bool, alert, group, scheme, leafKey string) {
	t.Helper()
	key := ""
	if len(a.Chain) > 0 {
		key = a.Chain[0].KeyAlgorithm
	}
	if a.OK != ok || a.Alert != alert || a.Group != group || a.SignatureScheme != scheme || key != leafKey {
		t.Errorf("%s: ok %v, alert %q, group %q, scheme %q, leaf %q (%s); want ok %v, alert %q, group %q, scheme %q, leaf %q",
			a.Name, a.OK, a.Alert, a.Group, a.SignatureScheme, key, a.Error, ok, alert, group, scheme, leafKey)
	}
	if key != "" && !a.Verified {
		t.Errorf("%s: the chain does not verify against the development CA: %s", a.Name, a.VerifyError)
	}
}

// The proxy in hybrid mode with an ML-DSA and an ECDSA chain: a client
// offering ML-DSA gets ML-DSA-65, one without gets ECDSA (the proxy saw
// a ClientHello with no ML-DSA and chose the ECDSA chain for it), a
// classical one X25519; PQ-ready, exit 0.
func TestProbeProxyHybrid(t *testing.T) {
	p := startProxy(t, servingBothChains(echoBackend(t))...)
	r, code := runProbe(t, p.addr, "--ca", pki("ca.crt"))
	if code != 0 || r.Verdict != "pq-ready" || r.PQGroup != "X25519MLKEM768" || !r.MLDSA {
		t.Errorf("exit %d, verdict %s, group %s, ML-DSA %v: %s", code, r.Verdict, r.PQGroup, r.MLDSA, r.Reason)
	}
	r.attempt(t, "hybrid").expect(t, true, "", "X25519MLKEM768", "mldsa65", "ML-DSA-65")
	r.attempt(t, "classical").expect(t, true, "", "X25519", "mldsa65", "ML-DSA-65")
	r.attempt(t, "mldsa").expect(t, true, "", "X25519MLKEM768", "mldsa65", "ML-DSA-65")
	r.attempt(t, "mldsa-certs").expect(t, true, "", "X25519MLKEM768", "mldsa65", "ML-DSA-65")
	r.attempt(t, "no-mldsa").expect(t, true, "", "X25519MLKEM768", "ecdsa_secp256r1_sha256", "ECDSA P-256")
	r.attempt(t, "tls12").expect(t, true, "", "X25519", "ecdsa_secp256r1_sha256", "ECDSA P-256")
	// What the proxy saw: one TLS 1.3 ClientHello without ML-DSA, and the
	// ECDSA chain chosen for it.
	var without int
	for i, l := range p.snapshot() {
		if l["msg"] != "client hello" || l["versions"] != "TLS 1.3" || strings.Contains(strings.ToLower(l["signature_algorithms"].(string)), "mldsa") {
			continue
		}
		without++
		for _, next := range p.snapshot()[i+1:] {
			if next["msg"] == "chain chosen" {
				if next["key"] != "ECDSA P-256" {
					t.Errorf("the proxy chose %v for the ClientHello without ML-DSA", next["key"])
				}
				break
			}
		}
	}
	if without != 1 {
		t.Errorf("the proxy saw %d ClientHellos without ML-DSA, want 1", without)
	}
}

// In strict mode the classical attempt is refused with the alert, and
// the proxy logs why; the endpoint is still PQ-ready, exit 0.
func TestProbeProxyStrict(t *testing.T) {
	p := startProxy(t, servingBothChains(echoBackend(t), "--pqc-mode", "strict")...)
	r, code := runProbe(t, p.addr, "--ca", pki("ca.crt"))
	if code != 0 || r.Verdict != "pq-ready" {
		t.Errorf("exit %d, verdict %s: %s", code, r.Verdict, r.Reason)
	}
	r.attempt(t, "hybrid").expect(t, true, "", "X25519MLKEM768", "mldsa65", "ML-DSA-65")
	r.attempt(t, "classical").expect(t, false, "handshake_failure", "", "", "")
	if rec := p.wait(t, "handshake refused"); rec["reason"] != "no_pq_group" {
		t.Errorf("proxy log: %v", rec)
	}
}

// In classical mode (no hybrid groups) the proxy is not PQ-ready: exit 2.
func TestProbeProxyClassical(t *testing.T) {
	p := startProxy(t, servingBothChains(echoBackend(t), "--pqc-mode", "classical")...)
	r, code := runProbe(t, p.addr, "--ca", pki("ca.crt"))
	if code != 2 || r.Verdict != "not-pq-ready" || r.PQGroup != "" {
		t.Errorf("exit %d, verdict %s, group %s: %s", code, r.Verdict, r.PQGroup, r.Reason)
	}
	r.attempt(t, "hybrid").expect(t, false, "handshake_failure", "", "", "")
	r.attempt(t, "classical").expect(t, true, "", "X25519", "mldsa65", "ML-DSA-65")
}

// sClientNegotiated runs s_client against addr with its defaults and
// extra arguments, sends nothing, and returns what OpenSSL prints as
// negotiated: the group, the peer's signature type, and the CA names of a
// certificate request.
func sClientNegotiated(t *testing.T, addr string, extra ...string) (group, sig string, cas []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl(t), append([]string{"s_client", "-connect", addr, "-servername", "localhost"}, extra...)...)
	cmd.Stdin = strings.NewReader("")
	out, _ := cmd.CombinedOutput()
	inCAs := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "Negotiated TLS1.3 group: "):
			group = strings.TrimPrefix(line, "Negotiated TLS1.3 group: ")
		case strings.HasPrefix(line, "Peer signature type: "):
			sig = strings.TrimPrefix(line, "Peer signature type: ")
		case line == "Acceptable client certificate CA names":
			inCAs = true
		case inCAs && strings.Contains(line, "="):
			cas = append(cas, line)
		default:
			inCAs = false
		}
	}
	if group == "" || sig == "" {
		t.Fatalf("s_client %v printed no group or signature type:\n%s", extra, out)
	}
	return group, sig, cas
}

// The probe against OpenSSL 3.5 s_server reports what OpenSSL itself
// prints as negotiated: the group and the peer's signature type, for the
// attempt whose ClientHello is s_client's kind.
func TestProbeOpenSSLServer(t *testing.T) {
	issuedCert, issuedKey := mldsaKeyECDSAIssued(t)
	for _, tc := range []struct {
		name      string
		cert, key string
		// like is the probe's attempt that offers what s_client offers
		// by default (ML-DSA for certificates too); goRefused: a Go
		// client is refused, its chain being signed with ML-DSA.
		like      string
		goRefused bool
		scheme    string
	}{
		{"ML-DSA-65 chain", pki("server-mldsa.crt"), pki("server-mldsa.key"), "mldsa-certs", true, "mldsa65"},
		{"ML-DSA-65 key issued by ECDSA", issuedCert, issuedKey, "mldsa", false, "mldsa65"},
		{"ECDSA chain", pki("server-ecdsa.crt"), pki("server-ecdsa.key"), "mldsa", false, "ecdsa_secp256r1_sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := sServer(t, tc.cert, tc.key)
			group, sig, _ := sClientNegotiated(t, addr)
			r, code := runProbe(t, addr, "--ca", pki("ca.crt"))
			a := r.attempt(t, tc.like)
			if a.Group != group || a.SignatureScheme != sig || !a.OK || sig != tc.scheme {
				t.Errorf("probe %s: group %q, scheme %q, ok %v (%s); OpenSSL printed group %q, peer signature type %q",
					a.Name, a.Group, a.SignatureScheme, a.OK, a.Error, group, sig)
			}
			if code != 0 || r.Verdict != "pq-ready" || r.MLDSA != (tc.scheme == "mldsa65") {
				t.Errorf("exit %d, verdict %s, ML-DSA %v: %s", code, r.Verdict, r.MLDSA, r.Reason)
			}
			if go13 := r.attempt(t, "mldsa"); tc.goRefused && (go13.OK || go13.Alert != "handshake_failure") {
				t.Errorf("a Go client was served a chain signed with ML-DSA by OpenSSL: %+v", go13)
			}
			// Without ML-DSA, as s_client with only classical signature
			// algorithms: the same choice, or both refused.
			nm := r.attempt(t, "no-mldsa")
			if tc.scheme == "ecdsa_secp256r1_sha256" {
				g, s, _ := sClientNegotiated(t, addr, "-sigalgs", "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:ed25519")
				if nm.Group != g || nm.SignatureScheme != s {
					t.Errorf("no-mldsa: group %q scheme %q; OpenSSL printed %q, %q", nm.Group, nm.SignatureScheme, g, s)
				}
			} else if nm.OK || nm.Alert != "handshake_failure" {
				t.Errorf("no-mldsa against an ML-DSA key: ok %v, alert %q (%s)", nm.OK, nm.Alert, nm.Error)
			}
		})
	}
}

// s_server asking for a client certificate (-Verify 1 with -CAfile):
// every attempt reports the request and the CA names OpenSSL lists (as
// s_client prints them), the attempt without a certificate is refused
// after the handshake with certificate_required, and the one with a
// client certificate (an ML-DSA key issued by the ECDSA root, which
// OpenSSL accepts from Go) is served.
func TestProbeOpenSSLClientCertificate(t *testing.T) {
	addr := sServer(t, pki("server-ecdsa.crt"), pki("server-ecdsa.key"), "-Verify", "1", "-CAfile", pki("ca.crt"))
	_, _, cas := sClientNegotiated(t, addr)
	if len(cas) != 2 {
		t.Fatalf("s_client printed CA names %q", cas)
	}
	r, code := runProbe(t, addr, "--ca", pki("ca.crt"), "--cert", pki("client-mldsa-ecdsa-issued.crt"), "--key", pki("client-mldsa-ecdsa-issued.key"))
	if code != 0 {
		t.Errorf("exit %d: %s", code, r.Reason)
	}
	for _, a := range r.Attempts {
		if a.Name == "tls12" {
			continue
		}
		if !a.ClientCertRequested || !sameNames(a.ClientCertCAs, cas) {
			t.Errorf("%s: requested %v, CA names %q; OpenSSL printed %q", a.Name, a.ClientCertRequested, a.ClientCertCAs, cas)
		}
	}
	hybrid := r.attempt(t, "hybrid")
	if hybrid.OK || !hybrid.Handshake || hybrid.Alert != "certificate_required" || hybrid.ClientCertSent {
		t.Errorf("hybrid without a client certificate: %+v", hybrid)
	}
	if cc := r.attempt(t, "client-cert"); !cc.OK || !cc.ClientCertSent || cc.Group != "X25519MLKEM768" {
		t.Errorf("client-cert: %+v", cc)
	}
}

// sameNames compares distinguished names as Go writes them (RFC 4514:
// "CN=a,O=b", most specific first) with OpenSSL's ("O=b, CN=a").
func sameNames(goNames, opensslNames []string) bool {
	norm := func(s string, sep string) string {
		parts := strings.Split(s, sep)
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		slices.Sort(parts)
		return strings.Join(parts, ",")
	}
	if len(goNames) != len(opensslNames) {
		return false
	}
	for i := range goNames {
		if norm(goNames[i], ",") != norm(opensslNames[i], ", ") {
			return false
		}
	}
	return true
}
