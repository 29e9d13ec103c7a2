package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// issuer is a CA (or any certificate) with its key, to issue from.
type issuer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// issue makes a certificate named cn with the given serial, signed by
// parent (self-signed when parent is nil); ca makes it a CA.
func issue(t *testing.T, cn string, serial int64, parent *issuer, ca bool) *issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	if ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	signer, signerKey := tmpl, crypto.Signer(key)
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, key.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issuer{cert, key}
}

// crlOf makes the CRL of ca revoking serials, valid until next, and
// loads it as crl_files would.
func crlOf(t *testing.T, ca *issuer, next time.Time, serials ...int64) *certs.CRL {
	t.Helper()
	path := filepath.Join(t.TempDir(), "crl.pem")
	writeCRL(t, path, ca.cert, ca.key, next, serials...)
	crls, err := certs.LoadCRLs(path, []*x509.Certificate{ca.cert}, "ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	return crls[0]
}

// writeCRL writes, as PEM, the CRL of the CA cert (key) revoking serials.
func writeCRL(t *testing.T, path string, cert *x509.Certificate, key crypto.Signer, next time.Time, serials ...int64) {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: next.Add(-24 * time.Hour), NextUpdate: next}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: time.Unix(1.8e9, 0), ReasonCode: 1})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// state is what crypto/tls hands VerifyConnection for a peer with these
// verified chains.
func state(chains ...[]*x509.Certificate) tls.ConnectionState {
	return tls.ConnectionState{PeerCertificates: chains[0][:1], VerifiedChains: chains}
}

func chain(is ...*issuer) []*x509.Certificate {
	out := make([]*x509.Certificate, len(is))
	for i, c := range is {
		out[i] = c.cert
	}
	return out
}

func TestPeerCheckRevocation(t *testing.T) {
	now := time.Now()
	root := issue(t, "Root", 1, nil, true)
	inter := issue(t, "Intermediate", 0x10, root, true)
	other := issue(t, "Other Root", 1, nil, true)
	twin := issue(t, "Root", 1, nil, true) // the root's name, another key
	a := issue(t, "a", 0xA1, root, false)
	b := issue(t, "b", 0xB1, root, false)
	viaInter := issue(t, "c", 0xA1, inter, false) // a's serial, another issuer
	fromOther := issue(t, "d", 0xA1, other, false)
	fromTwin := issue(t, "e", 0xA1, twin, false)
	fresh := crlOf(t, root, now.Add(time.Hour), 0xA1, 0x10)
	expired := crlOf(t, root, now.Add(-time.Minute), 0xA1)

	for _, tc := range []struct {
		name         string
		crls         []*certs.CRL
		allowExpired bool
		cs           tls.ConnectionState
		want         string // the error, "" to admit
	}{
		{"revoked leaf", []*certs.CRL{fresh}, false, state(chain(a, root)),
			"peer certificate CN=a (serial A1) is revoked by the CRL of CN=Root (" + fresh.Path + ") since 2027-01-15T08:00:00Z, reason keyCompromise"},
		{"leaf not listed", []*certs.CRL{fresh}, false, state(chain(b, root)), ""},
		{"revoked intermediate", []*certs.CRL{fresh}, false, state(chain(viaInter, inter, root)),
			"issuer 1 of the peer certificate CN=Intermediate (serial 10) is revoked by the CRL of CN=Root"},
		{"revoked in one of two verified chains", []*certs.CRL{fresh}, false, state(chain(viaInter, inter, other), chain(viaInter, inter, root)),
			"issuer 1 of the peer certificate CN=Intermediate (serial 10)"},
		{"a listed serial from an issuer without CRL", []*certs.CRL{fresh}, false, state(chain(fromOther, other)), ""},
		{"a listed serial from an issuer of the same name, another key", []*certs.CRL{fresh}, false, state(chain(fromTwin, twin)), ""},
		{"expired CRL refuses everyone", []*certs.CRL{fresh, expired}, false, state(chain(fromOther, other)),
			"the CRL of CN=Root (" + expired.Path + ") is past its nextUpdate"},
		{"expired CRL allowed: others admitted", []*certs.CRL{expired}, true, state(chain(b, root)), ""},
		{"expired CRL allowed: still revokes", []*certs.CRL{expired}, true, state(chain(a, root)), "peer certificate CN=a (serial A1) is revoked"},
		{"no verified chain", []*certs.CRL{fresh}, false, tls.ConnectionState{PeerCertificates: []*x509.Certificate{b.cert}},
			"peer certificate has no verified chain to check revocation along"},
		{"no certificate", []*certs.CRL{expired}, false, tls.ConnectionState{}, ""},
		{"no CRLs", nil, false, state(chain(a, root)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &PeerCheck{CRLs: tc.crls, AllowExpiredCRL: tc.allowExpired, now: func() time.Time { return now }}
			err := p.Check(tc.cs)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

// A CRL that expires while loaded refuses from then on, without a reload.
func TestCRLExpiresWhileLoaded(t *testing.T) {
	root := issue(t, "Root", 1, nil, true)
	b := issue(t, "b", 0xB1, root, false)
	next := time.Now().Add(time.Hour)
	clock := next.Add(-time.Second)
	p := &PeerCheck{CRLs: []*certs.CRL{crlOf(t, root, next)}, now: func() time.Time { return clock }}
	if err := p.Check(state(chain(b, root))); err != nil {
		t.Fatalf("before nextUpdate: %v", err)
	}
	clock = next.Add(time.Second)
	var ce *CRLExpiredError
	if err := p.Check(state(chain(b, root))); !errors.As(err, &ce) || !ce.NextUpdate.Equal(next.Truncate(time.Second)) {
		t.Fatalf("after nextUpdate: %v", err)
	}
}

// Revocation comes before the allow rules: a revoked client that no rule
// admits either is refused as revoked.
func TestRevokedBeforeNotAllowed(t *testing.T) {
	root := issue(t, "Root", 1, nil, true)
	a := issue(t, "a", 0xA1, root, false)
	p := &PeerCheck{Allow: Allow{CN: []string{"z"}}, CRLs: []*certs.CRL{crlOf(t, root, time.Now().Add(time.Hour), 0xA1)}}
	if err := p.Check(state(chain(a, root))); !errors.As(err, new(*RevokedError)) {
		t.Fatalf("got %v, want a RevokedError", err)
	}
	p.CRLs = nil
	if err := p.Check(state(chain(a, root))); !errors.As(err, new(*NotAllowedError)) {
		t.Fatalf("got %v, want a NotAllowedError", err)
	}
	if p.Empty() || (&PeerCheck{}).Empty() != true {
		t.Error("Empty wrong")
	}
}

// Each refusal by the peer checks has its reason, and its details for the
// log line.
func TestClassifyPeerRefusals(t *testing.T) {
	s := &Server{Mode: config.PQCHybrid}
	next := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		err    error
		reason string
		attrs  []any
	}{
		{&NotAllowedError{Rules: "allow_cn, allow_uri", Identity: `CN="x"`}, ReasonPeerNotAllowed,
			[]any{"rules", "allow_cn, allow_uri", "peer_identity", `CN="x"`}},
		{&RevokedError{Subject: "CN=a", Serial: big.NewInt(0xABC), Issuer: "CN=Root", CRL: "crl.pem", RevokedAt: next, Reason: 1}, ReasonRevoked,
			[]any{"serial", "0ABC", "subject", "CN=a", "issuer", "CN=Root", "crl", "crl.pem", "revoked_at", "2027-01-02T03:04:05Z", "revocation_reason", "keyCompromise"}},
		{&CRLExpiredError{CRL: "crl.pem", Issuer: "CN=Root", NextUpdate: next}, ReasonCRLExpired,
			[]any{"crl", "crl.pem", "issuer", "CN=Root", "next_update", "2027-01-02T03:04:05Z"}},
	} {
		reason, hint := s.Classify(tc.err, &Hello{Seen: true, PQOffered: true})
		if reason != tc.reason || hint == "" {
			t.Errorf("Classify(%v) = %s, %q; want %s", tc.err, reason, hint, tc.reason)
		}
		if got := RefusalAttrs(tc.err); !equalAttrs(got, tc.attrs) {
			t.Errorf("RefusalAttrs(%v) = %v, want %v", tc.err, got, tc.attrs)
		}
	}
	if RefusalAttrs(errors.New("tls: other")) != nil {
		t.Error("attributes for an unrelated error")
	}
}

func equalAttrs(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
