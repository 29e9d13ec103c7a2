package probe

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/logging"
)

// The text report is read on a terminal, and much of it is the server's
// to choose: certificate subjects and names (which verification errors
// quote), the CA names of a CertificateRequest. Each such string goes
// through shown ([logging.Escape]: quoted when it holds a control
// character), so that a server cannot forge a line of the report with
// a newline or drive the terminal with escape sequences.
var shown = logging.Escape

// titles are the attempts' names for people.
var titles = map[string]string{
	AttemptHybrid:     "hybrid groups only",
	AttemptClassical:  "classical groups only",
	AttemptMLDSA:      "offering ML-DSA",
	AttemptMLDSACerts: "ML-DSA certs too",
	AttemptNoMLDSA:    "not offering ML-DSA",
	AttemptTLS12:      "TLS 1.2 only",
	AttemptClientCert: "client certificate",
}

// WriteText writes the report for people: a line per attempt, each
// distinct chain once, then the verdict and what ML-DSA clients get.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "probe %s: server name %s, chains verified against %s\n\n", r.Address, r.ServerName, r.Roots)
	var chains []string // each distinct chain's text, numbered from 1 as shown
	var cas []string
	for _, a := range r.Attempts {
		if r.Verdict == Unreachable && len(r.Attempts) == 1 {
			break // the verdict's reason is the attempt's error
		}
		chain := 0
		if len(a.Chain) > 0 {
			text := chainText(&a, r.Roots)
			if i := slices.Index(chains, text); i >= 0 {
				chain = i + 1
			} else {
				chains = append(chains, text)
				chain = len(chains)
			}
		}
		fmt.Fprintf(w, "%-22s %s\n", titles[a.Name]+":", attemptLine(&a, chain))
		if a.ClientCertRequested {
			names := make([]string, len(a.ClientCertCAs))
			for i, n := range a.ClientCertCAs {
				names[i] = shown(n)
			}
			list := strings.Join(names, "; ")
			if list == "" {
				list = "(the server lists none)"
			}
			if !slices.Contains(cas, list) {
				cas = append(cas, list)
			}
		}
	}
	if len(chains)+len(cas) > 0 {
		fmt.Fprintln(w)
	}
	for i, c := range chains {
		fmt.Fprintf(w, "chain %d %s", i+1, c)
	}
	for _, list := range cas {
		fmt.Fprintf(w, "client certificate requested, from these CAs: %s\n", list)
	}
	fmt.Fprintln(w)
	switch r.Verdict {
	case PQReady:
		fmt.Fprintf(w, "PQ-ready: yes: %s\n", shown(r.Reason))
	case NotPQReady:
		fmt.Fprintf(w, "PQ-ready: no: %s\n", shown(r.Reason))
	default:
		fmt.Fprintf(w, "unreachable: %s\n", shown(r.Reason))
		return
	}
	fmt.Fprintf(w, "ML-DSA authentication: %s\n", shown(r.mldsaText()))
}

// attemptLine says how an attempt went, on one line.
func attemptLine(a *Attempt, chain int) string {
	var facts []string
	for _, f := range []string{a.Version, a.Group, a.CipherSuite} {
		if f != "" {
			facts = append(facts, f)
		}
	}
	if a.HelloRetry {
		facts = append(facts, "after a HelloRetryRequest")
	}
	if a.SignatureScheme != "" {
		facts = append(facts, "signed "+a.SignatureScheme)
	}
	if chain > 0 {
		facts = append(facts, fmt.Sprintf("chain %d", chain))
	}
	if a.ClientCertRequested {
		if a.ClientCertSent {
			facts = append(facts, "client certificate requested and sent")
		} else {
			facts = append(facts, "client certificate requested")
		}
	}
	var status string
	switch {
	case a.OK:
		status = "ok"
	case a.Alert != "" && a.Handshake:
		status = "refused after the handshake: " + shown(a.Alert)
	case a.Alert != "":
		status = "refused: " + shown(a.Alert)
	default:
		status = "failed: " + shown(a.Error)
	}
	if len(facts) == 0 {
		return status
	}
	return status + "; " + strings.Join(facts, ", ")
}

// chainText describes a chain: whether it verified, then a line per
// certificate.
func chainText(a *Attempt, roots string) string {
	var b strings.Builder
	if a.Verified {
		fmt.Fprintf(&b, "(verified against %s):\n", roots)
	} else {
		fmt.Fprintf(&b, "(not verified: %s):\n", shown(a.VerifyError))
	}
	for _, c := range a.Chain {
		fmt.Fprintf(&b, "  %s: %s key, signed with %s, expires %s\n", shown(c.Subject), c.KeyAlgorithm, c.SignatureAlgorithm, c.NotAfter.Format("2006-01-02"))
	}
	return b.String()
}

// mldsaText says which clients get ML-DSA authentication and what the
// others get.
func (r *Report) mldsaText() string {
	var with, certs, without Attempt
	for _, a := range r.Attempts {
		switch a.Name {
		case AttemptMLDSA:
			with = a
		case AttemptMLDSACerts:
			certs = a
		case AttemptNoMLDSA:
			without = a
		}
	}
	if with.Name == "" || certs.Name == "" || without.Name == "" {
		return "not probed"
	}
	others := "clients that do not offer it get " + without.SignatureScheme
	if !without.OK {
		others = "clients that do not offer it are refused (" + cmp.Or(without.Alert, without.Error) + ")"
	}
	switch {
	case isMLDSAName(with.SignatureScheme):
		return fmt.Sprintf("yes: %s for clients that offer ML-DSA; %s", with.SignatureScheme, others)
	case isMLDSAName(certs.SignatureScheme):
		// Go's client is refused by a server with only an ML-DSA-signed
		// chain, and served another chain by one that has it too
		// (OpenSSL's s_server -cert with -dcert).
		goClient := "is refused (" + cmp.Or(with.Alert, with.Error) + ")"
		if with.SignatureScheme != "" {
			goClient = "gets " + with.SignatureScheme
		}
		return fmt.Sprintf("yes: %s for clients that accept ML-DSA-signed certificates (as OpenSSL 3.5 does); Go's client (no ML-DSA for certificates) %s; %s",
			certs.SignatureScheme, goClient, others)
	case with.SignatureScheme != "":
		return fmt.Sprintf("no: the server signs with %s even for clients that offer ML-DSA", with.SignatureScheme)
	}
	return "unknown: the attempts offering ML-DSA failed (" + cmp.Or(with.Alert, with.Error) + ")"
}
