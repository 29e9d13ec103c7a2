package forward

import (
	"testing"
	"time"
)

// A read that fills a small buffer makes the next read take a big one;
// a read under the small size goes back to small buffers.
func TestReadsGrowToBigBuffersWhileTheSocketStaysFull(t *testing.T) {
	a, b := tcpPair(t)
	c, err := NewConn(b)
	if err != nil {
		t.Fatal(err)
	}
	go a.Write(make([]byte, bufSize+bigBufSize/2))
	time.Sleep(50 * time.Millisecond) // the first read finds a full socket
	var sizes []int
	for total := 0; total < bufSize+bigBufSize/2; {
		buf, n, err := c.readPooled()
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(*buf))
		total += n
		putBuf(buf)
	}
	if sizes[0] != bufSize || len(sizes) < 2 || sizes[1] != bigBufSize {
		t.Fatalf("buffer sizes %v: want %d, then %d after a full read", sizes, bufSize, bigBufSize)
	}
	a.Write([]byte("x"))
	buf, _, _ := c.readPooled()
	putBuf(buf)
	a.Write([]byte("x"))
	if buf, _, _ = c.readPooled(); len(*buf) != bufSize {
		t.Errorf("after a short read the next buffer holds %d bytes, want %d", len(*buf), bufSize)
	}
	putBuf(buf)
}

// Past the budget of big buffers a full read goes on in small ones, and
// returning big buffers makes room again.
func TestBigBuffersStayWithinTheirBudget(t *testing.T) {
	var held []*[]byte
	for range bigBudget {
		held = append(held, getBuf(true))
	}
	if got := bigOut.Load(); got != bigBudget {
		t.Fatalf("%d big buffers out, want %d", got, bigBudget)
	}
	over := getBuf(true)
	if len(*over) != bufSize {
		t.Errorf("past the budget a big read got %d bytes, want %d", len(*over), bufSize)
	}
	putBuf(over)
	putBuf(held[0])
	held = held[1:]
	if again := getBuf(true); len(*again) != bigBufSize {
		t.Errorf("after one came back a big read got %d bytes, want %d", len(*again), bigBufSize)
	} else {
		held = append(held, again)
	}
	for _, b := range held {
		putBuf(b)
	}
	if got := bigOut.Load(); got != 0 {
		t.Errorf("%d big buffers out after all came back, want 0", got)
	}
}
