package probe

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
)

// parseChain parses the certificates a server sent, leaf first; it stops
// at the first that does not parse.
func parseChain(ders [][]byte) []*x509.Certificate {
	var out []*x509.Certificate
	for _, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			break
		}
		out = append(out, c)
	}
	return out
}

// setChain describes the server's chain and verifies it against the
// probe's roots for its server name, at this moment.
func (a *Attempt) setChain(chain []*x509.Certificate, p *prober) {
	if len(chain) == 0 {
		return
	}
	a.Chain = a.Chain[:0]
	for _, c := range chain {
		a.Chain = append(a.Chain, Certificate{
			Subject:            c.Subject.String(),
			Issuer:             c.Issuer.String(),
			KeyAlgorithm:       certs.Algorithm(c.PublicKey),
			SignatureAlgorithm: c.SignatureAlgorithm.String(),
			NotAfter:           c.NotAfter.UTC(),
		})
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         p.opts.Roots,
		Intermediates: inter,
		DNSName:       p.name,
		CurrentTime:   time.Now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	a.Verified, a.VerifyError = err == nil, ""
	if err != nil {
		a.VerifyError = err.Error()
	}
}

// distinguishedNames writes the DER names of a certificate_authorities
// list as RFC 4514 strings ("CN=Example Root,O=Example"); one that does
// not parse is shown as such, with its size.
func distinguishedNames(ders [][]byte) []string {
	var out []string
	for _, der := range ders {
		var rdn pkix.RDNSequence
		if rest, err := asn1.Unmarshal(der, &rdn); err != nil || len(rest) != 0 {
			out = append(out, fmt.Sprintf("(a name of %d bytes that does not parse)", len(der)))
			continue
		}
		var name pkix.Name
		name.FillFromRDNSequence(&rdn)
		out = append(out, name.String())
	}
	return out
}
