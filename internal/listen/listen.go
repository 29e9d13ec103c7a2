// Package listen provides the listening sockets: the ones systemd passes
// (socket activation, LISTEN_FDS; sd_listen_fds(3)), or one bound to the
// configured address when systemd passes none.
package listen

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/coreos/go-systemd/v22/activation"
)

// AdminName is the FileDescriptorName reserved for the admin listener.
const AdminName = "admin"

// Listener is a listening socket and its name: systemd's
// FileDescriptorName, or the bound address.
type Listener struct {
	net.Listener
	Name string
}

// Set is what [Open] returns.
type Set struct {
	// Serve are the sockets to accept TLS on.
	Serve []Listener
	// Admin is the socket named "admin", reserved for the admin listener;
	// nil if systemd passed none.
	Admin *Listener
	// Activated is true when the sockets came from systemd.
	Activated bool
}

// ErrNoSystemdSocket is what [Open] returns when systemd passed no
// socket and one was required.
var ErrNoSystemdSocket = errors.New("systemd passed no socket (LISTEN_FDS is not set), and require_systemd_socket is set: " +
	"the service's socket unit holds no socket, as after its Listen settings changed while it ran; " +
	"restart it with `systemctl restart quantum-safe-proxy.socket` (quantum-safe-proxy@NAME.socket for an instance), " +
	"or drop --require-systemd-socket to bind the listen address instead")

// Open takes the sockets systemd passed, or binds addr when it passed
// none and requireSystemd is false ([ErrNoSystemdSocket] otherwise). A
// passed descriptor that is not a listening stream socket is an error
// that names it. addr is host:port, or unix:/path for a unix socket (see
// listenUnix: mode [UnixMode], a stale socket file replaced, removed on
// Close); systemd's sockets may be either.
//
// An unspecified host, [::] as 0.0.0.0 (or none), is every address of
// both families: Go's "tcp" listener then opens one AF_INET6 socket with
// IPV6_V6ONLY=0, which IPv4 clients reach as ::ffff:a.b.c.d, and on a
// kernel without IPv6 (ipv6.disable=1) an AF_INET socket on 0.0.0.0
// instead of failing (net/ipsock.go adds 0.0.0.0 to the addresses of ::,
// Go issue 18806; favoriteAddrFamily in net/ipsock_posix.go). Both are
// tested, the second with socket(AF_INET6) refused by seccomp.
func Open(addr string, requireSystemd bool) (*Set, error) {
	s, err := Passed()
	if s != nil || err != nil {
		return s, err
	}
	if requireSystemd {
		return nil, ErrNoSystemdSocket
	}
	ln, err := Bind(addr)
	if err != nil {
		return nil, err
	}
	name := ln.Addr().String()
	if strings.HasPrefix(addr, "unix:") {
		name = addr
	}
	return &Set{Serve: []Listener{{Listener: ln, Name: name}}}, nil
}

// Passed takes the sockets systemd passed, as [Open] does, and returns
// nil, nil when it passed none. Either way it unsets LISTEN_FDS and its
// companions, so the sockets are taken once: a later Passed or Open
// finds none.
func Passed() (*Set, error) {
	files := activation.Files(true)
	if len(files) == 0 {
		return nil, nil
	}
	s := &Set{Activated: true}
	var errs []error
	for i, f := range files {
		ln, err := fromFile(f)
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("socket %d passed by systemd (fd %d, name %q): %w; pass only ListenStream= sockets", i+1, 3+i, f.Name(), err))
			continue
		}
		l := Listener{Listener: ln, Name: f.Name()}
		if l.Name == AdminName {
			s.Admin = &l
			continue
		}
		s.Serve = append(s.Serve, l)
	}
	if len(errs) > 0 {
		s.Close()
		return nil, errors.Join(errs...)
	}
	if len(s.Serve) == 0 {
		s.Close()
		return nil, errors.New("systemd passed no socket to serve TLS on (only one named \"admin\")")
	}
	return s, nil
}

// fromFile checks that f is a listening stream socket (SO_ACCEPTCONN,
// socket(7)) and makes a net.Listener of it.
func fromFile(f *os.File) (net.Listener, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var typ, accepting int
	var serr error
	rc.Control(func(fd uintptr) {
		if typ, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TYPE); serr != nil {
			return
		}
		accepting, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	})
	switch {
	case serr != nil:
		return nil, fmt.Errorf("not a socket (%v)", serr)
	case typ != syscall.SOCK_STREAM:
		return nil, errors.New("not a stream socket")
	case accepting == 0:
		return nil, errors.New("not listening (Accept=yes sockets are not supported)")
	}
	return net.FileListener(f)
}

// Close closes every socket of the set.
func (s *Set) Close() {
	for _, l := range s.Serve {
		l.Close()
	}
	if s.Admin != nil {
		s.Admin.Close()
	}
}
