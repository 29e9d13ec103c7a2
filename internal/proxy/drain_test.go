package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// At the drain timeout every socket of every connection is reset, whatever
// is blocked on it: here a handshake that never comes (the client sent
// nothing) and an upload to a backend that never reads (the proxy is
// blocked writing to it). Shutdown returns at once with the count.
func TestDrainTimeoutCutsEveryConnection(t *testing.T) {
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	h := start(t, baseConfig(), func(c net.Conn) { <-never; c.Close() })

	silent, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	c, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go uploadForever(c)
	time.Sleep(300 * time.Millisecond) // until every buffer on the way is full

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = h.proxy.Shutdown(ctx)
	var dte *DrainTimeoutError
	if !errors.Is(err, ErrDrainTimeout) || !errors.As(err, &dte) || dte.Cut != 2 {
		t.Fatalf("Shutdown: %v, want a drain timeout that cut 2 connections", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v, want about the 100ms drain timeout", d)
	}
	if got := h.log.wait(t, "drain timeout: cut open connections"); got["connections"] != "2" {
		t.Errorf("drain line %v, want connections=2", got)
	}
	if got := h.log.wait(t, "connection closed"); got["close_reason"] != ReasonDrainTimeout {
		t.Errorf("closing line %v, want close_reason=%s", got, ReasonDrainTimeout)
	}
	if got := h.log.wait(t, "handshake refused"); got["reason"] != ReasonDrainTimeout {
		t.Errorf("handshake line %v, want reason=%s", got, ReasonDrainTimeout)
	}
	if _, err := silent.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client in handshake read %v, want a connection reset", err)
	}
}

func uploadForever(c *tls.Conn) {
	chunk := make([]byte, 64<<10)
	for {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}
