package tlsconf

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// devPKI writes a development PKI once per test.
func devPKI(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := certs.WriteDevPKI(dir, false); err != nil {
		t.Fatal(err)
	}
	return dir
}

// clientConfig is a client-mode configuration against the dev PKI.
func clientConfig(dir string) *config.Config {
	cfg := config.Default()
	cfg.Mode, cfg.ServerName, cfg.CACertPath, cfg.MinTLSVersion = config.ModeClient, "localhost", filepath.Join(dir, certs.CABundle), "1.3"
	return cfg
}

// testServer is a crypto/tls server on loopback serving one chain of the
// dev PKI with the given groups; it answers every connection with "ok".
func testServer(t *testing.T, dir, name string, groups []tls.CurveID, clientCAs bool) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
	if err != nil {
		ch, lerr := certs.LoadChain(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
		if lerr != nil {
			t.Fatal(err, lerr)
		}
		cert = ch.TLS
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, CurvePreferences: groups}
	if clientCAs {
		pool, _, err := certs.LoadPool(filepath.Join(dir, certs.CABundle))
		if err != nil {
			t.Fatal(err)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
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
				if c.(*tls.Conn).Handshake() == nil {
					c.Write([]byte("ok"))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dialWith connects to addr as client mode does and reads the greeting.
func dialWith(c *Client, addr string) (tls.ConnectionState, *Dialed, error) {
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, nil, err
	}
	defer raw.Close()
	d := new(Dialed)
	tc := tls.Client(raw, c.ConfigFor(d))
	if err := tc.Handshake(); err != nil {
		return tls.ConnectionState{}, d, err
	}
	b := make([]byte, 2)
	if _, err := tc.Read(b); err != nil {
		return tc.ConnectionState(), d, err
	}
	// TLS 1.3 tickets come with or after the first bytes: read on briefly.
	tc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	tc.Read(b)
	return tc.ConnectionState(), d, nil
}

func newClient(t *testing.T, cfg *config.Config) *Client {
	t.Helper()
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pqc_mode strict accepts an ML-DSA server over a hybrid group, and
// refuses an ECDSA one with an error that names its key; hybrid accepts
// both.
func TestClientStrictServerKey(t *testing.T) {
	dir := devPKI(t)
	mldsa := testServer(t, dir, "server-mldsa", nil, false)
	ecdsa := testServer(t, dir, "server-ecdsa", nil, false)
	cfg := clientConfig(dir)
	cfg.PQCMode = config.PQCStrict
	strict := newClient(t, cfg)
	cs, _, err := dialWith(strict, mldsa)
	if err != nil || cs.CurveID != tls.X25519MLKEM768 || !certs.IsMLDSA(cs.PeerCertificates[0].PublicKey) {
		t.Fatalf("strict to an ML-DSA server: %v, %s", err, cs.CurveID)
	}
	_, _, err = dialWith(strict, ecdsa)
	want := "server did not authenticate with ML-DSA: server authenticated with ECDSA P-256; pqc_mode strict requires ML-DSA"
	if err == nil || err.Error() != want {
		t.Fatalf("strict to an ECDSA server: %v\nwant %s", err, want)
	}
	if r, _ := strict.Classify(err); r != ReasonServerKeyNotMLDSA {
		t.Errorf("classified %s", r)
	}
	cfg.PQCMode = config.PQCHybrid
	if _, _, err := dialWith(newClient(t, cfg), ecdsa); err != nil {
		t.Errorf("hybrid to an ECDSA server: %v", err)
	}
}

// A server without hybrid groups refuses strict mode's ClientHello with
// handshake_failure, which names no cause; Explain's second handshake
// finds it and says which group the server chose.
func TestClientStrictClassicalServerIsExplained(t *testing.T) {
	dir := devPKI(t)
	addr := testServer(t, dir, "server-mldsa", []tls.CurveID{tls.X25519}, false)
	cfg := clientConfig(dir)
	cfg.PQCMode = config.PQCStrict
	c := newClient(t, cfg)
	_, _, err := dialWith(c, addr)
	if err == nil {
		t.Fatal("strict mode completed a handshake with a classical-only server")
	}
	dials := 0
	dial := func(ctx context.Context) (net.Conn, error) {
		dials++
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	reason, hint := c.Explain(context.Background(), err, dial)
	if reason != ReasonServerNotPQ || !strings.HasPrefix(hint, "server did not negotiate a hybrid post-quantum group (it chose X25519 ") {
		t.Fatalf("Explain(%v) = %s, %q", err, reason, hint)
	}
	// Within probeInterval the finding is reused, without a connection.
	if r, _ := c.Explain(context.Background(), err, dial); r != ReasonServerNotPQ || dials != 1 {
		t.Errorf("second Explain: %s after %d dials", r, dials)
	}
	// The check in VerifyConnection stands behind the groups offered: a
	// classical group is refused by name.
	if err := c.verify(tls.ConnectionState{CurveID: tls.X25519}); err == nil ||
		err.Error() != "server did not negotiate a hybrid post-quantum group (it chose X25519); pqc_mode strict requires X25519MLKEM768, SecP256r1MLKEM768 or SecP384r1MLKEM1024" {
		t.Errorf("verify: %v", err)
	}
}

// The chain presented is the first one the server's certificate request
// accepts; none is presented without chains.
func TestClientPresentsChain(t *testing.T) {
	dir := devPKI(t)
	addr := testServer(t, dir, "server-mldsa", nil, true)
	cfg := clientConfig(dir)
	if _, _, err := dialWith(newClient(t, cfg), addr); err == nil {
		// TLS 1.3: the server refuses after the client's Finished, on
		// the first read.
		t.Fatal("served without a client certificate")
	} else if r, _ := newClient(t, cfg).Classify(err); r != ReasonServerWantsCert {
		t.Errorf("without a chain: %v classified %s", err, r)
	}
	cfg.Certificates = []config.CertPair{
		{CertPath: filepath.Join(dir, certs.ClientMLDSACert), KeyPath: filepath.Join(dir, certs.ClientMLDSAKey)},
		{CertPath: filepath.Join(dir, certs.ClientECDSACert), KeyPath: filepath.Join(dir, certs.ClientECDSAKey)},
	}
	_, d, err := dialWith(newClient(t, cfg), addr)
	if err != nil || !d.Asked || d.Chain == nil || d.Chain.Algorithm() != "ML-DSA-65" {
		t.Fatalf("%v, %+v", err, d)
	}
}

// Reconnects resume, also with the client of a reload that keeps the
// policy; a policy change (here an allow rule) starts a new cache.
// crypto/tls runs VerifyConnection on a resumed handshake too, so the
// strict check holds for it.
func TestClientSessionCacheAcrossReloads(t *testing.T) {
	dir := devPKI(t)
	addr := testServer(t, dir, "server-mldsa", nil, false)
	cfg := clientConfig(dir)
	c := newClient(t, cfg)
	for i, want := range []bool{false, true} {
		cs, _, err := dialWith(c, addr)
		if err != nil || cs.DidResume != want {
			t.Fatalf("connection %d: resumed %v, %v", i+1, cs.DidResume, err)
		}
	}
	same := newClient(t, clientConfig(dir))
	if cs, _, err := dialWith(same, addr); err != nil || !cs.DidResume {
		t.Fatalf("after a reload with the same policy: resumed %v, %v", cs.DidResume, err)
	}
	cfg = clientConfig(dir)
	cfg.AllowDNS = []string{"localhost"}
	changed := newClient(t, cfg)
	if cs, _, err := dialWith(changed, addr); err != nil || cs.DidResume {
		t.Fatalf("after an allow rule was added: resumed %v, %v", cs.DidResume, err)
	}
	cfg.PQCMode = config.PQCStrict
	strict := newClient(t, cfg)
	strict.TLS.ClientSessionCache = changed.TLS.ClientSessionCache // as if the policy had kept it
	called := 0
	strict.TLS.VerifyConnection = func(cs tls.ConnectionState) error {
		called++
		if !cs.DidResume || len(cs.PeerCertificates) == 0 {
			t.Errorf("resumed %v with %d certificates", cs.DidResume, len(cs.PeerCertificates))
		}
		return strict.verify(cs)
	}
	if cs, _, err := dialWith(strict, addr); err != nil || !cs.DidResume || called != 1 {
		t.Fatalf("resumed %v, VerifyConnection called %d times, %v", cs.DidResume, called, err)
	}
}

// The allow rules apply to the server's certificate; a refusal names them.
func TestClientAllowRules(t *testing.T) {
	dir := devPKI(t)
	addr := testServer(t, dir, "server-ecdsa", nil, false)
	cfg := clientConfig(dir)
	cfg.AllowDNS = []string{"other.example"}
	c := newClient(t, cfg)
	_, _, err := dialWith(c, addr)
	var na *NotAllowedError
	if !errors.As(err, &na) || na.Rules != "allow_dns" {
		t.Fatalf("%v", err)
	}
	if r, _ := c.Classify(err); r != ReasonServerNotAllowed {
		t.Errorf("classified %s", r)
	}
	cfg.AllowDNS = []string{"localhost"}
	if _, _, err := dialWith(newClient(t, cfg), addr); err != nil {
		t.Error(err)
	}
}

// Today's Go lists ML-DSA-44/65/87 in every ClientHello: the parser finds
// them in a real one. When this fails, a Go release changed that, and
// advertise_mldsa's refusal must be looked at again.
func TestDefaultClientHelloListsMLDSA(t *testing.T) {
	hello, err := buildClientHello()
	if err != nil {
		t.Fatal(err)
	}
	schemes, err := helloSignatureSchemes(hello)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []tls.SignatureScheme{0x0904, 0x0905, 0x0906} {
		if !slices.Contains(schemes, s) {
			t.Errorf("ClientHello signature_algorithms %v lacks %#04x", schemes, uint16(s))
		}
	}
	if err := mldsaOmitted(hello); err != errMLDSAStillListed {
		t.Errorf("mldsaOmitted(default hello) = %v", err)
	}
}

// advertise_mldsa false is refused on a Go that cannot leave ML-DSA out,
// with the message that says so, and GODEBUG is as it was; a ClientHello
// without ML-DSA (what a Go with tlsmldsa would build) passes the check.
func TestAdvertiseMLDSAFalse(t *testing.T) {
	t.Setenv("GODEBUG", "x509sha1=0")
	cfg := clientConfig(devPKI(t))
	cfg.AdvertiseMLDSA = false
	_, err := NewClient(cfg)
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0] != errMLDSAStillListed {
		t.Fatalf("NewClient with advertise_mldsa false: %v", err)
	}
	want := "advertise_mldsa: false is not possible with this build: its Go (" + runtime.Version() + ") lists ML-DSA in every ClientHello even with GODEBUG tlsmldsa=0 (golang.org/issue/81199); remove advertise_mldsa, or have the middlebox let this host's TLS through uninspected"
	if got := ce.Problems[0].Error(); got != want {
		t.Errorf("message:\n%s\nwant:\n%s", got, want)
	}
	if v := os.Getenv("GODEBUG"); v != "x509sha1=0" {
		t.Errorf("GODEBUG left as %q", v)
	}
	without := fakeHello([]tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256, tls.Ed25519})
	if err := mldsaOmitted(without); err != nil {
		t.Errorf("a ClientHello without ML-DSA: %v", err)
	}
	with := fakeHello([]tls.SignatureScheme{tls.MLDSA65, tls.ECDSAWithP256AndSHA256})
	if err := mldsaOmitted(with); err != errMLDSAStillListed {
		t.Errorf("a ClientHello with ML-DSA-65: %v", err)
	}
	if _, err := helloSignatureSchemes(with[:len(with)-3]); err == nil {
		t.Error("a truncated ClientHello parsed")
	}
}

// Apply puts tlsmldsa=0 in GODEBUG for a client that leaves ML-DSA out,
// and takes out only what it put there.
func TestApplyGodebug(t *testing.T) {
	t.Setenv("GODEBUG", "x509sha1=0")
	(&Client{OmitMLDSA: true}).Apply()
	if v := os.Getenv("GODEBUG"); v != "x509sha1=0,tlsmldsa=0" {
		t.Errorf("GODEBUG %q", v)
	}
	(&Client{}).Apply()
	if v := os.Getenv("GODEBUG"); v != "x509sha1=0" {
		t.Errorf("GODEBUG %q", v)
	}
	os.Setenv("GODEBUG", "tlsmldsa=0") // the operator's own
	(&Client{}).Apply()
	if v := os.Getenv("GODEBUG"); v != "tlsmldsa=0" {
		t.Errorf("the operator's GODEBUG was changed: %q", v)
	}
}

// fakeHello is a minimal ClientHello record whose signature_algorithms
// lists schemes.
func fakeHello(schemes []tls.SignatureScheme) []byte {
	var list []byte
	for _, s := range schemes {
		list = binary.BigEndian.AppendUint16(list, uint16(s))
	}
	ext := binary.BigEndian.AppendUint16(nil, 13)
	ext = binary.BigEndian.AppendUint16(ext, uint16(2+len(list)))
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(list)))
	ext = append(ext, list...)
	hello := []byte{3, 3}
	hello = append(hello, make([]byte, 32)...)
	hello = append(hello, 0)                // session id
	hello = append(hello, 0, 2, 0x13, 0x01) // one cipher suite
	hello = append(hello, 1, 0)             // null compression
	hello = binary.BigEndian.AppendUint16(hello, uint16(len(ext)))
	hello = append(hello, ext...)
	msg := []byte{1, 0, byte(len(hello) >> 8), byte(len(hello))}
	msg = append(msg, hello...)
	rec := []byte{22, 3, 1}
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(msg)))
	return append(rec, msg...)
}

// In client mode the CRLs apply to the server's certificate: a revoked
// server is refused, and the log's reason says so.
func TestClientRevokedServer(t *testing.T) {
	dir := devPKI(t)
	addr := testServer(t, dir, "server-ecdsa", nil, false)
	leaf, err := certs.LoadCertificates(filepath.Join(dir, certs.ServerECDSACert))
	if err != nil {
		t.Fatal(err)
	}
	root, err := certs.LoadCertificates(filepath.Join(dir, certs.ECDSARootCert))
	if err != nil {
		t.Fatal(err)
	}
	rootKey, _, err := certs.LoadKey(filepath.Join(dir, certs.ECDSARootKey))
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientConfig(dir)
	cfg.CRLFiles = []string{filepath.Join(t.TempDir(), "crl.pem")}
	writeCRLSerial(t, cfg.CRLFiles[0], root[0], rootKey, new(big.Int).Add(leaf[0].SerialNumber, big.NewInt(1)))
	if _, _, err := dialWith(newClient(t, cfg), addr); err != nil {
		t.Fatalf("a CRL that lists another serial: %v", err)
	}
	writeCRLSerial(t, cfg.CRLFiles[0], root[0], rootKey, leaf[0].SerialNumber)
	c := newClient(t, cfg)
	_, _, err = dialWith(c, addr)
	var revoked *RevokedError
	if !errors.As(err, &revoked) || revoked.Serial.Cmp(leaf[0].SerialNumber) != 0 {
		t.Fatalf("%v", err)
	}
	if r, _ := c.Classify(err); r != ReasonServerRevoked {
		t.Errorf("classified %s", r)
	}
}
