package integration

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"testing"
	"time"
)

// backend listens on loopback and runs serve on the first connection it
// accepts.
func backend(t *testing.T, serve func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c.(*net.TCPConn))
	}()
	return ln.Addr().String()
}

// isReset reports the peer's TCP reset: what a cut connection looks like.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// closeReason waits for the connection's closing line.
func closeReason(t *testing.T, p *proxyProc) string {
	t.Helper()
	r, _ := p.wait(t, "connection closed")["close_reason"].(string)
	return r
}

// After the client's FIN, a backend that answers slowly (600 KB over 3 s)
// is not cut by a 1 s close timeout: it keeps moving bytes. Every byte
// arrives, then a clean end (close_notify, io.EOF).
func TestSlowAnswerAfterClientFINOutlivesCloseTimeout(t *testing.T) {
	answer := make([]byte, 600_000)
	rand.NewChaCha8([32]byte{7}).Read(answer)
	addr := backend(t, func(c *net.TCPConn) {
		io.Copy(io.Discard, c) // until the client's FIN
		for chunk := range 30 {
			c.Write(answer[chunk*20_000 : (chunk+1)*20_000])
			time.Sleep(100 * time.Millisecond)
		}
	})
	p := startProxy(t, servingBothChains(addr, "--close-timeout", "1s")...)
	c, err := tls.Dial("tcp", p.addr, goClient(t, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET the slow answer")
	c.CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || sha256.Sum256(got) != sha256.Sum256(answer) {
		t.Fatalf("client read %d of %d bytes (SHA-256 equal: %v), then %v; want all, then a clean end",
			len(got), len(answer), sha256.Sum256(got) == sha256.Sum256(answer), err)
	}
	if r := closeReason(t, p); r != "client_closed" {
		t.Errorf("close_reason %q, want client_closed", r)
	}
}

// A backend that stalls after the client's FIN (some bytes, then nothing,
// never a close) is cut at the close timeout, and the client's read ends
// in a reset: it must not take the bytes it got for the whole answer.
func TestStalledBackendAfterClientFINResetsClient(t *testing.T) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	addr := backend(t, func(c *net.TCPConn) {
		io.Copy(io.Discard, c)
		io.WriteString(c, "the first part of the answer")
		<-stop
	})
	p := startProxy(t, servingBothChains(addr, "--close-timeout", "1s")...)
	c, err := tls.Dial("tcp", p.addr, goClient(t, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "request")
	c.CloseWrite()
	start := time.Now()
	got, err := io.ReadAll(c)
	if string(got) != "the first part of the answer" || err == nil || !isReset(err) {
		t.Fatalf("client read %q, then %v; want the first part, then a connection reset (never io.EOF)", got, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cut after %v, want about the 1s close timeout", d)
	}
	if r := closeReason(t, p); r != "close_timeout" {
		t.Errorf("close_reason %q, want close_timeout", r)
	}
}

// A client that half-closes and then stops reading is cut at the close
// timeout too, and the backend, still writing, sees a reset.
func TestClientThatStopsReadingResetsBackend(t *testing.T) {
	werr := make(chan error, 1)
	addr := backend(t, func(c *net.TCPConn) {
		io.Copy(io.Discard, c)
		chunk := make([]byte, 64<<10)
		var err error
		for err == nil {
			_, err = c.Write(chunk)
		}
		werr <- err
	})
	p := startProxy(t, servingBothChains(addr, "--close-timeout", "1s")...)
	c, err := tls.Dial("tcp", p.addr, goClient(t, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "request")
	c.CloseWrite()
	select {
	case err := <-werr:
		if !isReset(err) {
			t.Errorf("backend write: %v, want a connection reset", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the backend's writes were never cut")
	}
	if r := closeReason(t, p); r != "close_timeout" {
		t.Errorf("close_reason %q, want close_timeout", r)
	}
}
