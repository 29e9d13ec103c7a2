package tlsconf

import (
	"crypto/tls"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// Debug logging costs nothing when the level is above debug: the lines
// of a handshake allocate nothing, so no list is joined and no attribute
// built. Each call below allocates when its guard is taken away.
func TestDebugOffAllocatesNothing(t *testing.T) {
	cfg := config.Default()
	cfg.Certificates = []config.CertPair{{CertPath: "../../testdata/mldsa65.crt", KeyPath: "../../testdata/mldsa65-seed.key"}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	level := new(slog.LevelVar) // info
	h := &Hello{Log: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: level})).With("client", "192.0.2.1:1")}
	h.ticket = &session{alg: "ML-DSA-65"}
	chi := &tls.ClientHelloInfo{ServerName: "localhost", SupportedVersions: []uint16{tls.VersionTLS13},
		SupportedCurves: []tls.CurveID{tls.X25519MLKEM768, tls.X25519}, SignatureSchemes: []tls.SignatureScheme{tls.MLDSA65},
		SupportedProtos: []string{"h2"}, CipherSuites: []uint16{tls.TLS_AES_128_GCM_SHA256}}
	c := s.Chains[0]
	lines := func() {
		debugHello(h, chi)
		s.debugChoice(h, c, whyAnyName)
		s.debugChoice(h, nil, whyNoChain)
		debugTicket(h, "")
		debugTicket(h, ticketPolicy)
	}
	if n := testing.AllocsPerRun(100, lines); n != 0 {
		t.Errorf("debug lines at level info: %v allocations per handshake, want 0", n)
	}
	// The same calls at debug do write, so the measurement above measured
	// something.
	var b strings.Builder
	level.Set(slog.LevelDebug)
	h.Log = slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: level}))
	lines()
	if got := strings.Count(b.String(), "level=DEBUG"); got != 5 {
		t.Errorf("%d debug lines at debug, want 5:\n%s", got, b.String())
	}
}

// A client's lists are clipped: a 64 KiB hello cannot make a long line.
func TestDebugListsAreClipped(t *testing.T) {
	groups := make([]tls.CurveID, 30000)
	for i := range groups {
		groups[i] = tls.CurveID(0x1000 + i)
	}
	got := list(groups, tls.CurveID.String)
	if len(got) > 600 || !strings.HasPrefix(got, "CurveID(4096),CurveID(4097),") || !strings.HasSuffix(got, ",... (30000 in all)") {
		t.Errorf("%d groups listed as %d bytes ending %q", len(groups), len(got), got[max(0, len(got)-40):])
	}
	if got := list([]string{"h2", "http/1.1"}, func(s string) string { return s }); got != "h2,http/1.1" {
		t.Errorf("short list %q", got)
	}
}

// The client hello line names the signature schemes and cipher suites
// clients commonly offer that crypto/tls has no name for (IANA's names),
// and writes any other in hex, as the RFCs do.
func TestDebugHelloNamesAlgorithms(t *testing.T) {
	var b strings.Builder
	level := new(slog.LevelVar)
	level.Set(slog.LevelDebug)
	h := &Hello{Log: slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: level}))}
	debugHello(h, &tls.ClientHelloInfo{SupportedVersions: []uint16{tls.VersionTLS13},
		SignatureSchemes: []tls.SignatureScheme{tls.MLDSA65, 0x0808, 0x081A, 0x081B, 0x081C, 0x0303, 0x0301, 0x0402, tls.ECDSAWithP256AndSHA256, 0xFEFE},
		CipherSuites:     []uint16{tls.TLS_AES_128_GCM_SHA256, 0x009F, 0xCCAA, 0x00FF, 0xFEFE}})
	for _, want := range []string{
		"signature_algorithms=MLDSA65,ed448,ecdsa_brainpoolP256r1tls13_sha256,ecdsa_brainpoolP384r1tls13_sha384,ecdsa_brainpoolP512r1tls13_sha512,ecdsa_sha224,rsa_sha224,dsa_sha256,ECDSAWithP256AndSHA256,0xFEFE ",
		"cipher_suites=TLS_AES_128_GCM_SHA256,TLS_DHE_RSA_WITH_AES_256_GCM_SHA384,TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256,TLS_EMPTY_RENEGOTIATION_INFO_SCSV,0xFEFE ",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in:\n%s", want, b.String())
		}
	}
}
