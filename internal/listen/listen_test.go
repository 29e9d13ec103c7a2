package listen

import (
	"errors"
	"net"
	"os"
	"testing"
)

// With requireSystemd and no socket from systemd, Open fails with
// ErrNoSystemdSocket and binds nothing: the address stays free.
func TestRequireSystemdWithoutSockets(t *testing.T) {
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_PID")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, err := Open(addr, true)
	if !errors.Is(err, ErrNoSystemdSocket) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open(%q, true) without LISTEN_FDS: %v, want ErrNoSystemdSocket", addr, err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("%s is taken after the refused Open: %v", addr, err)
	}
	ln.Close()
	s, err = Open(addr, false)
	if err != nil || s.Activated || s.Serve[0].Addr().String() != addr {
		t.Fatalf("Open(%q, false): %v %+v", addr, err, s)
	}
	s.Close()
}
