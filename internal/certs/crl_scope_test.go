package certs

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

// A CRL whose critical issuingDistributionPoint (RFC 5280, section
// 5.2.5) narrows its scope (to some reasons, or to one partition of the
// CA's certificates) does not list every revoked certificate of its
// issuer. RFC 5280 (section 5.2) says a CRL with a critical extension the
// reader does not process must not be used; taken as the complete CRL, it
// would admit a certificate revoked in another partition or for another
// reason. Such a CRL must be refused when it is loaded, as a delta CRL is.
func TestLoadCRLsRefusesScopedCRL(t *testing.T) {
	ca := newTestCA(t, "Test CA", "ecdsa", x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
	// IssuingDistributionPoint ::= SEQUENCE { onlySomeReasons [3] ReasonFlags (keyCompromise) }
	idp := pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 28}, Critical: true, Value: []byte{0x30, 0x04, 0x83, 0x02, 0x06, 0x40}}
	path := writeFile(t, "crl.pem", pemCRL(ca.crl(t, []int64{1}, idp)))
	if _, err := LoadCRLs(path, []*x509.Certificate{ca.cert}, "ca.crt"); err == nil {
		t.Fatal("a CRL scoped by a critical issuingDistributionPoint loaded as if complete")
	}
}
