package forward

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// gatedConn is the proxy's socket toward the client, whose writes wait
// while the gate is shut, as a write to a client that stopped reading
// waits for room in the socket; blocked gets one value per write that
// waits.
type gatedConn struct {
	*net.TCPConn
	shut    chan struct{} // open: closed
	blocked chan struct{}
}

func (g *gatedConn) Write(p []byte) (int, error) {
	select {
	case <-g.shut:
	default:
		g.blocked <- struct{}{}
		<-g.shut
	}
	return g.TCPConn.Write(p)
}

// The backend ends first and its close_notify toward the client waits
// (the client's window is full), when the client's own end arrives: the
// backend must get its FIN at once, as it would without the wait, not
// only when that write finishes or the close timeout resets it.
func TestBackendGetsFINWhileCloseNotifyWaits(t *testing.T) {
	cert, pool := serverCert(t)
	front, back := listen(t), listen(t)
	gate := &gatedConn{shut: make(chan struct{}), blocked: make(chan struct{}, 8)}
	close(gate.shut) // open for the handshake
	result := make(chan Result, 1)
	go func() {
		raw, err := front.Accept()
		if err != nil {
			return
		}
		gate.TCPConn = raw.(*net.TCPConn)
		tc, fc, bc, ok := shake(gate, &tls.Config{Certificates: []tls.Certificate{cert}}, back.Addr().String())
		if !ok {
			return
		}
		gate.shut = make(chan struct{}) // from now on writes to the client wait
		result <- Run(tc, fc, bc, Options{CloseTimeout: 10 * time.Second}, nil)
	}()
	client, err := tls.Dial("tcp", front.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "forward.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	nb, err := back.Accept()
	if err != nil {
		t.Fatal(err)
	}
	backend := nb.(*net.TCPConn)
	defer backend.Close()

	backend.CloseWrite() // the backend is done: the proxy's close_notify waits at the gate
	select {
	case <-gate.blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the close_notify never reached the client's socket")
	}
	client.CloseWrite() // the client is done too: its close_notify arrives
	backend.SetReadDeadline(time.Now().Add(time.Second))
	got, err := io.ReadAll(backend)
	close(gate.shut)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the backend got no FIN in 1 s after the client's end, while the close_notify to the client waited")
	} else if err != nil || len(got) != 0 {
		t.Errorf("backend read %q, %v; want a clean end", got, err)
	}
	select {
	case r := <-result:
		if r.Aborted {
			t.Errorf("result %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}
