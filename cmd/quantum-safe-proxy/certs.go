package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// runCerts is the certs command: init, issue-client and inspect.
func runCerts(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("certs: name a command: init, issue-client or inspect")
	}
	var files []string
	var err error
	switch args[0] {
	case "init":
		files, err = certsInit(args[1:])
	case "issue-client":
		files, err = certsIssueClient(args[1:])
	case "inspect":
		return certsInspect(args[1:], stdout)
	default:
		return usageError(fmt.Sprintf("certs: unknown command %q: use init, issue-client or inspect", args[0]))
	}
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	return err
}

// certsInspect describes each file; a private key is matched against
// the certificates among the files and, with --config-file, those the
// configuration serves.
func certsInspect(args []string, stdout io.Writer) error {
	const use = "use certs inspect [--config-file FILE] PEM-FILE..."
	var files []string
	var configFile string
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(args[i], "=")
		switch {
		case name == "--config-file" || name == "-config-file":
			if !hasValue {
				if i+1 == len(args) {
					return usageError("certs inspect: --config-file needs a value; " + use)
				}
				i++
				value = args[i]
			}
			configFile = value
		case strings.HasPrefix(args[i], "-") && args[i] != "-":
			return usageError(fmt.Sprintf("certs inspect: unknown argument %q; %s", args[i], use))
		default:
			files = append(files, args[i])
		}
	}
	if len(files) == 0 {
		return usageError("certs inspect: name one or more PEM files; " + use)
	}
	var candidates []certs.Candidate
	for _, f := range files {
		cs, _ := certs.Candidates(f) // a key file holds none; Inspect reports unreadable files
		candidates = append(candidates, cs...)
	}
	if configFile != "" {
		cfg, err := config.Load([]string{"--config-file", configFile}, nil)
		if err != nil {
			return err
		}
		for _, p := range cfg.Certificates {
			if slices.Contains(files, p.CertPath) {
				continue
			}
			cs, err := certs.Candidates(p.CertPath)
			if err != nil {
				return err
			}
			candidates = append(candidates, cs...)
		}
	}
	for _, f := range files {
		if err := certs.Inspect(stdout, f, candidates, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

// certsInit writes the development PKI (--dir) or, with --host, the
// host PKI: server chains in --dir, the roots' keys in --ca-dir.
func certsInit(args []string) ([]string, error) {
	const use = "use --dir DIR [--force], or --host --dir DIR --ca-dir DIR [--force]"
	f, err := certsFlags("certs init", args, use, "--dir", "--ca-dir")
	if err != nil {
		return nil, err
	}
	dir := cmp.Or(f.values["--dir"], "certs")
	if !f.host {
		if f.values["--ca-dir"] != "" {
			return nil, usageError("certs init: --ca-dir goes with --host; " + use)
		}
		return certs.WriteDevPKI(dir, f.force)
	}
	if f.values["--dir"] == "" || f.values["--ca-dir"] == "" {
		return nil, usageError("certs init --host: name both --dir (read by the service) and --ca-dir (root only)")
	}
	if filepath.Clean(f.values["--dir"]) == filepath.Clean(f.values["--ca-dir"]) {
		return nil, usageError("certs init --host: --ca-dir must not be --dir: the service must not read the roots' keys")
	}
	host, _ := os.Hostname()
	return certs.WriteHostPKI(dir, f.values["--ca-dir"], host, f.force)
}

// certsIssueClient issues a client certificate from the roots in --ca-dir.
func certsIssueClient(args []string) ([]string, error) {
	const use = "use --ca-dir DIR --name NAME [--key-type mldsa|ecdsa|mldsa-ecdsa-issued] [--out DIR] [--force]"
	f, err := certsFlags("certs issue-client", args, use, "--ca-dir", "--name", "--key-type", "--out")
	if err != nil {
		return nil, err
	}
	if f.host || f.values["--ca-dir"] == "" || f.values["--name"] == "" {
		return nil, usageError("certs issue-client: " + use)
	}
	keyType := cmp.Or(f.values["--key-type"], certs.ClientMLDSA)
	if !slices.Contains(certs.ClientKeyTypes, keyType) {
		return nil, usageError(fmt.Sprintf("certs issue-client: --key-type %q is not one of %s", keyType, strings.Join(certs.ClientKeyTypes, ", ")))
	}
	if err := certs.CheckClientName(f.values["--name"]); err != nil {
		return nil, usageError("certs issue-client: --name " + err.Error())
	}
	return certs.IssueClient(f.values["--ca-dir"], f.values["--name"], keyType, cmp.Or(f.values["--out"], "."), f.force)
}

type certsArgs struct {
	values      map[string]string
	host, force bool
}

// certsFlags parses --force, --host and the named flags that take a
// value (as --flag VALUE, --flag=VALUE or with one dash).
func certsFlags(cmd string, args []string, use string, named ...string) (certsArgs, error) {
	f := certsArgs{values: map[string]string{}}
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(args[i], "=")
		if !strings.HasPrefix(name, "--") {
			name = "-" + name
		}
		switch {
		case name == "--force" && !hasValue:
			f.force = true
		case name == "--host" && !hasValue:
			f.host = true
		case slices.Contains(named, name):
			if !hasValue {
				if i+1 == len(args) {
					return f, usageError(fmt.Sprintf("%s: %s needs a value; %s", cmd, name, use))
				}
				i++
				value = args[i]
			}
			f.values[name] = value
		default:
			return f, usageError(fmt.Sprintf("%s: unknown argument %q; %s", cmd, args[i], use))
		}
	}
	return f, nil
}

func usageError(msg string) error { return &config.Error{Problems: []error{errors.New(msg)}} }
