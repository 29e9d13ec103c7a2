package access

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// maxLinks is the kernel's limit on symbolic links followed in one lookup
// (path_resolution(7): 40).
const maxLinks = 40

// resolve follows path one name at a time, as the kernel does
// (path_resolution(7)), and returns each directory searched on the way, in
// order and each once, and the file it leads to. On an error, dirs are
// those searched until then, the last the one the lookup failed in. Every directory a
// symbolic link leads through is searched too: /etc/letsencrypt/live/x/
// privkey.pem needs x on archive/ as well as on live/. holders are the
// directories that hold the file and each symbolic link on the way, in
// which a rotation replaces an entry: those the proxy watches.
func resolve(path string) (dirs []string, file string, holders []string, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", nil, err
	}
	todo := names(abs)
	cur, links, seen := "/", 0, map[string]bool{}
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if !seen[cur] {
			seen[cur] = true
			dirs = append(dirs, cur)
		}
		if name == ".." {
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return dirs, "", nil, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return nil, "", nil, &fs.PathError{Op: "open", Path: path, Err: syscall.ELOOP}
		}
		target, err := os.Readlink(next)
		if err != nil {
			return nil, "", nil, err
		}
		holders = appendNew(holders, cur)
		if filepath.IsAbs(target) {
			cur = "/"
		}
		todo = append(names(target), todo...)
	}
	return dirs, cur, appendNew(holders, filepath.Dir(cur)), nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// names splits a path into the names a lookup walks, "." dropped.
func names(p string) []string {
	var out []string
	for _, n := range strings.Split(p, "/") {
		if n != "" && n != "." {
			out = append(out, n)
		}
	}
	return out
}
