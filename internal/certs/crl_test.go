package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/mldsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a CA certificate and its key, for CRLs made in tests.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// newTestCA makes a self-signed CA with a key of kind alg ("ecdsa", "rsa",
// "ed25519", "mldsa") and keyUsage ku.
func newTestCA(t *testing.T, name, alg string, ku x509.KeyUsage) *testCA {
	t.Helper()
	var key crypto.Signer
	var err error
	switch alg {
	case "ecdsa":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "mldsa":
		key, err = mldsa.GenerateKey(mldsa.MLDSA65())
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: ku,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert, key}
}

// reissue makes a new self-signed certificate of ca's name and key, with
// keyUsage ku.
func reissue(t *testing.T, ca *testCA, ku x509.KeyUsage) *x509.Certificate {
	t.Helper()
	tmpl := *ca.cert
	tmpl.KeyUsage = ku
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, ca.key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// crl makes a DER CRL of the CA revoking serials, with extra extensions.
func (ca *testCA) crl(t *testing.T, serials []int64, ext ...pkix.Extension) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(7), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour),
		ExtraExtensions: ext}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: time.Now().Add(-time.Minute), ReasonCode: 1})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemCRL(ders ...[]byte) []byte {
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: d})...)
	}
	return out
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A CRL signed by each kind of CA key loads, PEM or DER, and finds its
// issuer among several CAs; a PEM file may hold several CRLs.
func TestLoadCRLs(t *testing.T) {
	usage := x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	var cas []*x509.Certificate
	var ders [][]byte
	for _, alg := range []string{"ecdsa", "rsa", "ed25519", "mldsa"} {
		ca := newTestCA(t, alg+" CA", alg, usage)
		cas = append(cas, ca.cert)
		ders = append(ders, ca.crl(t, []int64{0x1234, 42}))
	}
	for i, der := range ders {
		for _, form := range []struct {
			name string
			data []byte
		}{{"pem", pemCRL(der)}, {"der", der}} {
			crls, err := LoadCRLs(writeFile(t, "crl."+form.name, form.data), cas, "ca.crt")
			if err != nil {
				t.Fatalf("CRL of %s, %s: %v", cas[i].Subject, form.name, err)
			}
			c := crls[0]
			if len(crls) != 1 || c.Issuer != cas[i] || c.Lookup(big.NewInt(0x1234)) == nil || c.Lookup(big.NewInt(42)) == nil || c.Lookup(big.NewInt(43)) != nil {
				t.Errorf("CRL of %s, %s: issuer %s, lookups wrong", cas[i].Subject, form.name, c.Issuer.Subject)
			}
			if !c.Covers(cas[i]) || c.Covers(cas[(i+1)%len(cas)]) {
				t.Errorf("CRL of %s covers the wrong CAs", cas[i].Subject)
			}
		}
	}
	path := writeFile(t, "all.pem", pemCRL(ders...))
	crls, err := LoadCRLs(path, cas, "ca.crt")
	if err != nil || len(crls) != len(ders) {
		t.Fatalf("%d CRLs, %v", len(crls), err)
	}
	if got, want := crls[1].Name(), path+" (CRL 2 of 4)"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
}

// An ML-DSA-65 CRL made by OpenSSL 3.5 (`openssl ca -gencrl`,
// testdata/gen-crls.sh), PEM and DER.
func TestLoadOpenSSLMLDSACRL(t *testing.T) {
	cas, err := LoadCertificates(td + "crl/mldsa-ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"crl/mldsa-ca.crl", "crl/mldsa-ca.crl.der"} {
		crls, err := LoadCRLs(td+f, cas, "ca.crt")
		if err != nil {
			t.Fatal(err)
		}
		e := crls[0].Lookup(big.NewInt(0x1234))
		if crls[0].List.SignatureAlgorithm != x509.MLDSA65 || e == nil || e.ReasonCode != 1 || ReasonName(e.ReasonCode) != "keyCompromise" {
			t.Errorf("%s: %s, entry %+v", f, crls[0].List.SignatureAlgorithm, e)
		}
	}
}

// Each CRL that cannot be used gets one line naming the file, what is
// wrong and the fix.
func TestLoadCRLsRefuses(t *testing.T) {
	usage := x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	ca := newTestCA(t, "Test CA", "mldsa", usage)
	other := newTestCA(t, "Other CA", "ecdsa", usage)
	impostor := newTestCA(t, "Test CA", "ecdsa", usage) // same name, another key
	mldsaImpostor := newTestCA(t, "Test CA", "mldsa", usage)
	// The CA's own key, in a certificate that does not let it sign CRLs
	// (crypto/x509 would not make the CRL with it).
	noCRLSign := &testCA{cert: reissue(t, impostor, x509.KeyUsageCertSign), key: impostor.key}
	cas := []*x509.Certificate{ca.cert}
	delta := pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 27}, Critical: true, Value: []byte{2, 1, 6}}
	tampered := ca.crl(t, []int64{1})
	tampered[len(tampered)-10] ^= 1
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	for _, tc := range []struct {
		name string
		data []byte
		cas  []*x509.Certificate
		want string // after "<path>: "
	}{
		{"other issuer", pemCRL(other.crl(t, nil)), cas, "issued by CN=Other CA, which is not a CA certificate in ca.crt; add that CA to ca_cert_path, or remove this CRL from crl_files"},
		{"same name, other ML-DSA key", pemCRL(mldsaImpostor.crl(t, nil)), cas, "its signature does not verify with the key of CN=Test CA in ca.crt (x509: ML-DSA verification failure: mldsa: invalid signature); the CRL was signed by another key of that name, or damaged: fetch it again from the CA, or add the CA certificate whose key signed it"},
		{"same name, ECDSA key", pemCRL(impostor.crl(t, nil)), cas, "its signature does not verify with the key of CN=Test CA in ca.crt (x509: signature algorithm specifies an ECDSA public key, but have public key of type *mldsa.PublicKey)"},
		{"tampered", pemCRL(tampered), cas, "its signature does not verify with the key of CN=Test CA in ca.crt"},
		{"CA may not sign CRLs", pemCRL(impostor.crl(t, nil)), []*x509.Certificate{noCRLSign.cert}, "the CA certificate of its issuer CN=Test CA in ca.crt may not sign CRLs (it is not a CA, or its keyUsage lacks cRLSign)"},
		{"delta CRL", pemCRL(ca.crl(t, nil, delta)), cas, "a delta CRL, which lists only the changes since a complete CRL; give the complete CRL instead"},
		{"certificate PEM", certPEM, cas, `holds CERTIFICATE and no CRL (PEM "X509 CRL"); crl_files takes the CRLs the client CAs publish`},
		{"certificate DER", ca.cert.Raw, cas, "a DER certificate, not a CRL"},
		{"garbage", []byte("not a CRL at all\n"), cas, "not a readable CRL ("},
		{"empty", nil, cas, "empty file; give a PEM or DER CRL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "crl.pem", tc.data)
			_, err := LoadCRLs(path, tc.cas, "ca.crt")
			if err == nil || !strings.HasPrefix(err.Error(), path+": "+tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("got  %v\nwant %s: %s", err, path, tc.want)
			}
		})
	}
	_, err := LoadCRLs(filepath.Join(t.TempDir(), "missing.crl"), cas, "ca.crt")
	if err == nil || !strings.Contains(err.Error(), "missing.crl: no such file") {
		t.Errorf("missing file: %v", err)
	}
	// Of two CAs of one name, the one whose key signed the CRL is its issuer.
	crls, err := LoadCRLs(writeFile(t, "crl.pem", pemCRL(ca.crl(t, nil))), []*x509.Certificate{impostor.cert, ca.cert}, "ca.crt")
	if err != nil || crls[0].Issuer != ca.cert {
		t.Errorf("two CAs of one name: %v", err)
	}
	// The second CRL of a file is named as such.
	path := writeFile(t, "two.pem", pemCRL(ca.crl(t, nil), other.crl(t, nil)))
	if _, err := LoadCRLs(path, cas, "ca.crt"); err == nil || !strings.HasPrefix(err.Error(), path+" (CRL 2 of 2): issued by CN=Other CA") {
		t.Errorf("second CRL: %v", err)
	}
}

func TestCRLExpired(t *testing.T) {
	ca := newTestCA(t, "Test CA", "ecdsa", x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
	crls, err := LoadCRLs(writeFile(t, "crl.der", ca.crl(t, nil)), []*x509.Certificate{ca.cert}, "ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	c := crls[0]
	if c.Expired(time.Now()) || !c.Expired(c.List.NextUpdate.Add(time.Second)) {
		t.Errorf("Expired wrong around nextUpdate %s", c.List.NextUpdate)
	}
	c.List.NextUpdate = time.Time{}
	if c.Expired(time.Now().Add(1000 * time.Hour)) {
		t.Error("a CRL without nextUpdate expired")
	}
}
