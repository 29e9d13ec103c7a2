package forward

import (
	"syscall"
	"unsafe"
)

// unsent is how many bytes the kernel still holds for the peer: on TCP
// those sent but not yet acknowledged, on a unix socket those the peer has
// not read yet (SIOCOUTQ, which is TIOCOUTQ; tcp(7), unix(7)). It is -1
// when the socket cannot tell, or there is none.
func (c *Conn) unsent() int {
	n := -1
	if c.rc == nil {
		return n
	}
	c.rc.Control(func(fd uintptr) {
		var v int32
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&v))); e == 0 {
			n = int(v)
		}
	})
	return n
}
