package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/access"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/daemon"
)

// unitConfigDir is where the packaged units read their configuration:
// config.json, and NAME.json for quantum-safe-proxy@NAME.service.
const unitConfigDir = "/etc/quantum-safe-proxy/"

// runCheck validates the configuration and the files it names, and says
// what each kind of client gets. With --as service (the default for a
// configuration file in /etc/quantum-safe-proxy, which only the packaged
// units read), it also finds every file the packaged service could not
// read, though root, who usually runs check, reads them all: a key copied
// in 0600 root passes a root's check and fails the service's reload.
// --as self leaves that out, for a proxy run some other way. --quiet
// prints nothing when the configuration loads, for scripts (a deploy
// step before `systemctl reload`); problems still go to stderr.
func runCheck(ctx context.Context, args, environ []string, stdout io.Writer) error {
	self, args, err := selfTestFlags(args)
	if err != nil {
		return err
	}
	as, quiet, args, err := checkFlags(args)
	if err != nil {
		return err
	}
	if self.json {
		// One JSON document on stdout: what check says in words is in
		// it (warnings) or on stderr (problems).
		quiet = true
	}
	cfg, err := loadConfig(args, environ, stdout)
	if err != nil {
		return err
	}
	if as == "" {
		as = "self"
		if abs, err := filepath.Abs(cfg.File()); err == nil && cfg.File() != "" && strings.HasPrefix(abs, unitConfigDir) {
			as = "service"
		}
	}
	snap, err := daemon.NewSnapshot(cfg)
	var problems []error
	if err != nil {
		var ce *config.Error
		if !errors.As(err, &ce) {
			return err
		}
		problems = ce.Problems
	}
	var readable int
	var notes []string
	if kept, note := outOfSight(problems, environ); note != "" {
		problems, notes = kept, append(notes, note)
	}
	if as == "service" {
		var denied []error
		readable, denied, notes = serviceReadable(cfg)
		problems = append(problems, denied...)
	}
	if len(problems) > 0 {
		for _, n := range notes {
			fmt.Fprintf(stdout, "note: %s\n", n)
		}
		return &config.Error{Problems: problems}
	}
	if quiet && self.enabled && snap != nil {
		return runSelfTest(ctx, cfg, snap, self, selfTestWarnings(cfg, snap), stdout)
	}
	if quiet {
		return nil
	}
	fmt.Fprintf(stdout, "configuration ok: listen %s, target %s\n", cfg.Listen, cfg.Target)
	if snap == nil { // only credentials were out of sight
		for _, n := range notes {
			fmt.Fprintf(stdout, "note: %s\n", n)
		}
		return nil
	}
	switch {
	case as == "service":
		fmt.Fprintf(stdout, "files: the service (%s) can read all %d\n", (&access.Identity{}).Describe(), readable)
		for _, n := range notes {
			fmt.Fprintf(stdout, "note: %s\n", n)
		}
	case os.Geteuid() == 0:
		fmt.Fprintln(stdout, "files: read as root, who can read every file; `check --as service` checks them as the packaged service would read them")
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if snap.Client != nil {
		snap.Client.Describe(stdout, cfg.Target, time.Now())
	} else {
		snap.TLS.Describe(stdout, time.Now())
	}
	if self.enabled {
		return runSelfTest(ctx, cfg, snap, self, selfTestWarnings(cfg, snap), stdout)
	}
	return nil
}

// outOfSight drops the problems about files under $CREDENTIALS_DIRECTORY
// when this process cannot enter it, and says so. systemd (252, at least)
// shows the credentials (LoadCredential=) only to the service's main
// process: its ExecReload= commands, check among them where an operator
// runs it there, find /run/credentials at mode 0000. Credentials change
// only with a restart, so a reload reads the bytes the proxy started
// with; they are the proxy's to check, and every other file is still
// checked here.
func outOfSight(problems []error, environ []string) ([]error, string) {
	var dir string
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "CREDENTIALS_DIRECTORY="); ok {
			dir = v
		}
	}
	if dir == "" {
		return problems, ""
	}
	f, err := os.Open(dir)
	if err == nil {
		f.Close()
	}
	if !errors.Is(err, fs.ErrPermission) {
		return problems, ""
	}
	var kept []error
	for _, p := range problems {
		if !strings.Contains(p.Error(), filepath.Clean(dir)+"/") {
			kept = append(kept, p)
		}
	}
	if len(kept) == len(problems) {
		return problems, ""
	}
	return kept, fmt.Sprintf("the credentials in %s are not visible to this process (systemd shows them only to the service's main process); they change only with a restart, and the proxy reads them itself", dir)
}

// checkFlags takes check's own --as service|self and --quiet out of args.
func checkFlags(args []string) (as string, quiet bool, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--quiet" || a == "-q":
			quiet = true
			continue
		case a == "--as" && i+1 < len(args):
			as = args[i+1]
			i++
		case strings.HasPrefix(a, "--as="):
			as = strings.TrimPrefix(a, "--as=")
		case a == "--as":
			as = "?"
		default:
			rest = append(rest, a)
			continue
		}
		if as != "service" && as != "self" {
			return "", false, nil, &config.Error{Problems: []error{fmt.Errorf("check: --as %q is not one of service, self", as)}}
		}
	}
	return as, quiet, rest, nil
}

// serviceReadable checks every file the configuration names as the
// packaged service would read it: how many it can read, a problem with
// its fix for each file, directory or hidden place in the way, and a note
// for each directory it can search but not read (so not watch), each
// named once.
func serviceReadable(cfg *config.Config) (int, []error, []string) {
	id, err := access.Service()
	var problems []error
	var notes []string
	if err != nil {
		problems = append(problems, err)
	}
	type file struct {
		path string
		kind access.Kind
	}
	var files []file
	if cfg.File() != "" {
		files = append(files, file{cfg.File(), access.ConfigFile})
	}
	for _, p := range cfg.Certificates {
		files = append(files, file{p.CertPath, access.Certificate}, file{p.KeyPath, access.Key})
	}
	if cfg.ClientCertMode != config.ClientCertNone || cfg.Mode == config.ModeClient {
		files = append(files, file{cfg.CACertPath, access.CABundle})
	}
	for _, f := range cfg.CRLFiles {
		files = append(files, file{f, access.CRL})
	}
	seen, readable := map[string]bool{}, 0
	for _, f := range files {
		// systemd copies credentials in for the service's own user
		// (systemd.exec(5), LoadCredential=).
		if strings.HasPrefix(f.path, "/run/credentials/") || seen[f.path] {
			continue
		}
		seen[f.path] = true
		found, err := id.Check(f.path, f.kind)
		if err != nil {
			continue // not there: loading the snapshot said so
		}
		denied := false
		for _, p := range found {
			denied = denied || !p.Note
			if !seen[p.Path] || p.Path == f.path {
				seen[p.Path] = true
				if p.Note {
					notes = append(notes, p.Error())
				} else {
					problems = append(problems, p)
				}
			}
		}
		if !denied {
			readable++
		}
	}
	return readable, problems, notes
}
