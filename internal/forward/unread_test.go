package forward

import (
	"crypto/tls"
	"strings"
	"testing"
)

// A client that is refused before crypto/tls has read its whole first
// flight (plain HTTP longer than crypto/tls's first read, 576 bytes,
// refused at the first record header) leaves bytes read ahead that no
// one takes: DropUnread gives their pooled buffer back, as the proxy
// does after a failed handshake.
func TestRefusedFirstFlightGoesBack(t *testing.T) {
	c, peer := pair(t)
	req := "GET / HTTP/1.1\r\nHost: example.com\r\nCookie: " + strings.Repeat("a", 1000) + "\r\n\r\n"
	if _, err := peer.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	first, err := AwaitFirst(c)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := NewConnFirst(c, &first)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := serverCert(t)
	if err := tls.Server(fc, &tls.Config{Certificates: []tls.Certificate{cert}}).Handshake(); err == nil {
		t.Fatal("a plain HTTP request passed the handshake")
	}
	fc.DropUnread()
	if n := buffersOut.Load(); n != 0 {
		t.Errorf("%d pooled buffers still taken after the refused handshake", n)
	}
}
