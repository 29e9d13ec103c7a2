package forward

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection: the accepted one
// first.
func pair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln := listen(t)
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, peer
}

// readAll reads c to its end as crypto/tls would, a little at a time.
func readAll(t *testing.T, c *Conn) (string, error) {
	t.Helper()
	var got []byte
	b := make([]byte, 3)
	for {
		n, err := c.Read(b)
		got = append(got, b[:n]...)
		if err != nil {
			return string(got), err
		}
	}
}

// The first flight AwaitFirst read comes out of Read first, in order with
// what follows, then the peer's end; the buffer goes back once drained.
func TestFirstBytesComeFirst(t *testing.T) {
	c, peer := pair(t)
	go func() {
		peer.Write([]byte("hello"))
		time.Sleep(50 * time.Millisecond)
		peer.Write([]byte(", world"))
		peer.(*net.TCPConn).CloseWrite()
	}()
	first, err := AwaitFirst(c)
	if err != nil {
		t.Fatal(err)
	}
	if first.n != len("hello") || buffersOut.Load() != 1 {
		t.Fatalf("AwaitFirst read %d bytes into %d buffers, want 5 into 1", first.n, buffersOut.Load())
	}
	fc, err := NewConnFirst(c, &first)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, fc)
	if got != "hello, world" || err != io.EOF {
		t.Errorf("read %q, %v; want \"hello, world\", EOF", got, err)
	}
	if n := buffersOut.Load(); n != 0 {
		t.Errorf("%d pooled buffers still taken", n)
	}
}

// A peer that closes without a byte: AwaitFirst returns at once, and the
// handshake reads the end.
func TestFirstEndIsKeptForRead(t *testing.T) {
	c, peer := pair(t)
	peer.Close()
	first, err := AwaitFirst(c)
	if err != nil {
		t.Fatal(err)
	}
	fc, _ := NewConnFirst(c, &first)
	if got, err := readAll(t, fc); got != "" || err != io.EOF {
		t.Errorf("read %q, %v; want \"\", EOF", got, err)
	}
	if n := buffersOut.Load(); n != 0 {
		t.Errorf("%d pooled buffers still taken", n)
	}
}

// A silent peer: AwaitFirst holds no buffer while it waits and returns
// the deadline's error when it passes.
func TestFirstWaitHoldsNothing(t *testing.T) {
	c, _ := pair(t)
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	done := make(chan error, 1)
	go func() {
		_, err := AwaitFirst(c)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if n := buffersOut.Load(); n != 0 {
		t.Errorf("%d pooled buffers taken while waiting", n)
	}
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("AwaitFirst: %v, want the deadline", err)
	}
	if n := buffersOut.Load(); n != 0 {
		t.Errorf("%d pooled buffers taken after the deadline", n)
	}
}
