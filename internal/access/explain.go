package access

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DeniedError is a file this process was not allowed to open, with what
// stood in the way and the fix for the packaged service.
type DeniedError struct {
	Path string
	Err  error // the error of the read, for errors.Is(err, fs.ErrPermission)
	msg  string
}

func (e *DeniedError) Error() string { return e.msg }
func (e *DeniedError) Unwrap() error { return e.Err }

// Explain returns err, the failure to read path, a file of kind kind, as
// it is unless it is a permission error. A permission error becomes a
// [DeniedError] that names this process's uid and groups, what it could
// not get through (a directory on the way, the file, or a place the
// packaged unit hides) and the chgrp/chmod that lets the packaged service
// read it. The kernel decides what stands in the way (access(2), with
// this process's credentials), so the answer holds under PrivateUsers=,
// where the file's group may show as nobody's.
func Explain(path string, kind Kind, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	who := fmt.Sprintf("this process (uid %d, groups %s)", os.Getuid(), groups())
	blocker, isDir := firstDenied(path)
	gid := serviceGID()
	var msg string
	switch h := (&Identity{Hidden: UnitHidden}).hidden(blocker); {
	case h != nil && blocker == h.Path:
		// The unit puts an inaccessible node (mode 0000) over a hidden
		// directory; a file under PrivateTmp='s /tmp is just not there.
		msg = fmt.Sprintf("%s: permission denied: %s cannot pass through %s; %s", path, who, h.Path, h.Why)
	case isDir:
		st := statOrZero(blocker)
		fix := unknownGroupFix
		if !st.unknownGroup() {
			fix = dirFix(blocker, st, gid)
		}
		msg = fmt.Sprintf("%s: permission denied: %s cannot pass through %s (%s); fix, for the packaged service (group %s): %s",
			path, who, blocker, st.owner(), Group, fix)
	default:
		st := statOrZero(path)
		fix := unknownGroupFix
		// A public file is made 0644 and a file with an ACL gets an
		// entry whatever its group; only a key's fix turns on it.
		if kind != Key || !st.unknownGroup() {
			fix = fileFix(path, kind, st, gid)
		}
		msg = fmt.Sprintf("%s: permission denied: %s cannot read this %s (%s); fix, for the packaged service (group %s): %s",
			path, who, kind, st.owner(), Group, fix)
	}
	return &DeniedError{Path: path, Err: err, msg: msg}
}

// overflowID is what the kernel shows for an id that this process's user
// namespace does not map (/proc/sys/kernel/overflowgid): under
// PrivateUsers=, the group of a key in quantum-safe-proxy-keys, and of
// one in ssl-cert alike.
const overflowID = 65534

// unknownGroupFix is the fix for a directory or key whose group shows as
// [overflowID]. It may be the service's group (then chmod g+x or 0640 is
// the fix) or one that others rely on, such as ssl-cert, which chgrp
// would take from them; root, in the initial namespace, sees which.
// (Outside a user namespace 65534 is nogroup, whose files are as rare as
// this advice is safe.)
const unknownGroupFix = "its group shows here as 65534, as every group PrivateUsers= leaves unmapped does, so run `quantum-safe-proxy check --as service` as root for the exact fix; do not chgrp it, which would take it from that group"

// serviceGID is the gid of [Group], or -1 if there is none; tests replace
// it.
var serviceGID = func() int {
	id, _ := Service()
	return id.GID
}

// statOrZero stats path for the hint, or returns the zero info.
func statOrZero(path string) *info {
	st, err := stat(path)
	if err != nil {
		return &info{}
	}
	return st
}

// unknownGroup says whether the group of a file without an ACL cannot be
// told from here (see [unknownGroupFix]).
func (st *info) unknownGroup() bool { return st.gid == overflowID && st.acl == nil }

// owner is the mode and owner without the group: under PrivateUsers= the
// service sees the group of a key as nobody's, which would mislead.
func (st *info) owner() string {
	s := fmt.Sprintf("mode %04o, owner %s", st.mode, userName(st.uid))
	if st.acl != nil {
		s += ", with an ACL"
	}
	return s
}

// firstDenied returns the first directory on the way to path that this
// process may not search, or path itself (isDir false) if it may search
// them all.
func firstDenied(path string) (blocker string, isDir bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path, false
	}
	// Directories a symbolic link leads through are tried as far as
	// they can be followed; a directory that cannot be searched stops
	// the lookup, and is the one to name.
	dirs, _, _, _ := resolve(abs)
	if len(dirs) == 0 {
		for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
			dirs = append([]string{d}, dirs...)
			if d == "/" {
				break
			}
		}
	}
	for _, d := range dirs {
		if syscall.Access(d, 1) != nil {
			return d, true
		}
	}
	return path, false
}

// groups lists this process's gids. Under PrivateUsers= the kernel shows
// every group the user namespace does not map, quantum-safe-proxy-keys
// among them, as 65534 (user_namespaces(7)); the list says so, lest it
// read as a service without its group.
func groups() string {
	gids, _ := os.Getgroups()
	list := []string{strconv.Itoa(os.Getgid())}
	unmapped := false
	for _, g := range gids {
		if g != os.Getgid() {
			list = append(list, strconv.Itoa(g))
		}
		unmapped = unmapped || (g == overflowID && !fullMap())
	}
	s := strings.Join(list, ",")
	if unmapped {
		s += "; 65534 stands for the groups PrivateUsers= leaves unmapped"
	}
	return s
}

// fullMap says whether this process's user namespace maps every gid, as
// the initial one does (/proc/self/gid_map "0 0 4294967295").
func fullMap() bool {
	data, err := os.ReadFile("/proc/self/gid_map")
	return err != nil || strings.Join(strings.Fields(string(data)), " ") == "0 0 4294967295"
}
