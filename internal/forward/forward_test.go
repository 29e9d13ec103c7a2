package forward

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// isReset reports whether err is the peer's TCP reset: what a cut
// connection must look like, never io.EOF.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func TestHalfCloseClientFirst(t *testing.T) {
	f := forward(t, Options{CloseTimeout: 5 * time.Second})
	f.client.Write([]byte("ping"))
	f.client.CloseWrite() // close_notify
	got, err := io.ReadAll(f.backend)
	if err != nil || string(got) != "ping" {
		t.Fatalf("backend read %q, %v; want ping then EOF", got, err)
	}
	f.backend.Write([]byte("pong"))
	f.backend.Close()
	got, err = io.ReadAll(f.client)
	if err != nil || string(got) != "pong" {
		t.Fatalf("client read %q, %v; want pong then a clean end", got, err)
	}
	r := f.wait(t)
	if r.Reason != ReasonClientClosed || r.Aborted || r.BytesIn != 4 || r.BytesOut != 4 {
		t.Errorf("result %+v", r)
	}
}

func TestHalfCloseBackendFirst(t *testing.T) {
	f := forward(t, Options{CloseTimeout: 5 * time.Second})
	f.backend.Write([]byte("hello"))
	f.backend.CloseWrite()
	got, err := io.ReadAll(f.client)
	if err != nil || string(got) != "hello" {
		t.Fatalf("client read %q, %v; want hello then close_notify", got, err)
	}
	f.client.Write([]byte("still here"))
	f.client.CloseWrite()
	got, err = io.ReadAll(f.backend)
	if err != nil || string(got) != "still here" {
		t.Fatalf("backend read %q, %v", got, err)
	}
	r := f.wait(t)
	if r.Reason != ReasonBackendClosed || r.Aborted {
		t.Errorf("result %+v", r)
	}
}

// trickle writes n chunks of size bytes, one every gap, then closes.
func trickle(c net.Conn, n, size int, gap time.Duration) []byte {
	var sent []byte
	for i := range n {
		chunk := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		if _, err := c.Write(chunk); err != nil {
			break
		}
		sent = append(sent, chunk...)
		time.Sleep(gap)
	}
	c.Close()
	return sent
}

// After the client's FIN, the backend may go on for longer than the close
// timeout as long as bytes keep moving.
func TestCloseTimeoutCountsFromLastProgress(t *testing.T) {
	f := forward(t, Options{CloseTimeout: 400 * time.Millisecond})
	f.client.CloseWrite()
	io.ReadAll(f.backend) // the FIN arrives
	sentc := make(chan []byte, 1)
	go func() { sentc <- trickle(f.backend, 16, 1024, 50*time.Millisecond) }()
	got, err := io.ReadAll(f.client)
	if sent := <-sentc; err != nil || !bytes.Equal(got, sent) {
		t.Fatalf("client read %d of %d bytes, %v; want all then a clean end", len(got), len(sent), err)
	}
	if r := f.wait(t); r.Reason != ReasonClientClosed || r.Aborted {
		t.Errorf("result %+v", r)
	}
}

// A write to a slow reader that moves some bytes is progress: with tiny
// socket buffers one 64 KiB write takes about twice the close timeout
// (64 reads of 1 KiB, 8 ms apart), and the connection must not be cut.
func TestCloseTimeoutCountsPartialWrites(t *testing.T) {
	f := forward(t, Options{CloseTimeout: 250 * time.Millisecond}, true)
	f.client.CloseWrite()
	io.ReadAll(f.backend)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB
	go func() {
		f.backend.Write(payload)
		f.backend.Close()
	}()
	var got []byte
	buf := make([]byte, 1<<10)
	for {
		n, err := f.client.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("client read %d of %d bytes, then %v", len(got), len(payload), err)
		}
		time.Sleep(8 * time.Millisecond)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("client read %d bytes, want %d", len(got), len(payload))
	}
	if r := f.wait(t); r.Reason != ReasonClientClosed || r.Aborted {
		t.Errorf("result %+v", r)
	}
}

// A backend that stalls after the client's FIN is cut at the close
// timeout, and the client reads a reset, not a clean end: it must not
// take what it got for the whole answer.
func TestCloseTimeoutResetsStalledBackend(t *testing.T) {
	f := forward(t, Options{CloseTimeout: 150 * time.Millisecond})
	f.client.CloseWrite()
	io.ReadAll(f.backend)
	f.backend.Write([]byte("partial"))
	got, err := io.ReadAll(f.client)
	if string(got) != "partial" || !isReset(err) {
		t.Fatalf("client read %q, %v; want partial, then a connection reset", got, err)
	}
	if r := f.wait(t); r.Reason != ReasonCloseTimeout || !r.Aborted {
		t.Errorf("result %+v", r)
	}
}

// A client that stops reading after its FIN is cut at the close timeout
// too, and the backend's writes fail with a reset.
func TestCloseTimeoutResetsBackendWhenClientStopsReading(t *testing.T) {
	f := forward(t, Options{CloseTimeout: 150 * time.Millisecond})
	f.client.CloseWrite()
	io.ReadAll(f.backend)
	chunk := make([]byte, 64<<10)
	var err error
	for err == nil {
		_, err = f.backend.Write(chunk)
	}
	if !isReset(err) {
		t.Fatalf("backend write: %v, want a connection reset", err)
	}
	if r := f.wait(t); r.Reason != ReasonCloseTimeout || !r.Aborted {
		t.Errorf("result %+v", r)
	}
}

// The idle timeout counts from the last byte either way: one direction
// moving keeps the other, silent, direction open.
func TestIdleTimeoutCountsBothWays(t *testing.T) {
	f := forward(t, Options{IdleTimeout: 400 * time.Millisecond})
	sentc := make(chan []byte, 1)
	go func() { sentc <- trickle(f.backend, 16, 10, 50*time.Millisecond) }()
	got, err := io.ReadAll(f.client)
	if sent := <-sentc; err != nil || !bytes.Equal(got, sent) {
		t.Fatalf("client read %q, %v; want %q then a clean end", got, err, sent)
	}
	f.client.Close()
	if r := f.wait(t); r.Reason != ReasonBackendClosed || r.Aborted || r.BytesOut != 160 {
		t.Errorf("result %+v", r)
	}
}

// An idle connection is reset both ways: neither peer reads an EOF it
// could take for a finished exchange.
func TestIdleTimeoutResetsBothSides(t *testing.T) {
	f := forward(t, Options{IdleTimeout: 300 * time.Millisecond})
	f.client.Write([]byte("x"))
	io.ReadFull(f.backend, make([]byte, 1))
	// The forwarder gives its buffer back just after the write the
	// backend has read; well within the idle timeout, it holds none.
	for i := 0; buffersOut.Load() != 0; i++ {
		if i == 100 {
			t.Fatalf("an idle connection holds %d pooled buffers, want 0", buffersOut.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := f.backend.Read(make([]byte, 1)); !isReset(err) {
		t.Errorf("backend read after the idle timeout: %v, want a connection reset", err)
	}
	if _, err := f.client.Read(make([]byte, 1)); !isReset(err) {
		t.Errorf("client read after the idle timeout: %v, want a connection reset", err)
	}
	if r := f.wait(t); r.Reason != ReasonIdle || !r.Aborted {
		t.Errorf("result %+v", r)
	}
}

// A backend that fails resets the client too.
func TestBackendResetResetsClient(t *testing.T) {
	f := forward(t, Options{})
	f.backend.Write([]byte("some"))
	io.ReadFull(f.client, make([]byte, 4))
	f.backend.SetLinger(0)
	f.backend.Close()
	if _, err := f.client.Read(make([]byte, 1)); !isReset(err) {
		t.Errorf("client read after the backend's reset: %v, want a connection reset", err)
	}
	if r := f.wait(t); r.Reason != ReasonBackendError || !r.Aborted {
		t.Errorf("result %+v", r)
	}
}
