package forward

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a net.Conn that records writes in the order they reach
// it; the first write waits for release before it counts, as a write
// not yet handed to the kernel.
type recorder struct {
	net.Conn
	first   atomic.Bool
	mu      sync.Mutex
	writes  []string
	started chan struct{}
	release chan struct{}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.first.CompareAndSwap(false, true) {
		close(r.started)
		<-r.release
	}
	r.mu.Lock()
	r.writes = append(r.writes, string(p))
	r.mu.Unlock()
	return len(p), nil
}

// A record crypto/tls writes from the reading goroutine (a KeyUpdate
// answer, RFC 8446, Section 4.6.3) while gathered records are on their
// way carries a later sequence number: it must leave after them, whether
// it comes while writes are gathered or while uncork sends them.
func TestGatheredWritesLeaveBeforeLaterRecords(t *testing.T) {
	r := &recorder{started: make(chan struct{}), release: make(chan struct{})}
	c := &Conn{Conn: r}
	c.cork(bufSize)
	c.Write([]byte("record 1;"))
	c.Write([]byte("record 2;")) // gathered with record 1
	uncorked := make(chan error, 1)
	go func() { uncorked <- c.uncork() }()
	<-r.started // uncork is sending records 1 and 2, and blocked
	later := make(chan struct{})
	go func() {
		c.Write([]byte("key update;"))
		close(later)
	}()
	// The later record must wait for uncork; give it the chance to
	// overtake, which a correct Conn never lets it take.
	time.Sleep(20 * time.Millisecond)
	close(r.release)
	if err := <-uncorked; err != nil {
		t.Fatal(err)
	}
	<-later
	if got := strings.Join(r.writes, "|"); got != "record 1;record 2;|key update;" {
		t.Fatalf("writes reached the socket as %q, want the gathered records in one write, then the later record", got)
	}
	if n := buffersOut.Load(); n != 0 {
		t.Errorf("%d pooled buffers still taken after uncork", n)
	}
}
