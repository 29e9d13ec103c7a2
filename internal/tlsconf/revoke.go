package tlsconf

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
)

// Revocation, as [PeerCheck] applies it:
//
//   - Every certificate of a verified chain but its last (the trust
//     anchor from ca_cert_path, which only removing it from the bundle
//     revokes) is looked up in the CRLs of its issuer, the next
//     certificate of the chain; a CRL is its issuer's when that issuer
//     has the subject and key of the CA certificate that verified it (see
//     [certs.CRL.Covers]). A certificate listed in such a CRL refuses the
//     peer, whichever of its verified chains it is in.
//   - A certificate whose issuer has no CRL is admitted: crl_files need
//     not cover every CA of ca_cert_path, and `check` names those it does
//     not cover. A leaf issued by an intermediate CA is checked only if
//     that intermediate is in ca_cert_path with a CRL of its own.
//   - A CRL past its nextUpdate refuses every peer certificate, whatever
//     CA issued it, unless unsafe_allow_expired_crl: a CRL no longer kept
//     up to date cannot show the latest revocations, and the operator
//     must notice. This is judged at each handshake, so a CRL that
//     expires while loaded starts refusing without a reload.

// RevokedError is a peer certificate, or one of its issuers, listed in a
// CRL of its issuer.
type RevokedError struct {
	// Position is the certificate's place in the verified chain: 0 for
	// the peer's own, 1 for its issuer, and so on.
	Position  int
	Subject   string
	Serial    *big.Int
	Issuer    string // the CRL's issuer
	CRL       string // the CRL's file (see [certs.CRL.Name])
	RevokedAt time.Time
	Reason    int // RFC 5280 section 5.3.1 reason code; 0 also when none is given
}

func (e *RevokedError) Error() string {
	what := "peer certificate"
	if e.Position > 0 {
		what = fmt.Sprintf("issuer %d of the peer certificate", e.Position)
	}
	s := fmt.Sprintf("%s %s (serial %s) is revoked by the CRL of %s (%s) since %s", what, e.Subject, SerialHex(e.Serial),
		e.Issuer, e.CRL, e.RevokedAt.UTC().Format(time.RFC3339))
	if e.Reason != 0 {
		s += ", reason " + certs.ReasonName(e.Reason)
	}
	return s
}

// CRLExpiredError is a CRL past its nextUpdate, which refuses every peer
// certificate (unless unsafe_allow_expired_crl).
type CRLExpiredError struct {
	CRL        string
	Issuer     string
	NextUpdate time.Time
}

func (e *CRLExpiredError) Error() string {
	return fmt.Sprintf("the CRL of %s (%s) is past its nextUpdate %s: no peer certificate is admitted until a fresh CRL is loaded",
		e.Issuer, e.CRL, e.NextUpdate.UTC().Format(time.RFC3339))
}

// errNoVerifiedChain: CRLs are configured and crypto/tls verified no chain.
var errNoVerifiedChain = errors.New("peer certificate has no verified chain to check revocation along")

// checkRevocation refuses the peer if a CRL is past its nextUpdate (see
// above) or lists a certificate of one of its verified chains.
func (p *PeerCheck) checkRevocation(chains [][]*x509.Certificate, now time.Time) error {
	if len(p.CRLs) == 0 {
		return nil
	}
	if !p.AllowExpiredCRL {
		for _, c := range p.CRLs {
			if c.Expired(now) {
				return &CRLExpiredError{CRL: c.Name(), Issuer: c.Issuer.Subject.String(), NextUpdate: c.List.NextUpdate}
			}
		}
	}
	// crypto/tls fills VerifiedChains whenever it verified the peer, as
	// it does for every certificate it accepts here; without them the
	// issuers are unknown, so refuse rather than admit unchecked.
	if len(chains) == 0 {
		return errNoVerifiedChain
	}
	for _, chain := range chains {
		if re := p.revokedCAs[string(chain[len(chain)-1].Raw)]; re != nil {
			r := *re
			r.Position += len(chain) - 1
			return &r
		}
		for i := 0; i+1 < len(chain); i++ {
			cert, issuer := chain[i], chain[i+1]
			for _, c := range p.CRLs {
				if !c.Covers(issuer) {
					continue
				}
				if e := c.Lookup(cert.SerialNumber); e != nil {
					return &RevokedError{Position: i, Subject: cert.Subject.String(), Serial: cert.SerialNumber,
						Issuer: c.Issuer.Subject.String(), CRL: c.Name(), RevokedAt: e.RevocationTime, Reason: e.ReasonCode}
				}
			}
		}
	}
	return nil
}

// revokedCAs finds the CA certificates that a CRL of their issuer, also
// among cas, revokes (see PeerCheck.revokedCAs), and then every CA of
// cas issued below one of them: a client that sends its leaf alone gets
// a verified chain that ends at the lowest CA of the bundle, so a
// revocation higher up must already be known there. A self-signed root
// is its own issuer and is not looked up in its own CRL.
func revokedCAs(crls []*certs.CRL, cas []*x509.Certificate) map[string]*RevokedError {
	out := map[string]*RevokedError{}
	for _, ca := range cas {
		for _, c := range crls {
			if bytes.Equal(c.Issuer.Raw, ca.Raw) || !issuedBy(ca, c.Issuer) {
				continue
			}
			if e := c.Lookup(ca.SerialNumber); e != nil {
				out[string(ca.Raw)] = &RevokedError{Subject: ca.Subject.String(), Serial: ca.SerialNumber,
					Issuer: c.Issuer.Subject.String(), CRL: c.Name(), RevokedAt: e.RevocationTime, Reason: e.ReasonCode}
			}
		}
	}
	// Below a revoked CA: the same refusal, naming the revoked CA.
	for grew := true; grew; {
		grew = false
		for _, ca := range cas {
			if out[string(ca.Raw)] != nil {
				continue
			}
			for _, parent := range cas {
				if re := out[string(parent.Raw)]; re != nil && !bytes.Equal(parent.Raw, ca.Raw) && issuedBy(ca, parent) {
					below := *re
					below.Position++ // how far above ca the revoked CA is
					out[string(ca.Raw)] = &below
					grew = true
					break
				}
			}
		}
	}
	return out
}

// issuedBy reports whether issuer's key signed cert under issuer's name.
func issuedBy(cert, issuer *x509.Certificate) bool {
	return bytes.Equal(cert.RawIssuer, issuer.RawSubject) && cert.CheckSignatureFrom(issuer) == nil
}

// SerialHex writes a serial number as `openssl x509 -noout -serial`
// does: upper-case hexadecimal, an even number of digits.
func SerialHex(n *big.Int) string {
	s := strings.ToUpper(n.Text(16))
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

// Warnings lists what the operator should know about the checks now: a
// CRL past its nextUpdate, and unsafe_allow_expired_crl. peer is "client"
// or "server", whose certificates the checks see.
func (p *PeerCheck) Warnings(peer string, now time.Time) []string {
	var out []string
	for _, c := range p.CRLs {
		if !c.Expired(now) {
			continue
		}
		if p.AllowExpiredCRL {
			out = append(out, fmt.Sprintf("%s: the CRL of %s is past its nextUpdate (%s); unsafe_allow_expired_crl keeps admitting %ss, though revocations published since are not seen",
				c.Name(), c.Issuer.Subject, c.List.NextUpdate.UTC().Format(time.RFC3339), peer))
		} else {
			out = append(out, fmt.Sprintf("%s: the CRL of %s is past its nextUpdate (%s): every %s certificate is refused (crl_expired) until a fresh CRL is loaded; fetch one from the CA",
				c.Name(), c.Issuer.Subject, c.List.NextUpdate.UTC().Format(time.RFC3339), peer))
		}
	}
	if p.AllowExpiredCRL && len(p.CRLs) > 0 {
		out = append(out, "unsafe_allow_expired_crl is set: a CRL past its nextUpdate still refuses what it lists, and no one else, so revocations the CA published since go unseen")
	}
	var revoked []string
	for raw, re := range p.revokedCAs {
		ca, err := x509.ParseCertificate([]byte(raw))
		if err != nil {
			continue
		}
		what := "which " + re.CRL + " revokes"
		if ca.Subject.String() != re.Subject {
			what = fmt.Sprintf("issued under %s, which %s revokes", re.Subject, re.CRL)
		}
		revoked = append(revoked, fmt.Sprintf("ca_cert_path holds %s, %s: every %s certificate under it is refused (revoked); remove it from ca_cert_path", ca.Subject, what, peer))
	}
	slices.Sort(revoked)
	out = append(out, revoked...)
	return out
}

// Describe writes, for check, each CRL (file, issuer, entries, thisUpdate,
// nextUpdate) and which CAs of cas no CRL covers, then the allow rules.
// peer is "client" or "server".
func (p *PeerCheck) Describe(w io.Writer, peer string, cas []*x509.Certificate, now time.Time) {
	for _, c := range p.CRLs {
		next := "no nextUpdate"
		if !c.List.NextUpdate.IsZero() {
			next = "nextUpdate " + c.List.NextUpdate.UTC().Format(time.RFC3339)
			if c.Expired(now) {
				next += " (past)"
			} else {
				next += " (in " + roughly(c.List.NextUpdate.Sub(now)) + ")"
			}
		}
		fmt.Fprintf(w, "CRL %s: issuer %s, %d revoked certificate(s), thisUpdate %s, %s\n", c.Name(), c.Issuer.Subject,
			len(c.List.RevokedCertificateEntries), c.List.ThisUpdate.UTC().Format(time.RFC3339), next)
	}
	if len(p.CRLs) > 0 {
		for _, ca := range cas {
			if !p.covered(ca) {
				fmt.Fprintf(w, "%s CA %s has no CRL in crl_files: certificates it issued are not checked for revocation\n", peer, ca.Subject)
			}
		}
	}
	if !p.Allow.Empty() {
		fmt.Fprintf(w, "allow rules: a %s certificate must match one of %s\n", peer, p.Allow.values())
	}
}

// roughly writes a duration to the minute, in days and hours past a day:
// "6d23h", "5h7m".
func roughly(d time.Duration) string {
	if d >= 24*time.Hour {
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	}
	return strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
}

// covered reports whether a CRL covers the CA certificate ca.
func (p *PeerCheck) covered(ca *x509.Certificate) bool {
	for _, c := range p.CRLs {
		if c.Covers(ca) {
			return true
		}
	}
	return false
}

// RefusalAttrs are the log attributes that detail a refusal by the peer
// checks: the rule sets and the identity seen, the revoked certificate
// and its CRL, or the expired CRL. Nil for any other error. Strings in
// them come from the peer's certificate: clip them before logging.
func RefusalAttrs(err error) []any {
	var na *NotAllowedError
	var re *RevokedError
	var ce *CRLExpiredError
	switch {
	case errors.As(err, &na):
		return []any{"rules", na.Rules, "peer_identity", na.Identity}
	case errors.As(err, &re):
		attrs := []any{"serial", SerialHex(re.Serial), "subject", re.Subject, "issuer", re.Issuer, "crl", re.CRL,
			"revoked_at", re.RevokedAt.UTC().Format(time.RFC3339)}
		if re.Reason != 0 {
			attrs = append(attrs, "revocation_reason", certs.ReasonName(re.Reason))
		}
		return attrs
	case errors.As(err, &ce):
		return []any{"crl", ce.CRL, "issuer", ce.Issuer, "next_update", ce.NextUpdate.UTC().Format(time.RFC3339)}
	}
	return nil
}
