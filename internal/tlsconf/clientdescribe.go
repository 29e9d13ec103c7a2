package tlsconf

import (
	"fmt"
	"io"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// Describe writes, for the operator, what client mode does with a local
// connection: where it goes, what the server must show, what is
// presented to it, and the warnings that matter.
func (c *Client) Describe(w io.Writer, target string, now time.Time) {
	fmt.Fprintf(w, "mode client: plain text accepted locally goes over TLS %s or later to %s; the server's certificate must hold %s\n",
		tlsVersion(c.TLS.MinVersion), target, c.ServerName)
	switch c.Mode {
	case config.PQCStrict:
		fmt.Fprintf(w, "pqc_mode strict: the server must negotiate %s and authenticate with an ML-DSA key (its issuers may sign classically)\n", groupNames(pqGroups))
	case config.PQCHybrid:
		fmt.Fprintf(w, "pqc_mode hybrid: %s offered first; a server without them is served classically\n", groupNames(pqGroups))
	default:
		fmt.Fprintf(w, "pqc_mode classical: no post-quantum group is offered\n")
	}
	for _, r := range c.Roots {
		fmt.Fprintf(w, "server CA: %s, %s\n", r.Subject, certs.Algorithm(r.PublicKey))
	}
	c.Peer.Describe(w, "server", c.Roots, now)
	if len(c.Chains) == 0 {
		fmt.Fprintf(w, "client certificate: none; a server that requires one refuses the handshake\n")
	}
	for i, ch := range c.Chains {
		fmt.Fprintf(w, "client chain %d: %s\n", i+1, ChainSummary(ch, now))
	}
	if len(c.Chains) > 1 {
		fmt.Fprintf(w, "  presented: the first chain the server's certificate request accepts (signature algorithms, CAs)\n")
	}
	if c.OmitMLDSA {
		fmt.Fprintf(w, "ClientHello: ML-DSA left out of signature_algorithms (advertise_mldsa false)\n")
	}
	fmt.Fprintf(w, "sessions: reconnects resume; the cache is kept across reloads that change none of the CAs, allow rules, CRLs, pqc_mode, min_tls_version, server_name or client chains\n")
	for _, warning := range c.Warnings() {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
}

// Warnings lists configurations that will fail some servers or give up
// some protection.
func (c *Client) Warnings() []string {
	out := c.Peer.Warnings("server", time.Now())
	if c.Mode == config.PQCClassical {
		out = append(out, "pqc_mode classical: post-quantum key exchange is off; recorded traffic is exposed to a future quantum computer")
	}
	for _, r := range c.Roots {
		if certs.IsMLDSA(r.PublicKey) {
			out = append(out, fmt.Sprintf("server CA %s is ML-DSA: an OpenSSL server whose certificate it signed refuses this proxy's handshake (Go lists no ML-DSA in signature_algorithms_cert, go.dev/issue/82536); Go servers, this proxy in server mode among them, are fine", r.Subject))
		}
	}
	for _, ch := range c.Chains {
		if err := certs.Validity(ch.Leaf(), time.Now()); err != nil {
			out = append(out, fmt.Sprintf("%s: %v; servers will refuse it", ch.CertPath, err))
		}
	}
	return out
}
