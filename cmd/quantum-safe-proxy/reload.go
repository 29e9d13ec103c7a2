package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/reloadstate"
)

// runReload is the units' ExecReload=: it sends the proxy ($MAINPID)
// SIGHUP and waits for the outcome of the reload that began after it,
// which the proxy records in the unit's private /tmp (package
// reloadstate). A reload that failed in the proxy, for whatever
// reason (a typo, a key the service cannot read, a mode change, a file
// changed since it was checked), exits 1 with the proxy's reason on one
// line, so `systemctl reload` fails and `systemctl status` shows why.
// Settings the reload kept because they change only with a restart are
// warnings, and the reload succeeds.
//
// With --no-signal it sends nothing: under Type=notify-reload (systemd
// 253 and later) systemd signals the proxy itself before it runs
// ExecReload=, and the command waits for that reload's outcome.
//
// Nothing here reads the configuration: the outcome is the proxy's own,
// with the flags its ExecStart= has, however a drop-in changed them.
func runReload(ctx context.Context, args, environ []string, stderr io.Writer) error {
	o := reloadstate.Options{Signal: true}
	for _, a := range args {
		if a != "--no-signal" {
			return &config.Error{Problems: []error{fmt.Errorf("reload: unknown argument %q; the only one is --no-signal", a)}}
		}
		o.Signal = false
	}
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	pid, err := strconv.Atoi(env["MAINPID"])
	if err != nil || pid <= 0 {
		what := "is not set"
		if env["MAINPID"] != "" {
			what = fmt.Sprintf("is %q, not a process ID", env["MAINPID"])
		}
		return &config.Error{Problems: []error{fmt.Errorf("reload: MAINPID %s: this command is ExecReload= of the systemd units, where systemd sets it; elsewhere send the proxy SIGHUP", what)}}
	}
	o.PID = pid
	if o.Dir, err = reloadstate.Dir(env["INVOCATION_ID"]); err != nil || o.Dir == "" {
		why := "INVOCATION_ID is not set"
		if err != nil {
			why = err.Error()
		}
		return &config.Error{Problems: []error{fmt.Errorf("reload: %s: this command is ExecReload= of the systemd units, where systemd sets it", why)}}
	}
	r, err := reloadstate.Await(ctx, o)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	_, warnPrefix := journalPrefixes(stderr)
	for _, w := range r.Warnings {
		fmt.Fprintf(stderr, "%squantum-safe-proxy: warning: reload: %s\n", warnPrefix, w)
	}
	if r.Phase == reloadstate.Failed {
		return fmt.Errorf("reload failed: %s", r.Reason)
	}
	return nil
}
