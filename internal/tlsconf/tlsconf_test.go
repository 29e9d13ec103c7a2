package tlsconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

func TestIsPQ(t *testing.T) {
	for id, want := range map[tls.CurveID]bool{
		tls.X25519MLKEM768: true, tls.SecP256r1MLKEM768: true, tls.SecP384r1MLKEM1024: true, tls.MLKEM1024: true,
		tls.X25519: false, tls.CurveP256: false, tls.CurveP384: false, 0: false,
	} {
		if IsPQ(id) != want {
			t.Errorf("IsPQ(%s) = %v", id, !want)
		}
	}
}

func TestMatchName(t *testing.T) {
	for _, tc := range []struct {
		names []string
		sni   string
		want  bool
	}{
		{[]string{"pq.example.com"}, "pq.example.com", true},
		{[]string{"pq.example.com"}, "PQ.Example.com.", true},
		{[]string{"*.example.com"}, "a.example.com", true},
		{[]string{"*.example.com"}, "a.b.example.com", false},
		{[]string{"*.example.com"}, "example.com", false},
		{[]string{"*.example.com"}, ".example.com", false},
		{[]string{"pq.example.com"}, "", false},
	} {
		if got := matchName(tc.names, tc.sni); got != tc.want {
			t.Errorf("matchName(%v, %q) = %v", tc.names, tc.sni, got)
		}
	}
}

func TestClassify(t *testing.T) {
	strict := &Server{Mode: config.PQCStrict}
	hybrid := &Server{Mode: config.PQCHybrid}
	for _, tc := range []struct {
		s     *Server
		err   error
		hello Hello
		want  string
	}{
		{hybrid, os.ErrDeadlineExceeded, Hello{}, ReasonTimeout},
		{hybrid, tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, Hello{}, ReasonNotTLS},
		{hybrid, io.EOF, Hello{}, ReasonClientGone},
		{strict, errors.New("tls: no ECDHE curve supported by both client and server"), Hello{Seen: true}, ReasonNoPQGroup},
		{strict, fmt.Errorf("wrapped: %w", errClientKeyNotMLDSA), Hello{Seen: true, PQOffered: true}, ReasonClientKeyNotPQ},
		{hybrid, errors.New("tls: client didn't provide a certificate"), Hello{Seen: true}, ReasonNoClientCert},
		{hybrid, errors.New("tls: no certificates configured"), Hello{Seen: true, NoChain: true}, ReasonUnrecognizedName},
		{hybrid, errors.New("tls: client sent unexpected early data"), Hello{Seen: true, PQOffered: true}, ReasonEarlyData},
		{strict, fmt.Errorf("wrapped: %w", errClientIssuerNotMLDSA), Hello{Seen: true, PQOffered: true}, ReasonClientChainNotPQ},
		{hybrid, errors.New("remote error: tls: bad certificate"), Hello{Seen: true}, ReasonClientRefused},
		{hybrid, errors.New("tls: no cipher suite supported by both client and server; client offered: [c027]"), Hello{Seen: true}, ReasonNoSharedCipher},
		{hybrid, errors.New("tls: peer doesn't support any of the certificate's signature algorithms"), Hello{Seen: true}, ReasonNoSharedSigAlg},
		{hybrid, errors.New("tls: ML-DSA certificates require TLS 1.3, but client negotiated TLS 1.2"), Hello{Seen: true}, ReasonNoSharedSigAlg},
		{hybrid, errors.New("tls: something else"), Hello{Seen: true}, ReasonOther},
	} {
		if got, _ := tc.s.Classify(tc.err, &tc.hello); got != tc.want {
			t.Errorf("Classify(%v, %+v) = %s, want %s", tc.err, tc.hello, got, tc.want)
		}
	}
}

func TestWarnsAboutExpiredChain(t *testing.T) {
	// testdata/mldsa65.crt is valid for 100 years; a chain outside its
	// validity is reported by file.
	s := &Server{Mode: config.PQCHybrid, names: [][]string{nil}}
	ch, err := certs.LoadChain("../../testdata/mldsa65.crt", "../../testdata/mldsa65-seed.key")
	if err != nil {
		t.Fatal(err)
	}
	s.Chains = []*certs.Chain{ch}
	for _, w := range s.Warnings() {
		if strings.Contains(w, "not valid now") {
			t.Fatalf("valid chain reported: %s", w)
		}
	}
	ch.TLS.Leaf.NotAfter = time.Now().Add(-time.Hour)
	found := false
	for _, w := range s.Warnings() {
		found = found || strings.HasPrefix(w, "../../testdata/mldsa65.crt: certificate is not valid now: expired")
	}
	if !found {
		t.Errorf("no expiry warning in %q", s.Warnings())
	}
}

// Ticket keys rotate every TicketKeyRotation and open tickets for
// TicketKeyLifetime; a session older than MaxSessionAge does not resume,
// however often it was resumed. Real handshakes, on synctest's clock.
func TestTicketKeysAndSessionAge(t *testing.T) {
	dir := t.TempDir()
	if _, err := certs.WriteDevPKI(dir, false); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Certificates = []config.CertPair{
		{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey)},
		{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey)},
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		sessionKeys = keyRing{} // keys made on this bubble's clock
		// The bubble's clock starts in 2000, before the test certificates.
		newClient := func(max uint16) *tls.Config {
			return &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", MaxVersion: max, ClientSessionCache: tls.NewLRUClientSessionCache(1)}
		}
		resumes := func(cc *tls.Config) bool {
			c1, c2 := net.Pipe()
			defer c1.Close()
			defer c2.Close()
			go tls.Server(c1, s.TLS).Handshake()
			c := tls.Client(c2, cc)
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			// TLS 1.3 tickets come after the handshake: read until they did.
			c.SetReadDeadline(time.Now().Add(time.Millisecond))
			c.Read(make([]byte, 1))
			return c.ConnectionState().DidResume
		}
		early, late := newClient(tls.VersionTLS13), newClient(tls.VersionTLS13)
		for _, cc := range []*tls.Config{early, late} {
			if resumes(cc) {
				t.Fatal("first connection resumed")
			}
		}
		time.Sleep(TicketKeyLifetime - time.Second)
		if !resumes(early) {
			t.Fatalf("a ticket stopped opening before its key's lifetime (%s)", TicketKeyLifetime)
		}
		time.Sleep(time.Second)
		if resumes(late) {
			t.Fatalf("a ticket still opens after its key's lifetime (%s)", TicketKeyLifetime)
		}
		// A TLS 1.2 session keeps its master secret across resumptions, a
		// TLS 1.3 one gets a new secret each time: both end MaxSessionAge
		// after the full handshake.
		for _, max := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			chained := newClient(max)
			resumes(chained) // a full handshake
			for elapsed := 2 * time.Hour; elapsed <= MaxSessionAge+2*time.Hour; elapsed += 2 * time.Hour {
				time.Sleep(2*time.Hour - time.Second)
				if got, want := resumes(chained), elapsed <= MaxSessionAge; got != want {
					t.Fatalf("%s session %s old: resumed %v, want %v", tls.VersionName(max), elapsed-time.Second, got, want)
				}
				time.Sleep(time.Second)
			}
		}
	})
	x := &session{created: time.Unix(1e9, 0), alg: "ML-DSA-65", sni: "pq.example.com"}
	x.policy[0], x.leaf[31] = 1, 2
	got, ok := parseSession([][]byte{[]byte("other"), x.marshal()})
	if !ok || *got != *x {
		t.Fatalf("parseSession(marshal(%+v)) = %+v, %v", x, got, ok)
	}
}

// BenchmarkConfigFor measures what each handshake pays for its
// per-connection config: a shallow Clone and three closures.
func BenchmarkConfigFor(b *testing.B) {
	cfg := config.Default()
	cfg.Certificates = []config.CertPair{{CertPath: "../../testdata/mldsa65.crt", KeyPath: "../../testdata/mldsa65-seed.key"}}
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	chi := &tls.ClientHelloInfo{ServerName: "localhost", SupportedCurves: []tls.CurveID{tls.X25519MLKEM768}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.configFor(chi); err != nil {
			b.Fatal(err)
		}
	}
}

// check explains strict name binding: with every chain bound to names,
// clients asking for none are refused with unrecognized_name.
func TestDescribeNameBinding(t *testing.T) {
	cfg := config.Default()
	cfg.Certificates = []config.CertPair{{CertPath: "../../testdata/mldsa65.crt", KeyPath: "../../testdata/mldsa65-seed.key", ServerNames: []string{"pq.example.com"}}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	s.Describe(&b, time.Now())
	for _, want := range []string{
		"  served only for server names [pq.example.com], never to clients asking for another name or none\n",
		"every chain is bound to server names: clients asking for other names, or for none, are refused (unrecognized_name)\n",
		"clients asking for no server name, or a name no chain is bound to:\n  PQ client advertising ML-DSA (OpenSSL 3.5, Go 1.27, Chromium 156):\n    refused (unrecognized_name): every chain is bound to server names\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, b.String())
		}
	}
}

// check warns about bindings that cannot work: a server name the bound
// certificate does not cover, and the strict-issuer option outside strict
// mode; a covered name gets no warning.
func TestWarnsAboutBindingsThatCannotWork(t *testing.T) {
	cfg := config.Default()
	cfg.StrictClientClassicalIssuer = true
	cfg.Certificates = []config.CertPair{{CertPath: "../../testdata/mldsa65.crt", KeyPath: "../../testdata/mldsa65-seed.key",
		ServerNames: []string{"localhost", "pq.example.com", "*.example.com"}}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(s.Warnings(), "\n")
	for _, want := range []string{
		`../../testdata/mldsa65.crt is bound to server name "pq.example.com", which the certificate does not cover; clients asking for it will refuse the certificate`,
		`../../testdata/mldsa65.crt is bound to server name "*.example.com", which the certificate does not cover; clients asking for it will refuse the certificate`,
		"strict_client_classical_issuer does nothing unless pqc_mode is strict",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, `"localhost"`) {
		t.Errorf("a covered name was warned about:\n%s", got)
	}
}
