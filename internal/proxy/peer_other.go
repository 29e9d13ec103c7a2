//go:build !linux

package proxy

import "net"

// peerName names a local client for logs: its address, or "unix".
func peerName(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" {
		return a.String()
	}
	return "unix"
}
