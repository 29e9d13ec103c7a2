// Package reloadstate carries the outcome of a configuration reload from
// the proxy to `quantum-safe-proxy reload`, the units' ExecReload=, so that
// `systemctl reload` fails when the reload failed.
//
// systemd has no way for a service to report a failed reload: 252
// (Debian 12) takes READY=1 after RELOADING=1 as the end of a reload,
// whatever happened, and 257 (Debian 13) does the same for
// Type=notify-reload; ERRNO= only sets the unit's StatusErrno property
// (src/core/service.c, service_notify_message). What fails a reload job on
// both is an ExecReload= command that exits non-zero. So the proxy writes
// a [Record] of its reloads to a file, and the command, which systemd
// runs with the same user, sandbox and environment, waits there for the
// outcome of the reload it asked for and exits with it.
//
// The file is in a directory of the unit's private /tmp named after
// $INVOCATION_ID, which systemd gives the main process and ExecReload=
// alike ([Dir]). RuntimeDirectory= would be the usual place, but systemd
// 257 cannot start a unit whose RuntimeDirectory= holds a backslash
// ("systemd-executor: Failed to deserialize: Invalid argument"), as
// quantum-safe-proxy@%i does for an instance named by an escaped address
// (quantum-safe-proxy@\x5b::1\x5d:9445).
//
// Each reload that reads the configuration (SIGHUP) has a sequence
// number; the record says when one begins and how it ended. A rotation
// of certificate files, which does not read the configuration, is not
// recorded: it is not what `systemctl reload` asks for.
package reloadstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// File is the record's name in the runtime directory.
const File = "reload.json"

// reportedFile holds the last sequence number the command reported, with
// the proxy's PID: the lower bound for a reload that systemd, not the
// command, signalled (see [Await]).
const reportedFile = "reload.reported"

// Phase is where the last reload stands.
type Phase string

const (
	Started   Phase = "started"   // no reload yet: Seq is 0
	Reloading Phase = "reloading" // reload Seq has begun
	OK        Phase = "ok"        // reload Seq took effect
	Failed    Phase = "failed"    // reload Seq failed, for Reason
)

// Record is the content of reload.json.
type Record struct {
	PID   int   `json:"pid"` // the proxy's
	Seq   int64 `json:"seq"` // the reloads begun since it started
	Phase Phase `json:"phase"`
	// Reason is, when the reload failed, why, in one line: its first
	// problem (the journal has every one) and what serves meanwhile.
	Reason string `json:"reason,omitempty"`
	// Warnings are the settings a reload that took effect kept at their
	// old value because they change only with a restart.
	Warnings []string `json:"warnings,omitempty"`
}

// Done reports whether the reload has ended.
func (r Record) Done() bool { return r.Phase != Reloading }

// Dir is the directory of the records of the unit invocation id
// ($INVOCATION_ID, 32 hex digits; systemd.exec(5)) under os.TempDir(),
// or "" when id is "" (not started by systemd). The shipped units have
// PrivateTmp=yes (and DynamicUser=yes, which implies it), so that /tmp
// is the unit's own, shared by its main process and ExecReload= and
// emptied when it stops; the id keeps two units apart where /tmp is
// shared.
func Dir(id string) (string, error) {
	if id == "" {
		return "", nil
	}
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", fmt.Errorf("INVOCATION_ID %q is not 32 hex digits", id)
	}
	return filepath.Join(os.TempDir(), "quantum-safe-proxy-"+id), nil
}

// owned checks that dir is a directory, not a symbolic link, of this
// process's user and closed to others: where /tmp is shared, no one else
// made it to read or forge records.
func owned(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm() != 0o700 {
		return fmt.Errorf("%s: not a directory of this user (uid %d) with mode 0700", dir, os.Getuid())
	}
	return nil
}

// Publisher writes the proxy's record. A nil *Publisher (no runtime
// directory) writes nothing.
type Publisher struct {
	dir string
	rec Record
}

// Open starts the record of process pid in dir, which it makes: no
// reload yet. It returns nil, nil when dir is "".
func Open(dir string, pid int) (*Publisher, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	if err := owned(dir); err != nil {
		return nil, err
	}
	p := &Publisher{dir: dir, rec: Record{PID: pid, Phase: Started}}
	return p, p.write()
}

// Close removes the records: the process is about to exit.
func (p *Publisher) Close() error {
	if p == nil {
		return nil
	}
	return os.RemoveAll(p.dir)
}

// Begin records that the next reload has begun.
func (p *Publisher) Begin() error {
	if p == nil {
		return nil
	}
	p.rec = Record{PID: p.rec.PID, Seq: p.rec.Seq + 1, Phase: Reloading}
	return p.write()
}

// Succeeded records that the reload took effect, but for the settings
// kept named in warnings.
func (p *Publisher) Succeeded(warnings []string) error {
	if p == nil {
		return nil
	}
	p.rec.Phase, p.rec.Warnings = OK, warnings
	return p.write()
}

// Failed records that the reload failed, and why in one line.
func (p *Publisher) Failed(reason string) error {
	if p == nil {
		return nil
	}
	p.rec.Phase, p.rec.Reason = Failed, reason
	return p.write()
}

// write replaces reload.json whole: a reader sees the old record or the
// new one, never part of one (rename(2) is atomic). The runtime directory
// is a tmpfs that a reboot empties anyway, so nothing is synced.
func (p *Publisher) write() error {
	data, err := json.Marshal(p.rec)
	if err != nil {
		return err
	}
	return replace(filepath.Join(p.dir, File), append(data, '\n'))
}

// replace writes data to path through a temporary file in the same
// directory and a rename. The file is 0600, as os.CreateTemp makes it, in
// a 0700 directory: reasons name files and settings.
func replace(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// read returns the record in dir; fs.ErrNotExist when there is none.
func read(dir string) (Record, error) {
	var r Record
	data, err := os.ReadFile(filepath.Join(dir, File))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("%s: %w", filepath.Join(dir, File), err)
	}
	return r, nil
}
