package forward

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"
)

// lateWriter is a backend connection whose Write panics once it has
// taken some bytes: by then the client's reads take big buffers.
type lateWriter struct {
	*net.TCPConn
	n int
}

func (w *lateWriter) Write(p []byte) (int, error) {
	if w.n += len(p); w.n > 512<<10 {
		panic("backend write panics on purpose")
	}
	return w.TCPConn.Write(p)
}

// A direction that panics while it holds a big buffer gives it back to
// the budget: otherwise every such panic (a bug, but one the process
// lives through) would shrink the budget for good, and after bigBudget of
// them no transfer would get a big buffer again.
func TestPanicGivesBackBigBuffers(t *testing.T) {
	before := buffersOut.Load()
	t.Cleanup(func() { buffersOut.Store(before) })
	cert := panicTestCert(t)
	clientSide, serverSide := tcpPair(t)
	backendSide, backendPeer := tcpPair(t)
	defer backendPeer.Close()
	go io.Copy(io.Discard, backendPeer)
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	go func() {
		c := tls.Client(clientSide, &tls.Config{RootCAs: roots, ServerName: "localhost"})
		c.Write(make([]byte, 4<<20)) // until the proxy side ends the connection
		c.Close()
	}()
	client, err := NewConn(serverSide)
	if err != nil {
		t.Fatal(err)
	}
	backend, err := NewConn(&lateWriter{TCPConn: backendSide.(*net.TCPConn)})
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Server(client, &tls.Config{Certificates: []tls.Certificate{cert}})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the first read fills its buffer: the next are big
	done := make(chan Result, 1)
	go func() { done <- Run(tc, client, backend, Options{}, nil) }()
	select {
	case res := <-done:
		if res.Reason != ReasonPanic {
			t.Fatalf("reason %q, want %q", res.Reason, ReasonPanic)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end after its goroutine panicked")
	}
	if n := bigOut.Load(); n != 0 {
		t.Errorf("%d big buffers still counted out after the panicking connection ended, want 0", n)
	}
}
