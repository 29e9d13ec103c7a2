package proxy

import (
	"fmt"
	"net"
	"syscall"
)

// peerName names a local client for logs: its address, or on a unix
// socket, where it has none, the process and user that connected
// (SO_PEERCRED, unix(7)), as the kernel recorded them at connect.
func peerName(c net.Conn) string {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return c.RemoteAddr().String()
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return "unix"
	}
	var cred *syscall.Ucred
	var cerr error
	rc.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if cerr != nil {
		return "unix"
	}
	return fmt.Sprintf("unix pid=%d uid=%d", cred.Pid, cred.Uid)
}
