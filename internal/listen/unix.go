package listen

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// UnixMode is the permission of a unix socket bound for --listen
// unix:/path: its owner and group may connect (connect(2) needs write
// permission on the socket file, unix(7)), like a loopback port kept to
// one group. For other owners or modes, let systemd make the socket
// (SocketUser=, SocketGroup=, SocketMode= in a .socket unit).
const UnixMode = 0o660

// maxUnixPath is the longest path a sockaddr_un holds: sun_path is 108
// bytes on Linux, with a terminating NUL (unix(7)).
const maxUnixPath = 107

// staleProbe bounds the connect that tells a stale socket file from one a
// process still listens on; a local connect answers at once either way.
const staleProbe = time.Second

// listenUnix binds a unix stream socket at path, mode [UnixMode].
//
// A socket file already at path is replaced only when it is stale, that
// is when nothing accepts on it (connect fails with ECONNREFUSED, as after
// a crash or SIGKILL left it behind); one in use, or any file that is not
// a socket, is an error and stays as it is.
//
// The socket is bound under a temporary name in the same directory, given
// its mode, and then linked to path, so that it never appears at path with
// the permissions of the process's umask; link(2) fails rather than
// replace a socket another process bound at path meanwhile. Close removes
// path if it is still this socket.
func listenUnix(path string) (net.Listener, error) {
	if len(path) > maxUnixPath {
		return nil, fmt.Errorf("unix:%s: the path is %d bytes, longer than a unix socket address holds (%d); choose a shorter one", path, len(path), maxUnixPath)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".qsp-%d.sock", os.Getpid()))
	if len(tmp) > maxUnixPath {
		tmp = path // no room for a temporary name: bind in place, then chmod
	} else if fi, err := os.Lstat(tmp); err == nil && fi.Mode().Type() == fs.ModeSocket {
		os.Remove(tmp) // this process's own name, left by an earlier failed attempt
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("unix:%s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false) // Close removes path, and only if it is still ours
	if err := os.Chmod(tmp, UnixMode); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("unix:%s: %w", path, err)
	}
	if tmp != path {
		err := os.Link(tmp, path)
		os.Remove(tmp)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("unix:%s: %w", path, err)
		}
	}
	fi, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("unix:%s: %w", path, err)
	}
	return &unixListener{UnixListener: ln, path: path, file: fi}, nil
}

// removeStale removes a socket file at path that nothing listens on, and
// refuses anything else there.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("unix:%s: %w", path, err)
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("unix:%s: the path exists and is not a socket (%s); remove it or choose another listen path", path, fi.Mode().Type())
	}
	c, err := net.DialTimeout("unix", path, staleProbe)
	if err == nil {
		c.Close()
		return fmt.Errorf("unix:%s: another process listens on this socket; stop it or choose another listen path", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("unix:%s: a socket is there and connecting to it to see whether it is in use failed (%v); remove it if it is stale", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unix:%s: removing the stale socket: %w", path, err)
	}
	return nil
}

// unixListener removes its socket file when closed, unless another
// socket has taken its path since (a new process that started before
// this one stopped).
type unixListener struct {
	*net.UnixListener
	path string
	file fs.FileInfo // the socket file, as bound
	once sync.Once
}

// Addr is the socket's path (the kernel's own address for it is the
// temporary name it was bound under).
func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

func (l *unixListener) Close() error {
	l.once.Do(func() {
		if fi, err := os.Lstat(l.path); err == nil && os.SameFile(fi, l.file) {
			os.Remove(l.path)
		}
	})
	return l.UnixListener.Close()
}
