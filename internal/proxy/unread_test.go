package proxy

import (
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward"
)

// A plain HTTP request longer than crypto/tls's first read (576 bytes)
// is refused with part of it still read ahead, in the pooled buffer the
// first flight was read into: the refusal gives that buffer back rather
// than leave it to the collector (and the pool to allocate 64 KiB anew
// for the next client).
func TestRefusedHandshakeGivesBackTheFirstFlight(t *testing.T) {
	h := start(t, baseConfig(), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	req := "GET / HTTP/1.1\r\nHost: example.com\r\nCookie: " + strings.Repeat("a", 1000) + "\r\n\r\n"
	if _, err := peer.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}

	// As Proxy.serve does, on this goroutine.
	c := h.proxy.admit(raw)
	c.firstRead, err = forward.AwaitFirst(raw)
	h.proxy.shake(c, h.proxy.snap.Load(), "test", err)

	if rec := h.log.wait(t, "handshake refused"); rec["reason"] != "not_tls" {
		t.Fatalf("refused %v, want reason not_tls", rec)
	}
	// forward.Conn.ahead holds the bytes read ahead until they are taken
	// or given back.
	if !reflect.ValueOf(c.Conn).Elem().FieldByName("ahead").IsNil() {
		t.Error("the refused connection still holds its first flight's pooled buffer")
	}
}
