package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/access"
)

// CRL is a certificate revocation list (RFC 5280, section 5) whose
// signature was checked, when it was loaded, against the CA certificate
// that issued it.
type CRL struct {
	Path string
	// Index is the CRL's place among the CRLs of its file, from 1, and
	// Of how many the file holds; see [CRL.Name].
	Index, Of int
	List      *x509.RevocationList
	// Issuer is the CA certificate whose key verified the CRL's signature.
	Issuer *x509.Certificate
	// revoked maps each listed serial number (hexadecimal) to its entry
	// in List.RevokedCertificateEntries.
	revoked map[string]int
}

// Name names the CRL for messages: its file, and which CRL of the file
// when it holds several.
func (c *CRL) Name() string {
	if c.Of > 1 {
		return fmt.Sprintf("%s (CRL %d of %d)", c.Path, c.Index, c.Of)
	}
	return c.Path
}

// Covers reports whether this is a CRL of issuer: the CA certificate that
// verified it has issuer's subject and public key. A CA certificate
// renewed with the same name and key is the same issuer; one with a new
// key is not.
func (c *CRL) Covers(issuer *x509.Certificate) bool {
	return bytes.Equal(c.Issuer.RawSubject, issuer.RawSubject) &&
		bytes.Equal(c.Issuer.RawSubjectPublicKeyInfo, issuer.RawSubjectPublicKeyInfo)
}

// Lookup returns the entry that revokes the certificate with this serial
// number, or nil.
func (c *CRL) Lookup(serial *big.Int) *x509.RevocationListEntry {
	i, ok := c.revoked[serial.Text(16)]
	if !ok {
		return nil
	}
	return &c.List.RevokedCertificateEntries[i]
}

// Expired reports whether now is past the CRL's nextUpdate, when a newer
// CRL was due and this one can no longer be trusted to show every
// revocation. A CRL without nextUpdate (RFC 5280 section 5.1.2.5 requires
// one; OpenSSL always writes it) never expires.
func (c *CRL) Expired(now time.Time) bool {
	return !c.List.NextUpdate.IsZero() && now.After(c.List.NextUpdate)
}

// oidDeltaCRLIndicator marks a delta CRL (RFC 5280, section 5.2.4), which
// lists only the changes since a complete CRL.
var oidDeltaCRLIndicator = asn1.ObjectIdentifier{2, 5, 29, 27}

// oidIssuingDistributionPoint limits a CRL to a part of what its CA
// issued (some reasons, user or CA certificates, one distribution point),
// or makes it indirect (RFC 5280, section 5.2.5). Such a CRL cannot show
// that a certificate outside its part is not revoked.
var oidIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}

// oidCertificateIssuer, on an entry, names another issuer than the CRL's
// (indirect CRLs, RFC 5280, section 5.3.3).
var oidCertificateIssuer = asn1.ObjectIdentifier{2, 5, 29, 29}

// LoadCRLs reads the CRLs of a file: PEM with one or more "X509 CRL"
// blocks (RFC 7468, section 5), or one DER CRL. Each must be signed by a
// certificate among cas, the CA certificates read from caPath: one whose
// subject is the CRL's issuer and whose key (ECDSA, RSA, Ed25519 or
// ML-DSA) verifies the CRL's signature.
func LoadCRLs(path string, cas []*x509.Certificate, caPath string) ([]*CRL, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no such file (named in crl_files); give the path of a CRL of a CA in %s, PEM or DER", path, caPath)
	}
	if err != nil {
		return nil, access.Explain(path, access.CRL, err)
	}
	ders, err := crlBlocks(path, data)
	if err != nil {
		return nil, err
	}
	out := make([]*CRL, len(ders))
	for i, der := range ders {
		c := &CRL{Path: path, Index: i + 1, Of: len(ders)}
		if c.List, err = x509.ParseRevocationList(der); err != nil {
			return nil, fmt.Errorf("%s: not a readable CRL (%v); give the CRL as the CA wrote it, PEM or DER (openssl crl -in FILE -text shows whether OpenSSL can read it)", c.Name(), err)
		}
		if err := checkScope(c); err != nil {
			return nil, err
		}
		if c.Issuer, err = crlIssuer(c, cas, caPath); err != nil {
			return nil, err
		}
		c.revoked = make(map[string]int, len(c.List.RevokedCertificateEntries))
		for j, e := range c.List.RevokedCertificateEntries {
			c.revoked[e.SerialNumber.Text(16)] = j
		}
		out[i] = c
	}
	return out, nil
}

// checkScope refuses a CRL that is not one complete list of what its CA
// revoked: a delta CRL, a partitioned or indirect one, or one with
// another critical extension, which RFC 5280 (section 5.2) says must not
// be used by a reader that does not process it.
func checkScope(c *CRL) error {
	for _, e := range c.List.Extensions {
		switch {
		case e.Id.Equal(oidDeltaCRLIndicator):
			return fmt.Errorf("%s: a delta CRL, which lists only the changes since a complete CRL; give the complete CRL instead", c.Name())
		case e.Id.Equal(oidIssuingDistributionPoint):
			return fmt.Errorf("%s: a partitioned or indirect CRL (issuingDistributionPoint), which covers only part of what its CA issued; give the CA's complete CRL instead", c.Name())
		case e.Critical:
			return fmt.Errorf("%s: has a critical extension %s that this proxy does not process, so it must not be used (RFC 5280, section 5.2); give a CRL without it", c.Name(), e.Id)
		}
	}
	for _, r := range c.List.RevokedCertificateEntries {
		for _, e := range r.Extensions {
			if e.Id.Equal(oidCertificateIssuer) || e.Critical {
				return fmt.Errorf("%s: the entry for serial %X has a critical or certificate-issuer extension (an indirect CRL), which this proxy does not process; give the CA's own complete CRL instead", c.Name(), r.SerialNumber)
			}
		}
	}
	return nil
}

// crlBlocks returns the DER of each CRL in a file's data: its "X509 CRL"
// PEM blocks or, with no PEM in it, the data itself.
func crlBlocks(path string, data []byte) ([][]byte, error) {
	var ders [][]byte
	var others []string
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "X509 CRL" {
			ders = append(ders, block.Bytes)
		} else {
			others = append(others, block.Type)
		}
	}
	switch {
	case len(ders) > 0:
		return ders, nil
	case len(others) > 0:
		return nil, fmt.Errorf("%s: holds %s and no CRL (PEM \"X509 CRL\"); crl_files takes the CRLs the client CAs publish, such as `openssl ca -gencrl` writes", path, strings.Join(others, ", "))
	case len(data) == 0:
		return nil, fmt.Errorf("%s: empty file; give a PEM or DER CRL", path)
	}
	if _, err := x509.ParseCertificate(data); err == nil {
		return nil, fmt.Errorf("%s: a DER certificate, not a CRL; crl_files takes the CRLs the client CAs publish", path)
	}
	return [][]byte{data}, nil
}

// crlIssuer finds the CA certificate among cas that issued c: its subject
// is the CRL's issuer and its key verifies the CRL's signature.
func crlIssuer(c *CRL, cas []*x509.Certificate, caPath string) (*x509.Certificate, error) {
	var named []*x509.Certificate
	for _, ca := range cas {
		if bytes.Equal(ca.RawSubject, c.List.RawIssuer) {
			named = append(named, ca)
		}
	}
	if len(named) == 0 {
		return nil, fmt.Errorf("%s: issued by %s, which is not a CA certificate in %s; add that CA to ca_cert_path, or remove this CRL from crl_files",
			c.Name(), c.List.Issuer, caPath)
	}
	var errs []error
	for _, ca := range named {
		err := c.List.CheckSignatureFrom(ca)
		if err == nil {
			return ca, nil
		}
		errs = append(errs, err)
	}
	var cv x509.ConstraintViolationError
	if errors.As(errors.Join(errs...), &cv) && len(named) == 1 {
		return nil, fmt.Errorf("%s: the CA certificate of its issuer %s in %s may not sign CRLs (it is not a CA, or its keyUsage lacks cRLSign); the CRL must come from the CA itself",
			c.Name(), c.List.Issuer, caPath)
	}
	return nil, fmt.Errorf("%s: its signature does not verify with the key of %s in %s (%v); the CRL was signed by another key of that name, or damaged: fetch it again from the CA, or add the CA certificate whose key signed it",
		c.Name(), c.List.Issuer, caPath, errs[0])
}

// ReasonName names an RFC 5280 (section 5.3.1) CRL reason code, as
// OpenSSL's -crl_reason spells it.
func ReasonName(code int) string {
	names := []string{0: "unspecified", 1: "keyCompromise", 2: "CACompromise", 3: "affiliationChanged",
		4: "superseded", 5: "cessationOfOperation", 6: "certificateHold", 8: "removeFromCRL",
		9: "privilegeWithdrawn", 10: "AACompromise"}
	if code >= 0 && code < len(names) && names[code] != "" {
		return names[code]
	}
	return fmt.Sprintf("reason %d", code)
}
