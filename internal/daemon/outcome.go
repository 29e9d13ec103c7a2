package daemon

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/reloadstate"
)

// openState starts the record of reload outcomes from which
// `quantum-safe-proxy reload` (the units' ExecReload=) learns whether the
// reload it asked for took effect (see package reloadstate). It runs once
// the logger exists and before READY=1, so that the record is there for
// every reload systemd can run; not started by systemd (no
// INVOCATION_ID), it does nothing.
func (d *daemon) openState() {
	if d.outcome != nil {
		return
	}
	dir, err := reloadstate.Dir(os.Getenv("INVOCATION_ID"))
	var st *reloadstate.Publisher
	if err == nil {
		st, err = reloadstate.Open(dir, os.Getpid())
	}
	if err != nil {
		d.log.Warn("cannot record reload outcomes: `quantum-safe-proxy reload` (systemctl reload) will fail until a restart", "error", err.Error())
		return
	}
	d.outcome = st
}

// published logs a failure to write the record: the reload itself is
// unaffected, but `quantum-safe-proxy reload` will wait for it in vain.
func (d *daemon) published(err error) {
	if err != nil {
		d.log.Warn("cannot record the reload's outcome for `quantum-safe-proxy reload`", "error", err.Error())
	}
}

// firstProblem is err's first problem on one line, and how many more
// there are: a *config.Error lists them all.
func firstProblem(err error) (string, int) {
	first, more := err.Error(), 0
	var ce *config.Error
	if errors.As(err, &ce) && len(ce.Problems) > 0 {
		first, more = ce.Problems[0].Error(), len(ce.Problems)-1
	}
	// One line, as STATUS= and the command's error need.
	return strings.ReplaceAll(first, "\n", "; "), more
}

// failureReason is the one line `quantum-safe-proxy reload` prints for a
// failed reload: the first problem, how many more the journal has, and
// what serves meanwhile.
func failureReason(first string, more int, meanwhile string) string {
	if more > 0 {
		first += fmt.Sprintf(" (and %d more in the journal)", more)
	}
	return first + "; " + meanwhile
}
