package probe

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"time"
)

// Options say how to probe. The zero value probes as a client with the
// system's roots and no client certificate.
type Options struct {
	// ServerName is sent as SNI and is the name the server's chain is
	// verified for. Empty: the host of the address; an IP address is not
	// sent as SNI (RFC 6066, Section 3) and is verified against the
	// chain's IP addresses.
	ServerName string
	// Roots verify the server's chains; nil: the system's roots.
	Roots *x509.CertPool
	// RootsName names Roots in the report, as the --ca file; empty:
	// "system roots", or "the given roots" when Roots is set.
	RootsName string
	// ClientCert, when set, is presented in an attempt of its own to a
	// server that asks for one; nil: that attempt is not made.
	ClientCert *tls.Certificate
	// Timeout bounds each attempt, connecting included; zero: 10 seconds.
	Timeout time.Duration
	// Dial connects to the address; nil: TCP with a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// defaultTimeout is an attempt's bound when Options has none: well above
// a handshake across the world (a few round trips of 300 ms and an
// ML-DSA-87 chain) and short enough for a probe that is waited on.
const defaultTimeout = 10 * time.Second

// Attempt names, stable: they are the "name" of each attempt in the JSON
// report.
const (
	AttemptHybrid     = "hybrid"      // hybrid post-quantum groups only
	AttemptClassical  = "classical"   // classical groups only
	AttemptMLDSA      = "mldsa"       // crypto/tls's default ClientHello, which offers ML-DSA
	AttemptMLDSACerts = "mldsa-certs" // the handshake reader's, offering ML-DSA for certificates too
	AttemptNoMLDSA    = "no-mldsa"    // the handshake reader's, without ML-DSA
	AttemptTLS12      = "tls12"       // TLS 1.2 only
	AttemptClientCert = "client-cert" // crypto/tls's default, presenting Options.ClientCert
)

// Verdicts, stable: the "verdict" of the JSON report.
const (
	// PQReady: offered only hybrid post-quantum groups, the server
	// chose one and completed its side of the handshake; or, when that
	// attempt (Go's client) is refused, the server chose a hybrid group
	// for the "mldsa-certs" attempt: an OpenSSL server whose chain is
	// signed with ML-DSA refuses Go's client for want of ML-DSA in
	// signature_algorithms_cert, not for its key exchange.
	PQReady = "pq-ready"
	// NotPQReady: a TLS server answered, but not that way.
	NotPQReady = "not-pq-ready"
	// Unreachable: no attempt got an answer in TLS: no connection, or a
	// server that does not speak TLS.
	Unreachable = "unreachable"
)

// Report is what a probe found. Its JSON form is documented in the README
// and kept stable: fields may be added, none renamed or dropped.
type Report struct {
	Address    string    `json:"address"`
	ServerName string    `json:"server_name"` // sent as SNI unless an IP address; the chains are verified for it
	Roots      string    `json:"roots"`       // what the chains are verified against: a file, or "system roots"
	Attempts   []Attempt `json:"attempts"`
	// Verdict is PQReady, NotPQReady or Unreachable, and Reason says why
	// in a sentence.
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	// PQGroup is the hybrid group the server chose when offered only
	// hybrid groups.
	PQGroup string `json:"pq_group,omitempty"`
	// MLDSA says whether the server signed the handshake with ML-DSA for
	// a client that offered it (the "mldsa" or "mldsa-certs" attempt);
	// reported apart from the verdict, which is about key exchange.
	MLDSA bool `json:"mldsa"`
}

// Attempt is one connection, made one way.
type Attempt struct {
	Name    string `json:"name"`    // one of the Attempt* names
	Offered string `json:"offered"` // what the probe offered, in words
	// OK: the handshake completed and the server did not refuse the
	// connection right after it (as a server does in TLS 1.3 when it
	// refuses a client certificate, or the lack of one). For the
	// "mldsa-certs" and "no-mldsa" attempts, which send no Finished: the
	// server's whole first flight was read and its CertificateVerify
	// verified.
	OK bool `json:"ok"`
	// Handshake: the server completed its side of the handshake: it chose
	// its parameters, authenticated and sent its Finished, whether or
	// not it refused the connection afterwards.
	Handshake bool `json:"handshake"`
	// Alert is the TLS alert the server ended the attempt with, by its
	// registry name (handshake_failure); Error says what went wrong in
	// words, alert included.
	Alert string `json:"alert,omitempty"`
	Error string `json:"error,omitempty"`

	Version     string `json:"tls_version,omitempty"`  // "TLS 1.3"
	Group       string `json:"group,omitempty"`        // IANA name: X25519MLKEM768, X25519, secp256r1
	PQ          bool   `json:"pq"`                     // Group is a hybrid post-quantum group
	CipherSuite string `json:"cipher_suite,omitempty"` // TLS_AES_128_GCM_SHA256
	HelloRetry  bool   `json:"hello_retry_request"`    // the server asked for another key share first
	// SignatureScheme is what the server signed the handshake with, by
	// its IANA name (mldsa65, ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256).
	SignatureScheme string `json:"signature_scheme,omitempty"`
	// Chain is the server's certificates as sent, leaf first.
	Chain []Certificate `json:"chain,omitempty"`
	// Verified: the chain verifies against the report's roots for its
	// server name; VerifyError says why not.
	Verified    bool   `json:"verified"`
	VerifyError string `json:"verify_error,omitempty"`
	// ClientCertRequested: the server sent a CertificateRequest;
	// ClientCertCAs are the CA names it listed (certificate_authorities),
	// ClientCertSent whether the probe presented a certificate.
	ClientCertRequested bool     `json:"client_cert_requested"`
	ClientCertCAs       []string `json:"client_cert_cas,omitempty"`
	ClientCertSent      bool     `json:"client_cert_sent"`

	reached bool // the server answered in TLS (a ServerHello or an alert)
	// silent: no connection, or none of the server's bytes before the
	// attempt's time ran out; unconnected: no connection
	silent, unconnected bool
}

// Certificate describes one certificate of a chain.
type Certificate struct {
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	// KeyAlgorithm is the certificate's key: ML-DSA-65, ECDSA P-256,
	// RSA 2048, Ed25519.
	KeyAlgorithm string `json:"key_algorithm"`
	// SignatureAlgorithm is what its issuer signed it with, as crypto/x509
	// names it: ML-DSA-65, ECDSA-SHA256, SHA256-RSA.
	SignatureAlgorithm string    `json:"signature_algorithm"`
	NotAfter           time.Time `json:"not_after"`
}

// Run probes the TLS server at address (host:port) several ways, each on
// a connection of its own, and reports what each got and whether the
// server is PQ-ready. The error is for a probe that could not be made at
// all; a server that refuses, or cannot be reached, is reported.
func Run(ctx context.Context, address string, opts Options) (*Report, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	p := &prober{address: address, opts: opts, name: cmp.Or(opts.ServerName, host)}
	r := &Report{Address: address, ServerName: p.name, Roots: cmp.Or(opts.RootsName, "system roots")}
	if opts.Roots != nil && opts.RootsName == "" {
		r.Roots = "the given roots"
	}
	for _, run := range p.attempts() {
		a := run(ctx)
		r.Attempts = append(r.Attempts, a)
		if a.silent && len(r.Attempts) == 1 {
			// No connection, or a server that says nothing: the other
			// attempts would only wait as long. One that closes at once,
			// or answers the hybrid attempt with an error, may still
			// serve the others (some fail on a ClientHello that does not
			// fit in one TCP segment, as ML-KEM key shares make it).
			break
		}
	}
	r.judge()
	return r, nil
}
