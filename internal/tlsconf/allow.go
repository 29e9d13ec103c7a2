package tlsconf

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// Allow holds the allow rules: which peer certificates are admitted once
// their chain is verified. A certificate that matches any rule is
// admitted; with no rules, every one is.
type Allow struct {
	CN, OU, DNS, URI []string
	SPKI             [][32]byte
}

// NewAllow takes the allow rules of a configuration, which validation
// has checked.
func NewAllow(cfg *config.Config) Allow {
	a := Allow{CN: cfg.AllowCN, OU: cfg.AllowOU, DNS: cfg.AllowDNS, URI: cfg.AllowURI}
	for _, p := range cfg.AllowSPKISHA256 {
		pin, err := config.ParseSPKIPin(p)
		if err == nil {
			a.SPKI = append(a.SPKI, pin)
		}
	}
	return a
}

// Empty reports whether there are no rules, so that every certificate the
// CA vouches for is admitted.
func (a *Allow) Empty() bool {
	return len(a.CN)+len(a.OU)+len(a.DNS)+len(a.URI)+len(a.SPKI) == 0
}

// NotAllowedError is a verified certificate that no allow rule admits.
type NotAllowedError struct {
	Rules    string // the lists that were checked: "allow_cn, allow_uri"
	Identity string // what the certificate holds that the rules look at
}

func (e *NotAllowedError) Error() string {
	return fmt.Sprintf("peer certificate matches no allow rule (%s): it has %s", e.Rules, e.Identity)
}

// Admit reports whether leaf matches a rule: nil if it does (or there are
// no rules), else a *[NotAllowedError].
func (a *Allow) Admit(leaf *x509.Certificate) error {
	if a.Empty() {
		return nil
	}
	for _, cn := range a.CN {
		if leaf.Subject.CommonName == cn {
			return nil
		}
	}
	for _, ou := range a.OU {
		for _, have := range leaf.Subject.OrganizationalUnit {
			if have == ou {
				return nil
			}
		}
	}
	for _, rule := range a.DNS {
		for _, name := range leaf.DNSNames {
			if dnsMatch(rule, name) {
				return nil
			}
		}
	}
	for _, rule := range a.URI {
		for _, u := range leaf.URIs {
			if uriMatch(rule, u.String()) {
				return nil
			}
		}
	}
	pin := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	for _, p := range a.SPKI {
		if p == pin {
			return nil
		}
	}
	return &NotAllowedError{Rules: a.rules(), Identity: Identity(leaf)}
}

func (a *Allow) rules() string {
	var set []string
	for _, r := range []struct {
		key string
		n   int
	}{{"allow_cn", len(a.CN)}, {"allow_ou", len(a.OU)}, {"allow_dns", len(a.DNS)}, {"allow_uri", len(a.URI)}, {"allow_spki_sha256", len(a.SPKI)}} {
		if r.n > 0 {
			set = append(set, r.key)
		}
	}
	return strings.Join(set, ", ")
}

// values lists each rule set with its values, for check: an operator
// sees there what a comma-separated variable was split into.
func (a *Allow) values() string {
	var set []string
	for _, r := range []struct {
		key  string
		vals []string
	}{{"allow_cn", a.CN}, {"allow_ou", a.OU}, {"allow_dns", a.DNS}, {"allow_uri", a.URI}} {
		if len(r.vals) > 0 {
			set = append(set, fmt.Sprintf("%s %q", r.key, r.vals))
		}
	}
	if len(a.SPKI) > 0 {
		pins := make([]string, len(a.SPKI))
		for i, p := range a.SPKI {
			pins[i] = base64.StdEncoding.EncodeToString(p[:])
		}
		set = append(set, fmt.Sprintf("allow_spki_sha256 %q", pins))
	}
	return strings.Join(set, ", ")
}

// Identity describes what the allow rules look at in a certificate, for
// logs: CN, OUs, DNS and URI names, and the SPKI pin.
func Identity(leaf *x509.Certificate) string {
	uris := make([]string, len(leaf.URIs))
	for i, u := range leaf.URIs {
		uris[i] = u.String()
	}
	pin := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return fmt.Sprintf("CN=%q OU=%q DNS=%q URI=%q spki_sha256=%s", leaf.Subject.CommonName, leaf.Subject.OrganizationalUnit,
		leaf.DNSNames, uris, base64.StdEncoding.EncodeToString(pin[:]))
}

// dnsMatch compares a DNS rule with a certificate's DNS name, without
// regard to case or a final dot. A wildcard, in the rule or in the name,
// stands for exactly one whole, non-empty leftmost label (RFC 6125
// section 6.4.3); two wildcards match only each other.
func dnsMatch(rule, name string) bool {
	rule = strings.ToLower(strings.TrimSuffix(rule, "."))
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if rule == name {
		return true
	}
	ruleRest, ruleWild := strings.CutPrefix(rule, "*.")
	nameRest, nameWild := strings.CutPrefix(name, "*.")
	switch {
	case ruleWild && !nameWild:
		label, rest, ok := strings.Cut(name, ".")
		return ok && label != "" && rest == ruleRest
	case nameWild && !ruleWild:
		label, rest, ok := strings.Cut(rule, ".")
		return ok && label != "" && rest == nameRest
	}
	return false
}

// uriMatch compares a URI rule with a certificate's URI name: exactly, or
// as a prefix when the rule ends in "/" (so spiffe://example.org/ns/prod/
// admits every workload under it, and not spiffe://example.org/ns/prod2).
// A URI whose part under the prefix has a dot segment or any
// percent-encoding never matches a prefix: spiffe://example.org/ns/prod/../admin
// and .../prod/x%2F..%2Fadmin are not under spiffe://example.org/ns/prod/
// for a backend that decodes and normalises (SPIFFE IDs may hold neither).
func uriMatch(rule, uri string) bool {
	if strings.HasSuffix(rule, "/") {
		return strings.HasPrefix(uri, rule) && !escapes(uri[len(rule)-1:])
	}
	return uri == rule
}

func escapes(path string) bool {
	if strings.Contains(path, "%") {
		return true
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
