package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// allowLeaf makes a self-signed certificate with the identity the rules
// look at.
func allowLeaf(t *testing.T, cn string, ous, dns, uris []string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn, OrganizationalUnit: ous},
		DNSNames:     dns,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAllowRules(t *testing.T) {
	alice := allowLeaf(t, "alice", []string{"eng", "ops"}, []string{"alice.example.com", "*.svc.example.com"}, []string{"spiffe://example.org/ns/prod/sa/web"})
	bare := allowLeaf(t, "", nil, nil, nil)
	pin := sha256.Sum256(alice.RawSubjectPublicKeyInfo)
	cases := []struct {
		name  string
		leaf  *x509.Certificate
		cfg   config.Config
		admit bool
	}{
		{"no rules admit all", bare, config.Config{}, true},
		{"cn exact", alice, config.Config{AllowCN: []string{"bob", "alice"}}, true},
		{"cn is case-sensitive", alice, config.Config{AllowCN: []string{"Alice"}}, false},
		{"cn is not a prefix", alice, config.Config{AllowCN: []string{"alic"}}, false},
		{"ou any of several", alice, config.Config{AllowOU: []string{"ops"}}, true},
		{"ou missing", alice, config.Config{AllowOU: []string{"sales"}}, false},
		{"dns exact, any case and final dot", alice, config.Config{AllowDNS: []string{"ALICE.example.com."}}, true},
		{"dns rule wildcard, one label", alice, config.Config{AllowDNS: []string{"*.example.com"}}, true},
		{"dns rule wildcard, not two labels", allowLeaf(t, "", nil, []string{"a.b.example.com"}, nil), config.Config{AllowDNS: []string{"*.example.com"}}, false},
		{"dns rule wildcard, not the bare domain", allowLeaf(t, "", nil, []string{"example.com"}, nil), config.Config{AllowDNS: []string{"*.example.com"}}, false},
		{"dns certificate wildcard matches a rule under it", alice, config.Config{AllowDNS: []string{"api.svc.example.com"}}, true},
		{"dns certificate wildcard, not two labels down", alice, config.Config{AllowDNS: []string{"a.api.svc.example.com"}}, false},
		{"dns certificate wildcard matches the same wildcard", alice, config.Config{AllowDNS: []string{"*.svc.example.com"}}, true},
		{"dns CN is not a DNS SAN", allowLeaf(t, "host.example.com", nil, nil, nil), config.Config{AllowDNS: []string{"host.example.com"}}, false},
		{"uri exact", alice, config.Config{AllowURI: []string{"spiffe://example.org/ns/prod/sa/web"}}, true},
		{"uri prefix with slash", alice, config.Config{AllowURI: []string{"spiffe://example.org/ns/prod/"}}, true},
		{"uri prefix without slash is exact", alice, config.Config{AllowURI: []string{"spiffe://example.org/ns/prod"}}, false},
		{"uri sibling namespace", allowLeaf(t, "", nil, nil, []string{"spiffe://example.org/ns/prod2/sa/web"}), config.Config{AllowURI: []string{"spiffe://example.org/ns/prod/"}}, false},
		{"uri prefix escaped by dot segments", allowLeaf(t, "", nil, nil, []string{"spiffe://example.org/ns/prod/../admin"}), config.Config{AllowURI: []string{"spiffe://example.org/ns/prod/"}}, false},
		{"uri prefix escaped by encoded dot segments", allowLeaf(t, "", nil, nil, []string{"spiffe://example.org/ns/prod/%2E%2e/admin"}), config.Config{AllowURI: []string{"spiffe://example.org/ns/prod/"}}, false},
		{"uri prefix escaped by encoded slashes", allowLeaf(t, "", nil, nil, []string{"spiffe://example.org/ns/prod/x%2F..%2F..%2Fadmin"}), config.Config{AllowURI: []string{"spiffe://example.org/ns/prod/"}}, false},
		{"uri exact rule may hold percent-encoding", allowLeaf(t, "", nil, nil, []string{"urn:x:a%20b"}), config.Config{AllowURI: []string{"urn:x:a%20b"}}, true},
		{"uri other trust domain", alice, config.Config{AllowURI: []string{"spiffe://example.com/ns/prod/"}}, false},
		{"spki base64", alice, config.Config{AllowSPKISHA256: []string{base64.StdEncoding.EncodeToString(pin[:])}}, true},
		{"spki hex", alice, config.Config{AllowSPKISHA256: []string{hex.EncodeToString(pin[:])}}, true},
		{"spki of another key", bare, config.Config{AllowSPKISHA256: []string{hex.EncodeToString(pin[:])}}, false},
		{"any list may admit", alice, config.Config{AllowCN: []string{"bob"}, AllowURI: []string{"spiffe://example.org/"}}, true},
		{"no list admits", alice, config.Config{AllowCN: []string{"bob"}, AllowOU: []string{"sales"}, AllowDNS: []string{"bob.example.com"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAllow(&tc.cfg)
			err := a.Admit(tc.leaf)
			if (err == nil) != tc.admit {
				t.Fatalf("Admit = %v, want admitted %v", err, tc.admit)
			}
			var na *NotAllowedError
			if err != nil && !errors.As(err, &na) {
				t.Fatalf("error %T, want *NotAllowedError", err)
			}
		})
	}
}

// A refusal names the lists checked and what the certificate holds.
func TestAllowRefusalMessage(t *testing.T) {
	leaf := allowLeaf(t, "mallory", []string{"eng"}, []string{"m.example.com"}, []string{"spiffe://example.org/ns/dev/sa/m"})
	a := NewAllow(&config.Config{AllowCN: []string{"alice"}, AllowURI: []string{"spiffe://example.org/ns/prod/"}})
	pin := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	want := `peer certificate matches no allow rule (allow_cn, allow_uri): it has CN="mallory" OU=["eng"] DNS=["m.example.com"] URI=["spiffe://example.org/ns/dev/sa/m"] spki_sha256=` + base64.StdEncoding.EncodeToString(pin[:])
	if err := a.Admit(leaf); err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}
