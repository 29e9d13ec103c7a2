package listen

import (
	"net"
	"strings"
)

// Bind listens on addr, host:port or unix:/path, as [Open] does when
// systemd passed no socket: a unix socket gets mode [UnixMode], a stale
// socket file left at its path is replaced, and Close removes it. The
// admin endpoint's own address (admin_listen) is bound with it too.
func Bind(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return listenUnix(path)
	}
	return net.Listen("tcp", addr)
}
