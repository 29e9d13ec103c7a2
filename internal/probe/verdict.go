package probe

import "fmt"

// judge sets the verdict from the attempts: PQ-ready when the hybrid
// attempt's server chose a hybrid group and completed its side of the
// handshake (a refusal after it, for want of a client certificate, does
// not change what the key exchange was).
func (r *Report) judge() {
	attempt := func(name string) *Attempt {
		for i := range r.Attempts {
			if r.Attempts[i].Name == name {
				return &r.Attempts[i]
			}
		}
		return &Attempt{}
	}
	r.MLDSA = isMLDSAName(attempt(AttemptMLDSA).SignatureScheme) || isMLDSAName(attempt(AttemptMLDSACerts).SignatureScheme)
	hybrid, certs := attempt(AttemptHybrid), attempt(AttemptMLDSACerts)
	reached := false
	for _, a := range r.Attempts {
		reached = reached || a.reached
	}
	switch {
	case hybrid.Handshake && hybrid.PQ:
		r.Verdict, r.PQGroup = PQReady, hybrid.Group
		r.Reason = fmt.Sprintf("offered only hybrid post-quantum groups, the server chose %s", hybrid.Group)
	case certs.OK && certs.PQ:
		r.Verdict, r.PQGroup = PQReady, certs.Group
		r.Reason = fmt.Sprintf("the server chose %s for a client that accepts ML-DSA-signed certificates; Go's client (no ML-DSA for certificates), offered only hybrid groups, was refused: %s",
			certs.Group, hybrid.Error)
	case !reached:
		r.Verdict = Unreachable
		r.Reason = "no TLS answer"
		if len(r.Attempts) > 0 && r.Attempts[0].Error != "" {
			r.Reason += ": " + r.Attempts[0].Error
		}
		if len(r.Attempts) == 1 && r.Attempts[0].silent {
			r.Reason = r.Attempts[0].Error // connected, but nothing came
			if r.Attempts[0].unconnected {
				r.Reason = "cannot connect: " + r.Attempts[0].Error
			}
		}
	default:
		r.Verdict = NotPQReady
		switch {
		case hybrid.Handshake:
			r.Reason = fmt.Sprintf("offered only hybrid post-quantum groups, the server chose %s", hybrid.Group)
		case hybrid.Error != "":
			r.Reason = "offered only hybrid post-quantum groups: " + hybrid.Error
		default:
			r.Reason = "the server does not complete a handshake offering only hybrid post-quantum groups"
		}
	}
}

// isMLDSAName reports whether a signature scheme name is ML-DSA's.
func isMLDSAName(name string) bool {
	return name == "mldsa44" || name == "mldsa65" || name == "mldsa87"
}
