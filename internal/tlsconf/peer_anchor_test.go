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
	dir := devPKI(t)
	root := issue(t, "Root", 1, nil, true)
	inter := issue(t, "Intermediate", 0x10, root, true)
	leaf := issue(t, "carol", 0xC1, inter, false)
	rootCRL := filepath.Join(dir, "root.crl")
	interCRL := filepath.Join(dir, "inter.crl")
	writeCRL(t, rootCRL, root.cert, root.key, time.Now().Add(time.Hour), 0x10) // revokes the intermediate
	writeCRL(t, interCRL, inter.cert, inter.key, time.Now().Add(time.Hour))    // revokes nothing
	wantRevoked(t, dir, leaf, []*x509.Certificate{root.cert, inter.cert}, []string{rootCRL, interCRL}, map[string][][]byte{
		"leaf and intermediate": {leaf.cert.Raw, inter.cert.Raw},
		"leaf alone":            {leaf.cert.Raw},
	})
}

// TestRevokedIntermediateAboveAnchor is TestRevokedIntermediateInBundle one
// level deeper: root -> I1 -> I2 -> leaf, all three CAs in ca_cert_path
// (each to have its CRL loaded), and the root's CRL revokes I1. A client
// that sends its leaf alone is verified as [leaf, I2], whose anchor I2 is
// not itself revoked, so neither revokedCAs nor the chain walk sees I1.
// Everything I1 issued, I2 and its leaves included, must be refused,
// whatever the client sends: with the leaf alone too.
func TestRevokedIntermediateAboveAnchor(t *testing.T) {
	dir := devPKI(t)
	root := issue(t, "Root", 1, nil, true)
	i1 := issue(t, "I1", 0x11, root, true)
	i2 := issue(t, "I2", 0x12, i1, true)
	leaf := issue(t, "dave", 0xD1, i2, false)
	rootCRL := filepath.Join(dir, "root.crl")
	writeCRL(t, rootCRL, root.cert, root.key, time.Now().Add(time.Hour), 0x11) // revokes I1
	wantRevoked(t, dir, leaf, []*x509.Certificate{root.cert, i1.cert, i2.cert}, []string{rootCRL}, map[string][][]byte{
		"leaf, I2 and I1": {leaf.cert.Raw, i2.cert.Raw, i1.cert.Raw},
		"leaf and I2":     {leaf.cert.Raw, i2.cert.Raw},
		"leaf alone":      {leaf.cert.Raw},
	})
}

// wantRevoked serves with the CAs of bundle in ca_cert_path and the CRLs
// given, requiring client certificates, and checks that the client whose
// leaf is leaf is refused as revoked with each chain it may send.
func wantRevoked(t *testing.T, dir string, leaf *issuer, bundle []*x509.Certificate, crls []string, chains map[string][][]byte) {
	t.Helper()
	caFile := filepath.Join(dir, "clients-ca.crt")
	var pemData []byte
	for _, c := range bundle {
		pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(caFile, pemData, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey)}}
	cfg.ClientCertMode, cfg.CACertPath = config.ClientCertRequired, caFile
	cfg.CRLFiles = crls
	s := newServer(t, cfg)
	for name, chain := range chains {
		t.Run(name, func(t *testing.T) {
			cc := clientOf(t, dir, "client-ecdsa")
			cc.Certificates = []tls.Certificate{{Certificate: chain, PrivateKey: leaf.key, Leaf: leaf.cert}}
			_, err := handshake(t, s, cc)
			if !errors.As(err, new(*RevokedError)) {
				t.Fatalf("client under a revoked CA: %v; want refused as revoked", err)
			}
		})
	}
}
