package certs

import (
	"crypto/x509"
	"fmt"
	"io"
	"strings"
	"time"
)

// Inspect writes, for every certificate in the PEM file at path, its
// subject, issuer, key and signature algorithms, SANs and validity.
func Inspect(w io.Writer, path string, now time.Time) error {
	certs, err := LoadCertificates(path)
	if err != nil {
		return err
	}
	for i, c := range certs {
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
	return nil
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
