package main

import (
	"crypto"
	"crypto/mldsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// writeMLDSALeaf writes, into dir, server-mldsa-ecdsa-issued.crt and .key:
// an ML-DSA-65 key for localhost whose certificate the PKI's ECDSA root
// signs. Every implementation serves it in the ML-DSA workloads, so all
// sign each handshake with ML-DSA-65 and are compared on one chain. The
// PKI's all-ML-DSA chain would not do: Go 1.27 leaves ML-DSA out of its
// signature_algorithms_cert (go.dev/issue/82536), and an OpenSSL server
// such as HAProxy then refuses a Go client a leaf signed with ML-DSA
// ("no suitable signature algorithm"; DESIGN.md, facts).
func writeMLDSALeaf(pkiDir, dir string) (crt, key string, err error) {
	root, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "ecdsa-root.crt"), filepath.Join(pkiDir, "ecdsa-root.key"))
	if err != nil {
		return "", "", fmt.Errorf("-pki: ecdsa-root: %v", err)
	}
	rootCert, err := x509.ParseCertificate(root.Certificate[0])
	if err != nil {
		return "", "", err
	}
	sk, err := mldsa.GenerateKey(mldsa.MLDSA65())
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"quantum-safe-proxy load generator"}, CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, rootCert, sk.Public(), root.PrivateKey.(crypto.Signer))
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(sk)
	if err != nil {
		return "", "", err
	}
	crt, key = filepath.Join(dir, "server-mldsa-ecdsa-issued.crt"), filepath.Join(dir, "server-mldsa-ecdsa-issued.key")
	if err := os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", err
	}
	return crt, key, nil
}
