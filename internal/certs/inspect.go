package certs

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// A Candidate is a certificate a private key may belong to: one given to
// `certs inspect` or one the configuration serves.
type Candidate struct {
	Path  string // the file, as named
	Index int    // its place in the file, from 0, as Inspect numbers it
	Cert  *x509.Certificate
}

// Candidates lists every certificate of the PEM file at path.
func Candidates(path string) ([]Candidate, error) {
	certs, err := LoadCertificates(path)
	if err != nil {
		return nil, err
	}
	out := make([]Candidate, len(certs))
	for i, c := range certs {
		out[i] = Candidate{Path: path, Index: i, Cert: c}
	}
	return out, nil
}

// Inspect writes what the PEM file at path holds: for every certificate,
// its subject, issuer, key and signature algorithms, SANs and validity;
// for a private key, its algorithm, how an ML-DSA key is stored, and
// which of candidates it belongs to. Nothing of the key itself is shown.
func Inspect(w io.Writer, path string, candidates []Candidate, now time.Time) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var hasCert, hasKey bool
	for _, b := range blocks(data) {
		hasCert = hasCert || b.Type == "CERTIFICATE"
		hasKey = hasKey || strings.HasSuffix(b.Type, "PRIVATE KEY")
	}
	if !hasCert && !hasKey {
		return fmt.Errorf("%s: no PEM certificate or private key found", path)
	}
	if hasCert {
		certs, err := LoadCertificates(path)
		if err != nil {
			return err
		}
		for i, c := range certs {
			describeCert(w, path, i, c, now)
		}
	}
	if !hasKey {
		return nil
	}
	return inspectKey(w, path, data, candidates)
}

func blocks(data []byte) []*pem.Block {
	var out []*pem.Block
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		out = append(out, b)
	}
}

func describeCert(w io.Writer, path string, i int, c *x509.Certificate, now time.Time) {
	fmt.Fprintf(w, "%s [%d]\n", path, i)
	fmt.Fprintf(w, "  subject:    %s\n", c.Subject)
	fmt.Fprintf(w, "  issuer:     %s\n", c.Issuer)
	fmt.Fprintf(w, "  key:        %s\n", Algorithm(c.PublicKey))
	fmt.Fprintf(w, "  signature:  %s\n", c.SignatureAlgorithm)
	if sans := SANs(c); sans != "" {
		fmt.Fprintf(w, "  names:      %s\n", sans)
	}
	state := "valid"
	if err := Validity(c, now); err != nil {
		state = err.Error()
	}
	fmt.Fprintf(w, "  validity:   %s to %s (%s)\n", c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), state)
	if c.IsCA {
		fmt.Fprintf(w, "  ca:         yes\n")
	}
}

// inspectKey describes the private key in data. The key is parsed as the
// proxy loads it, so a key it would refuse is refused here with the same
// message.
func inspectKey(w io.Writer, path string, data []byte, candidates []Candidate) error {
	key, form, err := ParseKey(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(w, "%s (private key)\n", path)
	fmt.Fprintf(w, "  key:        %s\n", Algorithm(key.Public()))
	if form != FormClassic {
		fmt.Fprintf(w, "  form:       %s\n", formNote(form))
		fmt.Fprintf(w, "  signer:     %s\n", SignerName(key))
	}
	var matches []string
	for _, c := range candidates {
		if publicKeysEqual(key.Public(), c.Cert.PublicKey) {
			matches = append(matches, fmt.Sprintf("%s [%d] (%s)", c.Path, c.Index, c.Cert.Subject))
		}
	}
	switch {
	case len(matches) > 0:
		fmt.Fprintf(w, "  matches:    %s\n", strings.Join(matches, "; "))
	case len(candidates) == 0:
		fmt.Fprintf(w, "  matches:    no certificate to compare with; name certificates too, or --config-file for the configured ones\n")
	default:
		fmt.Fprintf(w, "  matches:    none of the %d certificate(s) given or configured\n", len(candidates))
	}
	return nil
}

// formNote says how an ML-DSA key is stored (RFC 9881, Section 6) and
// what that means for using it here.
func formNote(f KeyForm) string {
	switch f {
	case FormSeed:
		return "seed-only (the 32-byte seed the key is derived from)"
	case FormBoth:
		return "seed and expanded key (OpenSSL 3.5's default; the expanded key was checked against the seed)"
	case FormExpanded:
		return "expanded-only (no seed; it cannot sign in FIPS 140-3 mode, whose module takes keys as seeds)"
	}
	return string(f)
}

// SANs lists a certificate's DNS names and IP addresses, comma separated.
func SANs(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	for _, u := range c.URIs {
		names = append(names, u.String())
	}
	return strings.Join(names, ", ")
}
