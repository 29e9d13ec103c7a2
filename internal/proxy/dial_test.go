package proxy

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"
)

// A connection to a backend on this host carries no TCP keepalive (its
// kernel would close or reset it anyway, and keepalive costs four
// setsockopt(2) per connection); the decision follows the target's host.
func TestLoopbackBackendHasNoKeepalive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c, err := dial(context.Background(), &Snapshot{Target: ln.Addr().String(), DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var on int
	var serr error
	raw.Control(func(fd uintptr) { on, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) })
	if serr != nil || on != 0 {
		t.Errorf("SO_KEEPALIVE on the backend connection = %d (%v), want 0", on, serr)
	}
	for target, want := range map[string]bool{
		"127.0.0.1:6000": true, "127.3.2.1:80": true, "[::1]:6000": true, "LocalHost:6000": true,
		"192.0.2.7:6000": false, "[2001:db8::1]:443": false, "backend.example:6000": false, "no-port": false,
	} {
		if got := loopback(target); got != want {
			t.Errorf("loopback(%q) = %v, want %v", target, got, want)
		}
	}
}
