package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/probe"
)

// Exit codes of probe beyond 0 (PQ-ready), 1 and 78 (bad arguments or
// files, as for every command): a TLS server that is not PQ-ready is not
// a failure of the probe, and a script must tell it from one that cannot
// be reached (1).
const exitNotPQReady = 2

// verdictError ends a probe whose report has been written with the exit
// code its verdict calls for; nothing more is printed.
type verdictError struct{ code int }

func (e *verdictError) Error() string { return "probe verdict" }

const probeUse = "use probe HOST:PORT [--ca FILE] [--cert FILE --key FILE] [--server-name NAME] [--json]"

// runProbe connects to a TLS server several ways and reports what each
// got, and whether it is PQ-ready (internal/probe).
func runProbe(ctx context.Context, args []string, stdout io.Writer) error {
	values := map[string]string{}
	var address string
	asJSON := false
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(args[i], "=")
		if strings.HasPrefix(name, "-") && !strings.HasPrefix(name, "--") {
			name = "-" + name
		}
		switch {
		case name == "--json" && !hasValue:
			asJSON = true
		case slices.Contains([]string{"--ca", "--cert", "--key", "--server-name"}, name):
			if !hasValue {
				if i+1 == len(args) {
					return usageError(fmt.Sprintf("probe: %s needs a value; %s", name, probeUse))
				}
				i++
				value = args[i]
			}
			values[name] = value
		case strings.HasPrefix(args[i], "-"):
			return usageError(fmt.Sprintf("probe: unknown argument %q; %s", args[i], probeUse))
		case address != "":
			return usageError(fmt.Sprintf("probe: one address only, not %q and %q; %s", address, args[i], probeUse))
		default:
			address = args[i]
		}
	}
	opts, err := probeOptions(address, values)
	if err != nil {
		return err
	}
	report, err := probe.Run(ctx, address, opts)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	} else {
		report.WriteText(stdout)
	}
	switch report.Verdict {
	case probe.PQReady:
		return nil
	case probe.NotPQReady:
		return &verdictError{exitNotPQReady}
	}
	return &verdictError{exitFail}
}

// probeOptions checks the address and loads the files the flags name.
func probeOptions(address string, values map[string]string) (probe.Options, error) {
	var opts probe.Options
	if address == "" {
		return opts, usageError("probe: name the server as HOST:PORT; " + probeUse)
	}
	if host, port, err := net.SplitHostPort(address); err != nil || host == "" || port == "" {
		return opts, usageError(fmt.Sprintf("probe: %q is not HOST:PORT (an IPv6 address goes in brackets: [::1]:443); %s", address, probeUse))
	}
	opts.ServerName = values["--server-name"]
	if ca := values["--ca"]; ca != "" {
		pool, _, err := certs.LoadPool(ca)
		if err != nil {
			return opts, &config.Error{Problems: []error{fmt.Errorf("probe: --ca: %w", err)}}
		}
		opts.Roots, opts.RootsName = pool, ca
	}
	cert, key := values["--cert"], values["--key"]
	if (cert == "") != (key == "") {
		return opts, usageError("probe: --cert and --key go together: the client certificate and its private key")
	}
	if strings.Contains(key, "-----BEGIN ") {
		// The key's text, not its path: an error from opening it would
		// print the key.
		return opts, usageError("probe: --key: holds a private key in PEM, not the path of a file; write the key to a file and give its path (the key is not shown here)")
	}
	if cert != "" {
		chain, err := certs.LoadChain(cert, key)
		if err != nil {
			return opts, &config.Error{Problems: []error{fmt.Errorf("probe: %w", err)}}
		}
		opts.ClientCert = &chain.TLS
	}
	return opts, nil
}
