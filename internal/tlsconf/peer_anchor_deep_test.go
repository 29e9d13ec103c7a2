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

// TestRevokedIntermediateAboveAnchor is TestRevokedIntermediateInBundle one
// level deeper: root -> I1 -> I2 -> leaf, all three CAs in ca_cert_path
// (each to have its CRL loaded), and the root's CRL revokes I1. A client
// that sends its leaf alone is verified as [leaf, I2], whose anchor I2 is
// not itself revoked, so neither revokedCAs nor the chain walk sees I1.
// Everything I1 issued, I2 and its leaves included, must be refused,
// whatever the client sends: with the leaf alone too.
func TestRevokedIntermediateAboveAnchor(t *testing.T) {
	dir := t.TempDir()
	if _, err := certs.WriteDevPKI(dir, false); err != nil {
		t.Fatal(err)
	}
	root := issue(t, "Root", 1, nil, true)
	i1 := issue(t, "I1", 0x11, root, true)
	i2 := issue(t, "I2", 0x12, i1, true)
	leaf := issue(t, "dave", 0xD1, i2, false)

	bundle := filepath.Join(dir, "clients-ca.crt")
	var pemData []byte
	for _, c := range []*x509.Certificate{root.cert, i1.cert, i2.cert} {
		pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(bundle, pemData, 0o644); err != nil {
		t.Fatal(err)
	}
	rootCRL := filepath.Join(dir, "root.crl")
	writeCRL(t, rootCRL, root.cert, root.key, time.Now().Add(time.Hour), 0x11) // revokes I1

	cfg := config.Default()
	cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey)}}
	cfg.ClientCertMode, cfg.CACertPath = config.ClientCertRequired, bundle
	cfg.CRLFiles = []string{rootCRL}
	s := newServer(t, cfg)

	for _, tc := range []struct {
		name  string
		chain [][]byte
	}{
		{"leaf, I2 and I1", [][]byte{leaf.cert.Raw, i2.cert.Raw, i1.cert.Raw}},
		{"leaf and I2", [][]byte{leaf.cert.Raw, i2.cert.Raw}},
		{"leaf alone", [][]byte{leaf.cert.Raw}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := clientOf(t, dir, "client-ecdsa")
			cc.Certificates = []tls.Certificate{{Certificate: tc.chain, PrivateKey: leaf.key, Leaf: leaf.cert}}
			_, err := handshake(t, s, cc)
			if !errors.As(err, new(*RevokedError)) {
				t.Fatalf("client under I2, issued by the revoked I1: %v; want refused as revoked", err)
			}
		})
	}
}
