package forward

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"
	"time"
)

// A client still reading an answer the backend sent whole and closed is
// making progress, although the forwarder's writes all returned long
// ago (the bytes wait in the kernel's send buffer): the close timeout
// must not reset it. The client reads 1 MiB at about 1.6 MB/s, several
// close timeouts' worth, then a clean end.
func TestCloseTimeoutWaitsForSlowClientToDrain(t *testing.T) {
	f := forward(t, Options{CloseTimeout: 300 * time.Millisecond})
	f.client.Write([]byte("request"))
	io.ReadFull(f.backend, make([]byte, 7))
	payload := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	go func() {
		f.backend.Write(payload)
		f.backend.Close()
	}()
	h := sha256.New()
	buf := make([]byte, 16<<10)
	var n int64
	var err error
	for err == nil {
		var m int
		m, err = f.client.Read(buf)
		h.Write(buf[:m])
		n += int64(m)
		time.Sleep(10 * time.Millisecond)
	}
	if want := sha256.Sum256(payload); err != io.EOF || n != int64(len(payload)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("client read %d of %d bytes, then %v; want all of them, then a clean end", n, len(payload), err)
	}
	f.client.Close()
	if r := f.wait(t); r.Reason != ReasonBackendClosed || r.Aborted {
		t.Errorf("result %+v", r)
	}
}
