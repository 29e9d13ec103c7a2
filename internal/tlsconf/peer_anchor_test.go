package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// An intermediate CA must be in ca_cert_path for the CRL it publishes to
// be loaded (README, Revocation), which makes it a trust anchor as well:
// crypto/tls then verifies a client that presents its leaf alone as the
// chain [leaf, intermediate], which stops there. The root's CRL that
// revokes the intermediate must refuse such a client all the same, and
// not only the client that also sends the intermediate (whose chain
// [leaf, intermediate, root] reaches the root).
func TestRevokedIntermediateInBundle(t *testing.T) {
	dir := t.TempDir()
	if _, err := certs.WriteDevPKI(dir, false); err != nil {
		t.Fatal(err)
	}
	root := issue(t, "Root", 1, nil, true)
	inter := issue(t, "Intermediate", 0x10, root, true)
	leaf := issue(t, "carol", 0xC1, inter, false)

	bundle := filepath.Join(dir, "clients-ca.crt")
	var pemData []byte
	for _, c := range []*x509.Certificate{root.cert, inter.cert} {
		pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(bundle, pemData, 0o644); err != nil {
		t.Fatal(err)
	}
	rootCRL := filepath.Join(dir, "root.crl")
	interCRL := filepath.Join(dir, "inter.crl")
	writeCRL(t, rootCRL, root.cert, root.key, time.Now().Add(time.Hour), 0x10) // revokes the intermediate
	writeCRL(t, interCRL, inter.cert, inter.key, time.Now().Add(time.Hour))    // revokes nothing

	cfg := config.Default()
	cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey)}}
	cfg.ClientCertMode, cfg.CACertPath = config.ClientCertRequired, bundle
	cfg.CRLFiles = []string{rootCRL, interCRL}
	s := newServer(t, cfg)

	for _, tc := range []struct {
		name  string
		chain [][]byte
	}{
		{"leaf and intermediate", [][]byte{leaf.cert.Raw, inter.cert.Raw}},
		{"leaf alone", [][]byte{leaf.cert.Raw}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := clientOf(t, dir, "client-ecdsa")
			cc.Certificates = []tls.Certificate{{Certificate: tc.chain, PrivateKey: leaf.key, Leaf: leaf.cert}}
			_, err := handshake(t, s, cc)
			if !errors.As(err, new(*RevokedError)) {
				t.Fatalf("client under a revoked intermediate: %v; want refused as revoked", err)
			}
		})
	}
}
