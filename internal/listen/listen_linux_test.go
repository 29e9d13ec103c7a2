//go:build amd64 || arm64

package listen

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"unsafe"
)

// noIPv6Env runs this test binary with socket(AF_INET6, ...) failing with
// EAFNOSUPPORT, as on a kernel booted with ipv6.disable=1: "install" puts
// the seccomp filter in place and executes the binary again, "on" says it
// is in place.
const noIPv6Env = "QSP_TEST_NO_IPV6"

// exitNoSeccomp is the exit status of a binary that could not install the
// filter.
const exitNoSeccomp = 125

func TestMain(m *testing.M) {
	if os.Getenv(noIPv6Env) == "install" {
		// A filter binds the thread that installs it and every process it
		// executes (seccomp(2)), so install it, then start afresh.
		runtime.LockOSThread()
		self, err := os.Executable()
		if err == nil {
			err = refuseIPv6Sockets()
		}
		if err == nil {
			os.Setenv(noIPv6Env, "on")
			err = syscall.Exec(self, os.Args, os.Environ())
		}
		fmt.Fprintln(os.Stderr, "seccomp:", err)
		os.Exit(exitNoSeccomp)
	}
	os.Exit(m.Run())
}

// The default listen address, [::]:PORT, and the Rust project's
// 0.0.0.0:PORT are one dual-stack socket (IPV6_V6ONLY=0) that IPv4 and
// IPv6 clients both reach.
func TestWildcardIsDualStack(t *testing.T) {
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		missing(t, "IPv6 loopback (::1)", err.Error())
	} else {
		ln.Close()
	}
	for _, addr := range []string{"[::]:0", "0.0.0.0:0", ":0"} {
		ln := open(t, addr)
		family, v6only := socketFamily(t, ln)
		if family != syscall.AF_INET6 || v6only != 0 {
			t.Errorf("%s: family %d, IPV6_V6ONLY %d; want AF_INET6 (%d) with IPV6_V6ONLY 0", addr, family, v6only, syscall.AF_INET6)
		}
		for _, client := range []string{"127.0.0.1", "::1"} {
			if err := echo(ln, client); err != nil {
				t.Errorf("listen %s, client from %s: %v", addr, client, err)
			}
		}
	}
}

// Without IPv6 in the kernel, the default [::]:PORT still starts: it
// serves IPv4 on 0.0.0.0 rather than refusing to start.
func TestWildcardWithoutIPv6(t *testing.T) {
	if os.Getenv(noIPv6Env) != "on" {
		if _, ok := auditArch[runtime.GOARCH]; !ok {
			missing(t, "a seccomp filter for "+runtime.GOARCH, "the test knows the audit architecture of amd64 and arm64 only")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestWildcardWithoutIPv6$", "-test.v")
		cmd.Env = append(os.Environ(), noIPv6Env+"=install")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == exitNoSeccomp {
			missing(t, "seccomp", string(out))
		}
		if err != nil {
			t.Fatalf("without IPv6: %v\n%s", err, out)
		}
		t.Logf("without IPv6:\n%s", out)
		return
	}
	// The filter holds: the kernel has no IPv6 for this process.
	if fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM, 0); err != syscall.EAFNOSUPPORT {
		syscall.Close(fd)
		t.Fatalf("socket(AF_INET6): %v, want EAFNOSUPPORT", err)
	}
	ln := open(t, "[::]:0")
	if family, _ := socketFamily(t, ln); family != syscall.AF_INET {
		t.Errorf("family %d, want AF_INET (%d)", family, syscall.AF_INET)
	}
	if err := echo(ln, "127.0.0.1"); err != nil {
		t.Error(err)
	}
	t.Logf("[::]:0 without IPv6 listens on %s", ln.Addr())
}

// missing fails under CI and skips elsewhere, with the reason.
func missing(t *testing.T, what, why string) {
	t.Helper()
	if ci := os.Getenv("CI"); ci != "" && ci != "0" && ci != "false" { // as make test's report reads it
		t.Fatalf("%s is required under CI: %s", what, why)
	}
	t.Skipf("%s not available: %s", what, why)
}

// open binds addr through Open, as the proxy does without systemd.
func open(t *testing.T, addr string) net.Listener {
	t.Helper()
	s, err := Open(addr, false)
	if err != nil {
		t.Fatalf("Open(%q): %v", addr, err)
	}
	t.Cleanup(s.Close)
	return s.Serve[0].Listener
}

// socketFamily returns the socket's address family and, for AF_INET6,
// its IPV6_V6ONLY option.
func socketFamily(t *testing.T, ln net.Listener) (family, v6only int) {
	t.Helper()
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	rc.Control(func(fd uintptr) {
		var sa syscall.Sockaddr
		if sa, serr = syscall.Getsockname(int(fd)); serr != nil {
			return
		}
		switch sa.(type) {
		case *syscall.SockaddrInet4:
			family = syscall.AF_INET
		case *syscall.SockaddrInet6:
			family = syscall.AF_INET6
			v6only, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY)
		}
	})
	if serr != nil {
		t.Fatal(serr)
	}
	return family, v6only
}

// echo connects from host to ln's port, accepts, and checks that a byte
// crosses and that the accepted side sees the client's own address.
func echo(ln net.Listener, host string) error {
	port := ln.Addr().(*net.TCPAddr).Port
	c, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		return err
	}
	defer s.Close()
	if got := s.RemoteAddr().(*net.TCPAddr).IP.String(); got != host {
		return fmt.Errorf("the server sees the client as %s, want %s", got, host)
	}
	c.Write([]byte{42})
	b := make([]byte, 1)
	if _, err := io.ReadFull(s, b); err != nil || b[0] != 42 {
		return fmt.Errorf("read %v: %v", b, err)
	}
	return nil
}

// auditArch is AUDIT_ARCH_* of <linux/audit.h> for the architectures the
// project ships: a filter must check it, or a syscall number could mean
// another call.
var auditArch = map[string]uint32{"amd64": 0xc000003e, "arm64": 0xc00000b7}

// refuseIPv6Sockets installs a seccomp filter on this thread under which
// socket(AF_INET6, ...) fails with EAFNOSUPPORT, what a kernel without
// IPv6 answers (seccomp(2), SECCOMP_RET_ERRNO). Everything else is allowed.
func refuseIPv6Sockets() error {
	const (
		retAllow          = 0x7fff0000 // SECCOMP_RET_ALLOW
		retErrno          = 0x00050000 // SECCOMP_RET_ERRNO
		prSetNoNewPrivs   = 38         // PR_SET_NO_NEW_PRIVS, prctl(2)
		seccompModeFilter = 2          // SECCOMP_MODE_FILTER
		// Offsets in struct seccomp_data: nr, arch, then args[0] at 16
		// (its low 32 bits on a little-endian machine).
		offNr, offArch, offArg0 = 0, 4, 16
	)
	arch, ok := auditArch[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("no audit architecture for %s", runtime.GOARCH)
	}
	ld := func(off uint32) syscall.SockFilter {
		return syscall.SockFilter{Code: syscall.BPF_LD | syscall.BPF_W | syscall.BPF_ABS, K: off}
	}
	jeq := func(k uint32, jt, jf uint8) syscall.SockFilter {
		return syscall.SockFilter{Code: syscall.BPF_JMP | syscall.BPF_JEQ | syscall.BPF_K, K: k, Jt: jt, Jf: jf}
	}
	ret := func(k uint32) syscall.SockFilter {
		return syscall.SockFilter{Code: syscall.BPF_RET | syscall.BPF_K, K: k}
	}
	prog := []syscall.SockFilter{
		ld(offArch), jeq(arch, 1, 0), ret(retAllow),
		ld(offNr), jeq(syscall.SYS_SOCKET, 0, 3),
		ld(offArg0), jeq(syscall.AF_INET6, 0, 1),
		ret(retErrno | uint32(syscall.EAFNOSUPPORT)),
		ret(retAllow),
	}
	fprog := syscall.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0); e != 0 {
		return fmt.Errorf("PR_SET_NO_NEW_PRIVS: %w", e)
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_SECCOMP, seccompModeFilter, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return fmt.Errorf("PR_SET_SECCOMP: %w", e)
	}
	return nil
}
