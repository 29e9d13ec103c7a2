package forward

import (
	"crypto/tls"
	"io"
	"runtime"
	"testing"
	"time"
)

// The offsets of crypto/tls's read buffers must be found, or idle
// connections silently keep them (see tlsInput).
func TestTLSInputFieldsFound(t *testing.T) {
	if !tlsInput.ok {
		t.Fatalf("crypto/tls.Conn of %s: no rawInput/input/hand fields of the expected types, or a release other than %s*, whose crypto/tls was read for tlsbuf.go; reread it and update tlsbuf.go", runtime.Version(), checkedGo)
	}
}

// After a full-size record and an echo, an idle connection's tls.Conn
// holds no read buffer: crypto/tls would keep rawInput at ~17 KiB.
func TestIdleConnectionDropsTLSInput(t *testing.T) {
	// Seen from the reading goroutine as it parks, where reading the
	// fields races with nothing.
	type caps struct{ raw, hand int }
	parked := make(chan caps, 100)
	parkedHook = func(tc *tls.Conn) {
		raw, _, hand := tlsInputBuffers(tc)
		select {
		case parked <- caps{raw.Cap(), hand.Cap()}:
		default:
		}
	}
	defer func() { parkedHook = nil }()
	f := forward(t, Options{})
	go f.client.Write(make([]byte, maxRecord))
	if _, err := io.ReadFull(f.backend, make([]byte, maxRecord)); err != nil {
		t.Fatal(err)
	}
	f.backend.Write([]byte("ok"))
	if _, err := io.ReadFull(f.client, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	// The last park before the connection went quiet is the idle state.
	time.Sleep(100 * time.Millisecond)
	var last caps
	for len(parked) > 0 {
		last = <-parked
	}
	if last.raw != 0 || last.hand != 0 {
		t.Errorf("idle connection keeps crypto/tls buffers: rawInput %d bytes, hand %d", last.raw, last.hand)
	}
	f.client.Close()
	f.backend.Close()
	f.wait(t)
}
