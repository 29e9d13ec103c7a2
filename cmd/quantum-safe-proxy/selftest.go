package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/probe"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/proxy"
)

// check --self-test serves the configured TLS setup (the snapshot check
// has just built: chains, client CAs, policy, tickets) on a loopback
// port of its own, runs the probe's matrix against it, and compares what
// each kind of client got with what the configuration says it should
// get. The backend is a sink on loopback, never the configured target:
// a self-test must not send anything to a live service. In client mode,
// where the proxy's TLS side is a client, it probes the configured remote
// target with the configured roots and client certificate instead.

// selfTestTimeout bounds each attempt on loopback; the remote target of
// client mode gets the probe's own default.
const selfTestTimeout = 5 * time.Second

// expectation is one thing the configuration promises a kind of client,
// and whether the self-test saw it kept.
type expectation struct {
	Attempt string `json:"attempt"`
	Want    string `json:"want"` // what the configuration says, in words
	Got     string `json:"got"`  // what the attempt got, in words
	OK      bool   `json:"ok"`
}

// selfTestReport is the --json form: one object, stable field names.
type selfTestReport struct {
	OK           bool          `json:"ok"`
	Mode         string        `json:"mode"`
	PQCMode      string        `json:"pqc_mode"`
	Warnings     []string      `json:"warnings"`
	Expectations []expectation `json:"expectations"`
	Notes        []string      `json:"notes,omitempty"`
	Certificates []chainFacts  `json:"certificates"`
	Probe        *probe.Report `json:"probe"`
}

// chainFacts is one configured chain as check describes it: the served
// chains, or client mode's client certificates, in order.
type chainFacts struct {
	File    string `json:"file"`
	Subject string `json:"subject"`
	Key     string `json:"key"`                // ML-DSA-65, ECDSA P-256
	KeyForm string `json:"key_form,omitempty"` // how an ML-DSA key is stored
	// Signer is the code that signs with the key: "circl" or
	// "crypto/mldsa (FIPS 140-3)" for ML-DSA keys (README: ML-DSA signing).
	Signer string `json:"signer"`
}

// configuredChains lists the chains snap serves or presents.
func configuredChains(snap *proxy.Snapshot) []chainFacts {
	var chains []*certs.Chain
	if snap.Client != nil {
		chains = snap.Client.Chains
	} else {
		chains = snap.TLS.Chains
	}
	out := []chainFacts{}
	for _, c := range chains {
		out = append(out, chainFacts{File: c.CertPath, Subject: c.Leaf().Subject.String(), Key: c.Algorithm(), KeyForm: string(c.Form), Signer: c.Signer()})
	}
	return out
}

// selfTestOptions are check's own flags for the self-test.
type selfTestOptions struct {
	enabled, json         bool
	clientCert, clientKey string // --probe-cert, --probe-key
}

// selfTestFlags takes --self-test, --json, --probe-cert and --probe-key
// out of check's arguments.
func selfTestFlags(args []string) (selfTestOptions, []string, error) {
	var o selfTestOptions
	var rest []string
	bad := func(format string, a ...any) error {
		return &config.Error{Problems: []error{fmt.Errorf("check: "+format, a...)}}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(a, "=")
		switch name {
		case "--self-test":
			o.enabled = true
		case "--json":
			o.json = true
		case "--probe-cert", "--probe-key":
			if !hasValue {
				if i+1 >= len(args) {
					return o, nil, bad("%s needs a file", name)
				}
				value = args[i+1]
				i++
			}
			if name == "--probe-cert" {
				o.clientCert = value
			} else {
				o.clientKey = value
			}
		default:
			rest = append(rest, a)
			continue
		}
		if name != "--probe-cert" && name != "--probe-key" && hasValue {
			return o, nil, bad("%s takes no value", name)
		}
	}
	switch {
	case (o.json || o.clientCert != "" || o.clientKey != "") && !o.enabled:
		return o, nil, bad("--json, --probe-cert and --probe-key go with --self-test")
	case (o.clientCert == "") != (o.clientKey == ""):
		return o, nil, bad("--probe-cert and --probe-key go together: the client certificate the self-test presents, and its key")
	}
	return o, rest, nil
}

// selfTestWarnings are the warnings check prints, for the JSON report.
func selfTestWarnings(cfg *config.Config, snap *proxy.Snapshot) []string {
	out := append([]string{}, cfg.Warnings...)
	if snap.Client != nil {
		return append(out, snap.Client.Warnings()...)
	}
	return append(out, snap.TLS.Warnings()...)
}

// runSelfTest serves snap on loopback (server mode) or probes the remote
// target (client mode), writes the report and judges it.
func runSelfTest(ctx context.Context, cfg *config.Config, snap *proxy.Snapshot, o selfTestOptions, warnings []string, stdout io.Writer) error {
	opts := probe.Options{Timeout: selfTestTimeout}
	if o.clientCert != "" {
		chain, err := certs.LoadChain(o.clientCert, o.clientKey)
		if err != nil {
			return &config.Error{Problems: []error{fmt.Errorf("check: --probe-cert: %w", err)}}
		}
		opts.ClientCert = &chain.TLS
	}
	var report *probe.Report
	var err error
	if snap.Client != nil {
		report, err = probeRemote(ctx, cfg, snap, opts)
	} else {
		report, err = probeLoopback(ctx, cfg, snap, opts)
	}
	if err != nil {
		return fmt.Errorf("self-test: %w", err)
	}
	r := &selfTestReport{Mode: string(cfg.Mode), PQCMode: string(cfg.PQCMode), Warnings: warnings, Certificates: configuredChains(snap), Probe: report}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	if snap.Client != nil {
		r.Expectations = clientExpectations(cfg, report)
	} else {
		r.Expectations = serverExpectations(cfg, snap, report)
		if cfg.ClientCertMode == config.ClientCertRequired && opts.ClientCert == nil {
			r.Notes = append(r.Notes, "client_cert_mode is required: give --probe-cert and --probe-key to try a client certificate too")
		}
	}
	r.OK = true
	for _, e := range r.Expectations {
		r.OK = r.OK && e.OK
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		writeSelfTest(stdout, r)
	}
	if !r.OK {
		return &verdictError{exitFail} // the report says which and why
	}
	return nil
}

func writeSelfTest(w io.Writer, r *selfTestReport) {
	fmt.Fprintln(w)
	if r.Mode == string(config.ModeClient) {
		fmt.Fprintln(w, "self-test: probing the remote target as this proxy's clients would reach it")
	} else {
		fmt.Fprintln(w, "self-test: the configured TLS setup, served on loopback, probed the ways clients connect")
	}
	r.Probe.WriteText(w)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "expectations:")
	failed := 0
	for _, e := range r.Expectations {
		mark := "ok    "
		if !e.OK {
			mark = "FAILED"
			failed++
		}
		fmt.Fprintf(w, "  %s %-12s want %s; got %s\n", mark, e.Attempt+":", e.Want, e.Got)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if failed == 0 {
		fmt.Fprintf(w, "self-test passed: every client got what pqc_mode %s and the configuration promise\n", r.PQCMode)
	} else {
		fmt.Fprintf(w, "self-test FAILED: %d of %d expectations not met\n", failed, len(r.Expectations))
	}
}

// probeLoopback serves a copy of snap on 127.0.0.1 with a sink for a
// backend, probes it, and stops it.
func probeLoopback(ctx context.Context, cfg *config.Config, snap *proxy.Snapshot, opts probe.Options) (*probe.Report, error) {
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	go func() {
		for {
			c, err := sink.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	s := *snap
	s.Target = sink.Addr().String()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := proxy.New(proxy.Options{Logger: slog.New(slog.DiscardHandler)}, &s)
	go p.Serve(ln, "self-test")
	defer func() {
		p.StopAccepting()
		ln.Close()
		stop, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		p.Shutdown(stop)
	}()

	opts.ServerName = selfTestName(cfg, snap)
	opts.Roots, opts.RootsName = chainTops(snap)
	address := ln.Addr().String()
	return probe.Run(ctx, address, opts)
}

// selfTestName is the server name the self-test asks for: the first
// chain's first bound name (a wildcard's stand-in below it), else its
// leaf's first DNS name, else none.
func selfTestName(cfg *config.Config, snap *proxy.Snapshot) string {
	var n string
	switch {
	case len(cfg.Certificates) > 0 && len(cfg.Certificates[0].ServerNames) > 0:
		n = cfg.Certificates[0].ServerNames[0]
	case len(snap.TLS.Chains) > 0 && len(snap.TLS.Chains[0].Leaf().DNSNames) > 0:
		n = snap.TLS.Chains[0].Leaf().DNSNames[0]
	}
	if rest, ok := strings.CutPrefix(n, "*."); ok {
		return "self-test." + rest
	}
	return n
}

// chainTops is a pool of the last certificate of every served chain: a
// chain then verifies up to what its file holds, so the self-test catches
// what every client refuses (an expired certificate, a name the leaf does
// not cover, a broken chain) without knowing which roots the clients
// trust, which is theirs to decide.
func chainTops(snap *proxy.Snapshot) (*x509.CertPool, string) {
	pool := x509.NewCertPool()
	for _, c := range snap.TLS.Chains {
		der := c.TLS.Certificate[len(c.TLS.Certificate)-1]
		if top, err := x509.ParseCertificate(der); err == nil {
			pool.AddCert(top)
		}
	}
	return pool, "the top certificate of each served chain file"
}

// probeRemote probes client mode's remote target with what the proxy
// presents and trusts.
func probeRemote(ctx context.Context, cfg *config.Config, snap *proxy.Snapshot, opts probe.Options) (*probe.Report, error) {
	opts.Timeout = 0 // the probe's default: the target may be far away
	opts.ServerName = cfg.ServerName
	pool, _, err := certs.LoadPool(cfg.CACertPath)
	if err != nil {
		return nil, err
	}
	opts.Roots, opts.RootsName = pool, cfg.CACertPath
	if opts.ClientCert == nil && len(snap.Client.Chains) > 0 {
		opts.ClientCert = &snap.Client.Chains[0].TLS
	}
	return probe.Run(ctx, cfg.Target, opts)
}

// serverExpectations derives, from the configuration, what each attempt
// of the probe must get from the proxy, and compares.
func serverExpectations(cfg *config.Config, snap *proxy.Snapshot, r *probe.Report) []expectation {
	mode := cfg.PQCMode
	required := cfg.ClientCertMode == config.ClientCertRequired
	classicalChain := false // a chain a client without ML-DSA can be served
	for i, c := range snap.TLS.Chains {
		if !certs.IsMLDSA(c.Leaf().PublicKey) && snap.TLS.ServesName(i, r.ServerName) {
			classicalChain = true
		}
	}
	var out []expectation
	for _, a := range r.Attempts {
		var handshake, pq bool
		switch a.Name {
		case probe.AttemptHybrid:
			handshake, pq = mode != config.PQCClassical, true
		case probe.AttemptClassical:
			handshake, pq = mode != config.PQCStrict, false
		case probe.AttemptMLDSA, probe.AttemptMLDSACerts, probe.AttemptClientCert:
			handshake, pq = true, mode != config.PQCClassical
		case probe.AttemptNoMLDSA:
			handshake, pq = classicalChain, mode != config.PQCClassical
		case probe.AttemptTLS12:
			// TLS 1.2 signs with no ML-DSA key, and a client certificate
			// is refused within its handshake.
			handshake = cfg.MinTLSVersion == "1.2" && mode != config.PQCStrict && classicalChain && !required
		default:
			continue
		}
		// A TLS 1.3 client without a certificate that the configuration
		// requires sees the server's side complete, then the refusal.
		// The handshake reader stops after the server's flight, so it
		// sees only the request.
		readerOnly := a.Name == probe.AttemptNoMLDSA || a.Name == probe.AttemptMLDSACerts
		refusedAfter := required && handshake && a.Name != probe.AttemptClientCert && !readerOnly
		e := expectation{Attempt: a.Name, Want: wantText(handshake, pq, refusedAfter, cfg.ClientCertMode), Got: gotText(&a)}
		switch {
		case !handshake:
			e.OK = !a.Handshake
		case refusedAfter:
			e.OK = a.Handshake && !a.OK && a.PQ == pq && a.ClientCertRequested
		default:
			e.OK = a.Handshake && a.OK && a.PQ == pq
			if cfg.ClientCertMode != config.ClientCertNone {
				e.OK = e.OK && a.ClientCertRequested
			}
		}
		if a.Handshake && !a.Verified {
			e.OK = false
			e.Got += "; every client refuses the chain: " + a.VerifyError
		}
		out = append(out, e)
	}
	return out
}

// clientExpectations: in client mode the proxy completes a handshake
// only with a server whose chain verifies against ca_cert_path, and in
// strict mode only over a hybrid group with an ML-DSA signature.
func clientExpectations(cfg *config.Config, r *probe.Report) []expectation {
	var out []expectation
	for _, a := range r.Attempts {
		switch {
		case cfg.PQCMode == config.PQCStrict && a.Name == probe.AttemptHybrid,
			cfg.PQCMode != config.PQCStrict && a.Name == probe.AttemptMLDSA:
		default:
			continue
		}
		want := "the remote server's chain verified against ca_cert_path"
		strict := cfg.PQCMode == config.PQCStrict
		if strict {
			want += ", over a hybrid post-quantum group, signed with ML-DSA"
		}
		e := expectation{Attempt: a.Name, Want: want, Got: gotText(&a)}
		if a.SignatureScheme != "" {
			e.Got += ", signed " + a.SignatureScheme
		}
		e.OK = a.Handshake && a.Verified && (!strict || a.PQ && strings.HasPrefix(a.SignatureScheme, "mldsa"))
		if a.Handshake && !a.Verified {
			e.Got += "; chain not verified: " + a.VerifyError
		}
		out = append(out, e)
	}
	return out
}

func wantText(handshake, pq, refusedAfter bool, ccm config.ClientCertMode) string {
	switch {
	case !handshake:
		return "refused"
	case refusedAfter:
		return fmt.Sprintf("handshake (%s), then refused for want of a client certificate", pqText(pq))
	case ccm != config.ClientCertNone:
		return fmt.Sprintf("served (%s), a client certificate requested", pqText(pq))
	}
	return fmt.Sprintf("served (%s)", pqText(pq))
}

func gotText(a *probe.Attempt) string {
	var s string
	switch {
	case a.OK:
		s = "served"
	case a.Handshake:
		s = "handshake, then refused"
	default:
		s = "refused"
	}
	if a.Handshake {
		s += fmt.Sprintf(" (%s, %s)", pqText(a.PQ), a.Group)
	}
	if a.Alert != "" {
		s += ", alert " + a.Alert
	} else if !a.OK && a.Error != "" {
		s += ": " + a.Error
	}
	return s
}

func pqText(pq bool) string {
	if pq {
		return "post-quantum"
	}
	return "classical"
}
