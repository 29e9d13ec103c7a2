package reloadstate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options say which reload [Await] waits for.
type Options struct {
	Dir string // the records' directory: [Dir]
	PID int    // the proxy's PID: $MAINPID under systemd

	// Signal sends the proxy SIGHUP and waits for a reload that began
	// after it: ExecReload= of a Type=notify unit. Without it, systemd
	// has sent the signal itself before it ran the command
	// (Type=notify-reload, systemd 253 and later; service_enter_reload in
	// src/core/service.c), and the reload waited for is the first to
	// begin after the last one reported: see [Await].
	Signal bool

	// Timeout bounds the wait; zero means [DefaultTimeout].
	Timeout time.Duration
}

// DefaultTimeout is below systemd's default TimeoutStartSec= (90 s),
// which also bounds a reload (systemd.service(5)): the command's own
// message, which says what it waited for, reaches the journal first. A
// reload takes milliseconds, a second with large CRLs.
const DefaultTimeout = 60 * time.Second

// poll is how often the record is read while waiting: a small file on a
// tmpfs, for the milliseconds a reload lasts.
const poll = 10 * time.Millisecond

// Await waits for the outcome of the reload o asks for and returns its
// record, which says whether it took effect; an error means no outcome
// came.
//
// With o.Signal, the reload is one that began after the command's SIGHUP,
// so it read the configuration as it was when the command ran. Without
// it, systemd sent the signal before it started the command, and the
// proxy may have finished that reload before the command could look:
// nothing the command can see tells that reload from an earlier one but
// what it reported last (reload.reported). systemd runs one reload job of
// a unit at a time, and each command reports before it exits, so the
// first reload to begin after the last one reported is the one systemd
// signalled, unless something else sent SIGHUP in between.
func Await(ctx context.Context, o Options) (Record, error) {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	path := filepath.Join(o.Dir, File)
	err := owned(o.Dir)
	var r Record
	if err == nil {
		r, err = read(o.Dir)
	}
	if errors.Is(err, fs.ErrNotExist) || err == nil && r.PID != o.PID {
		// Not signalled: a proxy that keeps no record cannot say how the
		// reload went.
		return Record{}, fmt.Errorf("%s: no reload record from the proxy (PID %d): it started before this version was installed (restart the service), or its /tmp is not this command's (the units need PrivateTmp=yes)", path, o.PID)
	}
	if err != nil {
		return Record{}, err
	}
	after := r.Seq
	if o.Signal {
		if err := syscall.Kill(o.PID, syscall.SIGHUP); err != nil {
			return Record{}, fmt.Errorf("signal the proxy (PID %d): %w", o.PID, err)
		}
	} else {
		after = reported(o.Dir, o.PID)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	t := time.NewTicker(poll)
	defer t.Stop()
	for r.Seq <= after || !r.Done() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return Record{}, fmt.Errorf("%s: the proxy (PID %d) reported no reload after %d within %v", path, o.PID, after, o.Timeout)
		}
		// EPERM: the proxy runs as another user, so it lives. A proxy
		// on its way out has removed its records already.
		r, err = read(o.Dir)
		if perr := syscall.Kill(o.PID, 0); errors.Is(perr, syscall.ESRCH) || errors.Is(err, fs.ErrNotExist) {
			return Record{}, fmt.Errorf("the proxy (PID %d) exited before it reported the reload", o.PID)
		}
		if err != nil {
			return Record{}, err
		}
	}
	// Only a reload systemd signalled needs the mark, but a unit may
	// switch types between reloads.
	if err := replace(filepath.Join(o.Dir, reportedFile), fmt.Appendf(nil, "%d %d\n", o.PID, r.Seq)); err != nil {
		return r, err
	}
	return r, nil
}

// reported is the sequence number last reported for process pid, 0 if
// none.
func reported(dir string, pid int) int64 {
	data, err := os.ReadFile(filepath.Join(dir, reportedFile))
	if err != nil {
		return 0
	}
	p, s, _ := strings.Cut(strings.TrimSpace(string(data)), " ")
	if p != strconv.Itoa(pid) {
		return 0
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
