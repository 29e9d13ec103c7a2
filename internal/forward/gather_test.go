package forward

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// A TLS 1.2 client with AES-GCM costs 29 bytes per record, and crypto/tls
// starts a connection with small records (dynamic record sizing), so the
// first full 64 KiB read from the backend leaves as more records than
// gatherCap counts for. The gathering buffer must not grow past its size
// class: a grown small buffer went back to the big pool, uncounted, and
// the next big read took a buffer shorter than 1 MiB and panicked.
func TestGatherNeverGrowsItsBuffer(t *testing.T) {
	cert, pool := serverCert(t)
	front := listen(t)
	back := listen(t)
	payload := make([]byte, 4*bigBufSize)
	rand.Read(payload)
	want := sha256.Sum256(payload)
	// The backend's answer waits in the proxy's socket before forwarding
	// starts, so the first read fills its 64 KiB buffer.
	go func() {
		bc, err := back.Accept()
		if err != nil {
			return
		}
		defer bc.Close()
		bc.Write(payload)
		bc.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, bc)
	}()
	result := make(chan Result, 1)
	go func() {
		raw, err := front.Accept()
		if err != nil {
			return
		}
		fc, _ := NewConn(raw)
		tc := tls.Server(fc, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err := tc.Handshake(); err != nil {
			raw.Close()
			return
		}
		b, err := net.Dial("tcp", back.Addr().String())
		if err != nil {
			raw.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
		bc, _ := NewConn(b)
		result <- Run(tc, fc, bc, Options{}, nil)
	}()
	c, err := tls.Dial("tcp", front.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "forward.test", MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := io.ReadAll(c)
	if err != nil {
		select {
		case res := <-result:
			t.Fatalf("client: %v; forwarding ended: %s %v panic %v\n%s", err, res.Reason, res.Err, res.Panic, res.Stack)
		case <-time.After(5 * time.Second):
			t.Fatal(err)
		}
	}
	if sha256.Sum256(got) != want {
		t.Fatalf("client got %d bytes, not the backend's %d", len(got), len(payload))
	}
	c.CloseWrite()
	select {
	case res := <-result:
		if res.Panic != nil {
			t.Fatalf("forwarding panicked: %v\n%s", res.Panic, res.Stack)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if n := bigOut.Load(); n != 0 {
		t.Errorf("%d big buffers counted out after the connection ended, want 0", n)
	}
	// Every buffer in the big pool must still be a big one.
	for range 8 {
		b := getBuf(true)
		if len(*b) != bigBufSize && len(*b) != bufSize {
			t.Errorf("a pooled buffer of %d bytes", len(*b))
		}
		defer putBuf(b)
	}
}
