package forward

import (
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
	"testing"
)

// stutter hands out at most three bytes per Read and returns
// errWouldBlock every other call, once on is set.
type stutter struct {
	net.Conn
	on   atomic.Bool
	turn bool
}

func (s *stutter) Read(p []byte) (int, error) {
	if !s.on.Load() {
		return s.Conn.Read(p)
	}
	if s.turn = !s.turn; s.turn {
		return 0, errWouldBlock
	}
	return s.Conn.Read(p[:min(len(p), 3)])
}

// TestTLSSurvivesTemporaryReadError pins the crypto/tls behaviour that
// [Conn.serveFromReadAhead] rests on: a temporary net.Error from the
// underlying Read, even in the middle of a record, is returned to the
// caller without poisoning the tls.Conn, and the partial record stays
// buffered, so that a later Read returns the right bytes
// (tls.Conn.readRecordOrCCS: "if e, ok := err.(net.Error); !ok ||
// !e.Temporary() { c.in.setErrorLocked(err) }").
func TestTLSSurvivesTemporaryReadError(t *testing.T) {
	cert, pool := serverCert(t)
	ln := listen(t)
	const msg = "hello through a stuttering socket"
	// The client writes only once stuttering is on, so that no byte of
	// the record arrives with the handshake's last flight.
	stuttering := make(chan struct{})
	go func() {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "forward.test"})
		if err != nil {
			return
		}
		defer c.Close()
		<-stuttering
		c.Write([]byte(msg))
		c.Read(make([]byte, 1)) // until the server closes
	}()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	st := &stutter{Conn: raw}
	tc := tls.Server(st, &tls.Config{Certificates: []tls.Certificate{cert}})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	st.on.Store(true)
	close(stuttering)
	var got []byte
	buf := make([]byte, 64)
	temporary := 0
	for len(got) < len(msg) {
		n, err := tc.Read(buf)
		got = append(got, buf[:n]...)
		switch {
		case errors.Is(err, errWouldBlock):
			if temporary++; temporary > 10*len(msg) {
				t.Fatalf("crypto/tls no longer keeps a tls.Conn usable after a temporary net.Error from the underlying Read: Read keeps returning %v; package forward's read-ahead (Conn.serveFromReadAhead) relies on it and must be redesigned", err)
			}
		case err != nil:
			t.Fatalf("crypto/tls turned a temporary net.Error from the underlying Read into %v; package forward's read-ahead (Conn.serveFromReadAhead) relies on the tls.Conn staying usable and must be redesigned", err)
		}
	}
	if string(got) != msg {
		t.Fatalf("crypto/tls returned %q after temporary net.Errors mid-record, want %q; package forward's read-ahead (Conn.serveFromReadAhead) relies on partial records staying buffered", got, msg)
	}
	if temporary == 0 {
		t.Fatal("the test never returned a temporary error to crypto/tls")
	}
}
