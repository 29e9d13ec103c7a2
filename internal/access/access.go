// Package access says whether the packaged service could read the files a
// configuration names, and what to run when it could not.
//
// The packaged units (systemd/quantum-safe-proxy.service) run the proxy as
// a dynamic user (DynamicUser=yes) whose one other group is [Group]
// (SupplementaryGroups=), with no capabilities. That user owns no file, so
// it reads a file through the file's group or its "other" bits, and it
// needs search (x) permission on every directory on the way. Root, who
// runs `quantum-safe-proxy check`, can read everything, so check cannot
// learn this by opening the files: [Identity.Check] works it out from the
// mode, owner, group and POSIX ACL of each directory and file, and from
// the places the unit hides. When a read does fail, at start or on reload,
// [Explain] says what this process could not get through and how to let
// the service through.
package access

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// Group is the group the packaged units give the service
// (SupplementaryGroups=, made by sysusers.d) and that packaged keys
// belong to: 0640 root:quantum-safe-proxy-keys.
const Group = "quantum-safe-proxy-keys"

// Kind is what a configured file holds; a private key gets the packaged
// key permissions, anything else those of a public file (0644).
type Kind string

const (
	Key         Kind = "key"
	Certificate Kind = "certificate"
	CABundle    Kind = "CA bundle"
	ConfigFile  Kind = "config file"
	CRL         Kind = "CRL"
)

// Hidden is a place the packaged unit keeps out of the service's sight.
type Hidden struct {
	Path string // absolute, cleaned
	Why  string // what hides it and what to do instead
}

// UnitHidden are the places quantum-safe-proxy.service (and its @
// instances) hide from the service, by the settings that hide them
// (systemd.exec(5)).
var UnitHidden = []Hidden{
	{"/home", "the packaged unit hides /home, /root and /run/user from the service (ProtectHome=yes); keep the files it reads under /etc/quantum-safe-proxy"},
	{"/root", "the packaged unit hides /home, /root and /run/user from the service (ProtectHome=yes); keep the files it reads under /etc/quantum-safe-proxy"},
	{"/run/user", "the packaged unit hides /home, /root and /run/user from the service (ProtectHome=yes); keep the files it reads under /etc/quantum-safe-proxy"},
	{"/tmp", "the service has a /tmp and /var/tmp of its own (PrivateTmp=yes), without this file; keep the files it reads under /etc/quantum-safe-proxy"},
	{"/var/tmp", "the service has a /tmp and /var/tmp of its own (PrivateTmp=yes), without this file; keep the files it reads under /etc/quantum-safe-proxy"},
	{"/etc/quantum-safe-proxy/ca", "the packaged unit hides /etc/quantum-safe-proxy/ca, where the roots' keys are, from the service (InaccessiblePaths=); use /etc/quantum-safe-proxy/certs/ca.crt, or copy the certificate (never a key) out of ca/"},
}

// Identity is a user who owns none of the files it reads: the packaged
// service's dynamic user.
type Identity struct {
	// GID is the gid of [Group], or -1 if the group does not exist:
	// then only a file's "other" bits let the service read it.
	GID int
	// Hidden are the places it cannot see, whatever their modes.
	Hidden []Hidden
}

// Service returns the packaged service's identity: [Group], looked up
// now, and the places the packaged unit hides. The error says that the
// group does not exist; the identity is usable all the same.
func Service() (*Identity, error) {
	id := &Identity{GID: -1, Hidden: UnitHidden}
	g, err := user.LookupGroup(Group)
	if err != nil {
		return id, fmt.Errorf("group %s does not exist, and the packaged unit cannot start without it (SupplementaryGroups=); fix: systemd-sysusers, which makes it from /usr/lib/sysusers.d/quantum-safe-proxy.conf", Group)
	}
	id.GID, _ = strconv.Atoi(g.Gid)
	return id, nil
}

// Describe says who the identity is, for check's report.
func (id *Identity) Describe() string {
	return "a dynamic user in group " + Group
}

// Problem is one thing that would keep the service from reading a file:
// the file itself, a directory on its way, or a place the unit hides.
type Problem struct {
	Path string // what is in the way: the file, or a directory on its way
	// Note says the service can read the file all the same; only its
	// rotation is seen less well (a directory it cannot read).
	Note bool
	msg  string // names Path, what is wrong and the fix
}

func (p *Problem) Error() string { return p.msg }

// Check returns what would keep id from reading path, a file of kind kind:
// every directory on the way (symbolic links followed as the kernel
// follows them) it could not search, the file if it could not read it, or
// the place the unit hides that path is in. It adds, as a [Problem.Note],
// each directory holding the file or a link on its way that id may
// search but not read, where the file can be read but not watched there. An error means path could not
// be followed to the end (it does not exist, or root cannot read a link);
// whoever loads the file reports that.
func (id *Identity) Check(path string, kind Kind) ([]*Problem, error) {
	dirs, file, holders, err := resolve(path)
	if err != nil {
		return nil, err
	}
	for _, p := range append(dirs, file) {
		if h := id.hidden(p); h != nil {
			return []*Problem{{Path: path, msg: fmt.Sprintf("%s: %s", path, h.Why)}}, nil
		}
	}
	var out []*Problem
	for _, d := range dirs {
		st, err := stat(d)
		if err != nil {
			return out, err
		}
		if !id.may(st, 1) {
			fix := dirFix(d, st, id.GID) + orJoin(st, 1, id.GID)
			out = append(out, &Problem{Path: d,
				msg: fmt.Sprintf("%s: the service cannot reach %s through this directory (%s; the service is %s); fix: %s", d, path, st, id.Describe(), fix)})
		}
	}
	for _, d := range holders {
		// inotify_add_watch(2) needs read permission; without it the
		// proxy watches the file itself (package watch).
		if st, err := stat(d); err == nil && id.may(st, 1) && !id.may(st, 4) {
			out = append(out, &Problem{Path: d, Note: true,
				msg: fmt.Sprintf("%s: the service may search this directory but not read it (%s; the service is %s), so it watches %s for rotation through the file only: a write in place or a rename over it is seen, a file deleted and made again later is not; fix: %s", d, st, id.Describe(), path, readFix(d, st, id.GID))})
		}
	}
	st, err := stat(file)
	if err != nil {
		return out, err
	}
	if !id.may(st, 4) {
		fix := fileFix(path, kind, st, id.GID) + orJoin(st, 4, id.GID)
		out = append(out, &Problem{Path: path,
			msg: fmt.Sprintf("%s: the service cannot read this %s (%s; the service is %s); fix: %s", path, kind, st, id.Describe(), fix)})
	}
	return out, nil
}

func (id *Identity) hidden(p string) *Hidden {
	for i, h := range id.Hidden {
		if p == h.Path || strings.HasPrefix(p, h.Path+"/") {
			return &id.Hidden[i]
		}
	}
	return nil
}

// may says whether id may read (want 4) or search (want 1) a file: as the
// kernel decides for a user who is not its owner (acl(5), "Access check
// algorithm"; without an ACL, the group bits if the file's group is the
// user's, else the other bits).
func (id *Identity) may(st *info, want uint32) bool {
	inGroup := id.GID >= 0 && uint32(id.GID) == st.gid
	if st.acl == nil {
		if inGroup {
			return st.mode>>3&want != 0
		}
		return st.mode&want != 0
	}
	mask, matched := uint32(7), false
	for _, e := range st.acl {
		if e.tag == aclMask {
			mask = e.perm
		}
	}
	for _, e := range st.acl {
		if (e.tag == aclGroupObj && inGroup) || (e.tag == aclGroup && id.GID >= 0 && e.id == uint32(id.GID)) {
			matched = true
			if e.perm&mask&want != 0 {
				return true
			}
		}
	}
	if matched {
		return false
	}
	for _, e := range st.acl {
		if e.tag == aclOther {
			return e.perm&want != 0
		}
	}
	return false
}

// fileFix is the command that lets the service read a file of this kind,
// with the permissions the packages give it: keys 0640
// root:quantum-safe-proxy-keys, other files 0644.
func fileFix(path string, kind Kind, st *info, gid int) string {
	q := shellQuote(path)
	switch {
	case st.acl != nil:
		// chmod on a file with an ACL sets its mask, not its group
		// entry (acl(5)); a named group entry is what the service needs.
		return fmt.Sprintf("setfacl -m g:%s:r %s", Group, q)
	case kind != Key:
		return "chmod 0644 " + q
	case gid >= 0 && st.gid == uint32(gid):
		return "chmod 0640 " + q
	}
	return fmt.Sprintf("chgrp %s %s && chmod 0640 %s", Group, q, q)
}

// dirFix is the command that lets the service search a directory: through
// its group when the directory is root's or already the service's, else
// (a group others rely on, such as ssl-cert) through its other bits, which
// let anyone reach a file inside but not list the directory.
func dirFix(dir string, st *info, gid int) string {
	q := shellQuote(dir)
	switch {
	case st.acl != nil:
		return fmt.Sprintf("setfacl -m g:%s:x %s", Group, q)
	case gid >= 0 && st.gid == uint32(gid):
		return "chmod g+x " + q
	case st.gid == 0:
		return fmt.Sprintf("chgrp %s %s && chmod g+x %s", Group, q, q)
	}
	return "chmod o+x " + q
}

// readFix is the command that lets the service read a directory it may
// already search, so that it can watch it: through its group when the
// directory is root's or already the service's, else (a group others rely
// on) through its other bits or, to keep it to that group, the group.
func readFix(dir string, st *info, gid int) string {
	q := shellQuote(dir)
	switch {
	case st.acl != nil:
		return fmt.Sprintf("setfacl -m g:%s:rx %s", Group, q)
	case gid >= 0 && st.gid == uint32(gid):
		return "chmod g+r " + q
	case st.gid == 0:
		return fmt.Sprintf("chgrp %s %s && chmod g+rx %s", Group, q, q)
	}
	return fmt.Sprintf("chmod o+r %s, which lets every user list it; or, to keep it to its group, give the service that group too (systemctl edit quantum-safe-proxy, and under [Service] add SupplementaryGroups=%s) and chmod g+rx %s", q, groupName(st.gid), q)
}

// orJoin offers, for a file or directory of a system group other than
// root's and the service's (ssl-cert, say) whose group bits would let the
// service in, to give the service that group rather than take the file
// from the others who rely on it.
func orJoin(st *info, want uint32, gid int) string {
	if st.acl != nil || st.gid == 0 || (gid >= 0 && st.gid == uint32(gid)) || st.gid >= firstUserGID || st.mode>>3&want == 0 {
		return ""
	}
	return fmt.Sprintf("; or, to keep its group, give the service that group too: systemctl edit quantum-safe-proxy, and under [Service] add SupplementaryGroups=%s", groupName(st.gid))
}

// firstUserGID is where Debian's and most distributions' user groups
// start (login.defs(5) GID_MIN); below it are system groups.
const firstUserGID = 1000

// shellQuote quotes a path for a shell if it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+,:@%=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// info is what decides access to one file.
type info struct {
	mode     uint32 // permission bits
	uid, gid uint32
	acl      []aclEntry // nil without an ACL beyond the mode bits
}

// String reads as ls shows it: "0640 root:quantum-safe-proxy-keys", with
// "with an ACL" when there is one.
func (st *info) String() string {
	s := fmt.Sprintf("%04o %s:%s", st.mode, userName(st.uid), groupName(st.gid))
	if st.acl != nil {
		s += " with an ACL"
	}
	return s
}

func stat(path string) (*info, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("%s: no owner information", path)
	}
	return &info{mode: uint32(fi.Mode().Perm()), uid: sys.Uid, gid: sys.Gid, acl: readACL(path)}, nil
}

func userName(uid uint32) string {
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		return u.Username
	}
	return strconv.Itoa(int(uid))
}

func groupName(gid uint32) string {
	if g, err := user.LookupGroupId(strconv.Itoa(int(gid))); err == nil {
		return g.Name
	}
	return strconv.Itoa(int(gid))
}
