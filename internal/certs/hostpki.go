package certs

import (
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// WriteHostPKI writes the PKI a host serves with, split by who may read
// it. dir, the directory the service reads, gets the two server chains
// (ML-DSA-65 and ECDSA P-256, for localhost, hostname and the loopback
// addresses), the two root certificates and [CABundle], and no other key:
// no client key, no root key. caDir (made 0700) gets the roots'
// certificates and private keys, for [IssueClient]; the service must not
// be able to read it, or a compromised proxy could mint the client
// certificates it accepts. Keys are 0600, whatever was there before.
// Existing keys are kept unless force is set. It returns the paths written.
func WriteHostPKI(dir, caDir, hostname string, force bool) ([]string, error) {
	if err := refuseExisting(force, dir, ServerMLDSAKey, ServerECDSAKey); err != nil {
		return nil, err
	}
	if err := refuseExisting(force, caDir, MLDSARootKey, ECDSARootKey); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// MkdirAll keeps an existing directory's mode; the CA's must be 0700.
	if err := os.MkdirAll(caDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(caDir, 0o700); err != nil {
		return nil, err
	}
	now := time.Now()
	roots, err := newRoots("quantum-safe-proxy host "+hostname, now)
	if err != nil {
		return nil, err
	}
	names := []string{"localhost"}
	if hostname != "" && hostname != "localhost" {
		names = append(names, hostname)
	}
	var files pemFiles
	files.add(caDir, "mldsa-root", roots[0])
	files.add(caDir, "ecdsa-root", roots[1])
	files.cert(dir, "mldsa-root", roots[0].cert)
	files.cert(dir, "ecdsa-root", roots[1].cert)
	for i, name := range []string{"server-mldsa", "server-ecdsa"} {
		leaf, err := newLeaf(name, names, roots[i], []func() (crypto.Signer, error){mldsaKey, ecdsaKey}[i], now)
		if err != nil {
			return nil, err
		}
		files.add(dir, name, leaf)
	}
	files.bundle(dir, roots[0], roots[1])
	return files.write()
}

// Client key types [IssueClient] knows, by the name the command takes.
const (
	ClientMLDSA       = "mldsa"              // ML-DSA-65 key under the ML-DSA-65 root: Go clients
	ClientECDSA       = "ecdsa"              // ECDSA P-256 key under the ECDSA root: any client
	ClientMLDSAHybrid = "mldsa-ecdsa-issued" // ML-DSA-65 key under the ECDSA root: OpenSSL 3.5 clients
)

// ClientKeyTypes lists the key types [IssueClient] knows.
var ClientKeyTypes = []string{ClientMLDSA, ClientECDSA, ClientMLDSAHybrid}

// CheckClientName reports whether name can name a client certificate: it
// becomes the CN and the files' names, so it must be a plain file name,
// and one of printable characters: the CN is the identity every
// connection of that client logs, and a newline or an escape there would
// be in every such line (and in a file name).
func CheckClientName(name string) error {
	if name == "" || filepath.Base(name) != name || name[0] == '.' || !utf8.ValidString(name) ||
		strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return fmt.Errorf("%q is not a plain name; it is the certificate's CN and the files' name", name)
	}
	return nil
}

// IssueClient issues a client certificate named name from the roots in
// caDir (written by [WriteHostPKI] or [WriteDevPKI]) and writes name.crt
// (0644) and name.key (0600) into outDir. keyType is one of [ClientMLDSA],
// [ClientECDSA] and [ClientMLDSAHybrid]. Existing files are kept unless
// force is set. It returns the paths written.
func IssueClient(caDir, name, keyType, outDir string, force bool) ([]string, error) {
	root, newKey := "", mldsaKey
	switch keyType {
	case ClientMLDSA:
		root = "mldsa-root"
	case ClientECDSA:
		root, newKey = "ecdsa-root", ecdsaKey
	case ClientMLDSAHybrid:
		root = "ecdsa-root"
	default:
		return nil, fmt.Errorf("client key type %q is not one of %s", keyType, strings.Join(ClientKeyTypes, ", "))
	}
	if err := CheckClientName(name); err != nil {
		return nil, err
	}
	if err := refuseExisting(force, outDir, name+".key", name+".crt"); err != nil {
		return nil, err
	}
	issuer, err := loadRoot(caDir, root)
	if err != nil {
		return nil, err
	}
	leaf, err := newLeaf(name, nil, issuer, newKey, time.Now())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	var files pemFiles
	files.add(outDir, name, leaf)
	return files.write()
}

// loadRoot reads caDir/name.crt and caDir/name.key.
func loadRoot(caDir, name string) (issued, error) {
	certs, err := LoadCertificates(filepath.Join(caDir, name+".crt"))
	if err != nil {
		return issued{}, err
	}
	key, _, err := LoadKey(filepath.Join(caDir, name+".key"))
	if err != nil {
		return issued{}, err
	}
	if !certs[0].IsCA || !publicKeysEqual(certs[0].PublicKey, key.Public()) {
		return issued{}, fmt.Errorf("%s: not the CA certificate of %s", filepath.Join(caDir, name+".crt"), name+".key")
	}
	return issued{cert: certs[0], key: key}, nil
}
