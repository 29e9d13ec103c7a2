package forward

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// errWouldBlock is what a [Conn] in non-blocking mode returns from Read
// when no bytes are waiting. It is a temporary net.Error, so crypto/tls
// keeps the connection usable (tls.Conn.readRecordOrCCS).
var errWouldBlock = &wouldBlock{}

type wouldBlock struct{}

func (*wouldBlock) Error() string   { return "no data waiting" }
func (*wouldBlock) Timeout() bool   { return true }
func (*wouldBlock) Temporary() bool { return true }

// Conn wraps a TCP or unix stream connection so that the forwarder never
// holds a copy buffer while a peer is silent: it waits for readability
// without a buffer ([Conn.waitReadable]), then reads in non-blocking mode
// until the socket is drained. While corked, writes are gathered and leave
// in one system call, so a TLS write of several records costs one write(2).
type Conn struct {
	net.Conn
	rc       syscall.RawConn
	nonblock bool // set once, by the reading goroutine, after the handshake
	peek     [1]byte

	// The callbacks given to RawConn.Read are made once per connection:
	// a fresh closure per call would escape to the heap on every read.
	readFn, peekFn, pooledFn func(fd uintptr) bool
	rbuf                     []byte
	rn                       int
	rerr                     error
	woken                    bool    // peekFn: the poller has reported readability
	pb                       *[]byte // pooledFn: the buffer being read into

	// ahead holds bytes read from the socket but not yet taken by
	// crypto/tls, which asks for a record or less at a time; it is
	// returned to the pool as soon as it is drained.
	ahead      *[]byte
	aheadBytes []byte

	corked atomic.Bool
	mu     sync.Mutex
	wbuf   *[]byte
}

// NewConn wraps c, which must be a *net.TCPConn or *net.UnixConn (or
// another syscall.Conn).
func NewConn(c net.Conn) (*Conn, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, errors.New("forward: connection has no file descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fc := &Conn{Conn: c, rc: rc}
	fc.readFn = func(fd uintptr) bool {
		fc.rn, fc.rerr = syscall.Read(int(fd), fc.rbuf)
		return true
	}
	// RawConn.Read clears the poller's readiness before its first call, so
	// that call must look (bytes may have come since the last read); after
	// a wake-up it need not: a spurious one costs a read(2) that says
	// EAGAIN, and the caller waits again.
	fc.peekFn = func(fd uintptr) bool {
		if fc.woken {
			return true
		}
		fc.woken = true
		_, _, err := syscall.Recvfrom(int(fd), fc.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	}
	fc.pooledFn = func(fd uintptr) bool {
		if fc.pb == nil {
			fc.pb = getBuf()
		}
		fc.rn, fc.rerr = syscall.Read(int(fd), *fc.pb)
		if fc.rerr == syscall.EAGAIN {
			putBuf(fc.pb)
			fc.pb = nil
			return false
		}
		return true
	}
	return fc, nil
}

// Read reads as net.Conn does until [Conn.setNonblocking]; after that it
// never blocks: it returns bytes read ahead, or makes one read(2) of up
// to a whole pooled buffer (several TLS records for one system call), or
// returns errWouldBlock when nothing waits.
func (c *Conn) Read(p []byte) (int, error) {
	if !c.nonblock || len(p) == 0 {
		return c.Conn.Read(p)
	}
	if c.ahead == nil {
		b, n, err := c.readOnce()
		if err != nil {
			return 0, err
		}
		c.ahead, c.aheadBytes = b, (*b)[:n]
	}
	n := copy(p, c.aheadBytes)
	c.aheadBytes = c.aheadBytes[n:]
	if len(c.aheadBytes) == 0 {
		putBuf(c.ahead)
		c.ahead, c.aheadBytes = nil, nil
	}
	return n, nil
}

// readOnce makes one non-blocking read(2) into a pooled buffer.
func (c *Conn) readOnce() (*[]byte, int, error) {
	b := getBuf()
	c.rbuf = *b
	rerr := c.rc.Read(c.readFn)
	c.rbuf = nil
	n, err := c.rn, c.rerr
	var out error
	switch {
	case rerr != nil:
		out = rerr
	case err == syscall.EAGAIN:
		out = errWouldBlock
	case err != nil:
		out = &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	case n == 0:
		out = io.EOF
	}
	if out != nil {
		putBuf(b)
		return nil, 0, out
	}
	return b, n, nil
}

func (c *Conn) setNonblocking() { c.nonblock = true }

// waitReadable blocks until the socket has bytes (or EOF, or an error)
// to read, honouring the read deadline, without a buffer: MSG_PEEK of one
// byte into the Conn's own array.
func (c *Conn) waitReadable() error {
	c.woken = false
	return c.rc.Read(c.peekFn)
}

// readPooled waits for bytes without a buffer and takes a pooled one only
// to read them: one read(2) per burst while bytes flow, like a blocking
// read, yet nothing held while the peer is silent. The caller returns
// the buffer with putBuf.
func (c *Conn) readPooled() (*[]byte, int, error) {
	err := c.rc.Read(c.pooledFn)
	b := c.pb
	c.pb = nil
	switch {
	case err != nil:
		return nil, 0, err // a deadline, or closed; pooledFn holds no buffer then
	case c.rerr != nil:
		putBuf(b)
		return nil, 0, &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: c.rerr}
	case c.rn == 0:
		putBuf(b)
		return nil, 0, io.EOF
	}
	return b, c.rn, nil
}

// Write sends p, or gathers it while corked.
func (c *Conn) Write(p []byte) (int, error) {
	if c.corked.Load() {
		c.mu.Lock()
		if c.corked.Load() {
			*c.wbuf = append(*c.wbuf, p...)
			c.mu.Unlock()
			return len(p), nil
		}
		c.mu.Unlock()
	}
	return c.Conn.Write(p)
}

// cork starts gathering writes.
func (c *Conn) cork() {
	c.mu.Lock()
	c.wbuf = getBuf()
	*c.wbuf = (*c.wbuf)[:0]
	c.corked.Store(true)
	c.mu.Unlock()
}

// uncork sends what was gathered in one write and stops gathering. The
// gathered bytes leave before corked clears: a record crypto/tls writes
// meanwhile from the reading goroutine (a KeyUpdate answer, RFC 8446,
// Section 4.6.3) carries a later sequence number, so it must queue behind
// them, and it does, waiting on mu.
func (c *Conn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.wbuf
	_, err := c.Conn.Write(*b)
	c.corked.Store(false)
	c.wbuf = nil
	putBuf(b)
	return err
}

// CloseWrite shuts down the sending side (TCP FIN), if the connection can.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
