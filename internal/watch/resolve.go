package watch

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxHops bounds the symlinks followed for one path, as the kernel's
// ELOOP limit does (path_resolution(7): 40).
const maxHops = 40

// spot is a directory entry whose replacement changes what a configured
// path reads: the entry the path names, every symlink met on the way to
// it, or, where part of the path is missing, the first missing entry.
type spot struct {
	dir  string // a directory with no symlink in its path
	name string // an entry in dir
}

// spots resolves the absolute path one component at a time, as the
// kernel does, and returns each entry a rotation may replace:
//
//   - written in place or renamed into place: the file's own entry;
//   - certbot's live/NAME/cert.pem -> ../../archive/NAME/cert2.pem: the
//     link in live/NAME (certbot replaces it) and cert2.pem in archive/NAME;
//   - the kubelet's projected volume, tls.crt -> ..data/tls.crt with
//     ..data -> ..2026_11_23_22_00_00.123: tls.crt and ..data in the
//     volume (the kubelet renames a new ..data over the old one), and
//     tls.crt in the timestamped directory.
//
// Directories on the way that are not symlinks are not returned: a
// directory renamed or deleted under a watch reports that itself
// (IN_MOVE_SELF, IN_DELETE_SELF).
func spots(path string) []spot {
	var out []spot
	pending := path
	for hops := 0; hops <= maxHops; hops++ {
		// dir is always free of symlinks, so ".." may be taken lexically
		// on it, but not on pending, which may still hold symlinks.
		dir := "/"
		parts := slices.DeleteFunc(strings.Split(pending, "/"), func(s string) bool { return s == "" || s == "." })
		next := ""
		for i, name := range parts {
			if name == ".." {
				dir = filepath.Dir(dir)
				continue
			}
			p := filepath.Join(dir, name)
			fi, err := os.Lstat(p)
			if err != nil {
				// Missing (or unreadable): watch for it to appear.
				return append(out, spot{dir, name})
			}
			if fi.Mode()&os.ModeSymlink == 0 {
				if i == len(parts)-1 {
					return append(out, spot{dir, name})
				}
				dir = p
				continue
			}
			out = append(out, spot{dir, name})
			target, err := os.Readlink(p)
			if err != nil {
				return out
			}
			if !filepath.IsAbs(target) {
				target = dir + "/" + target
			}
			next = strings.Join(append([]string{target}, parts[i+1:]...), "/")
			break
		}
		if next == "" {
			// The path ended in a directory (or was "/"); nothing to add.
			return out
		}
		pending = next
	}
	return out
}
