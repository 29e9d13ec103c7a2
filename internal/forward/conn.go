package forward

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// errWouldBlock is what a [Conn] serving from read-ahead returns from
// Read when it holds no bytes read ahead. It is a temporary net.Error, so
// crypto/tls keeps the connection usable (tls.Conn.readRecordOrCCS) and
// any partial record it has read stays buffered; TestTLSSurvivesTemporaryReadError
// pins that behaviour.
var errWouldBlock = &wouldBlock{}

type wouldBlock struct{}

func (*wouldBlock) Error() string   { return "no data waiting" }
func (*wouldBlock) Timeout() bool   { return true }
func (*wouldBlock) Temporary() bool { return true }

// Conn wraps a TCP or unix stream connection so that the forwarder never
// holds a copy buffer while a peer is silent, and reads and writes in
// large bursts:
//
//   - [Conn.readPooled] waits for readability inside the poller's callback
//     and takes a pooled buffer only to read: one read(2) per burst, as a
//     blocking read costs, and no buffer while waiting.
//   - Under crypto/tls, [Conn.fillAhead] reads such a burst (several TLS
//     records) and Read hands it to crypto/tls from memory; Read never
//     touches the socket (the descriptor stays in Go's usual mode), so it
//     returns errWouldBlock when the burst is used up and the forwarder
//     calls fillAhead again.
//   - While corked, writes are gathered and leave in one write(2), so a
//     TLS write of several records costs one system call.
//   - Under the forwarder, every write re-arms its deadline from the last
//     progress either way, so a slow but moving peer is never cut.
type Conn struct {
	net.Conn
	rc            syscall.RawConn
	readAheadOnly bool  // set once, by the reading goroutine, after the handshake
	pipe          *pipe // the forwarder's timers; nil until Run
	// tls is the connection over this one, on the client side once Run
	// starts: its read buffers go (dropTLSInput) whenever the socket has
	// nothing to read and the reading goroutine is about to wait.
	tls *tls.Conn

	// readFn is given to RawConn.Read; made once per connection, since a
	// fresh closure per call would escape to the heap on every read.
	readFn func(fd uintptr) bool
	rb     *[]byte // the buffer readFn reads into
	rn     int
	rerr   error
	// big: the last read filled its buffer, so the next takes a big one
	// (see bufSize); owned by the reading goroutine.
	big bool
	// emptied: the last read took everything the socket held (it came
	// back short, or found nothing), so a look for more before waiting
	// would be a system call that finds nothing; owned by the reading
	// goroutine.
	emptied bool

	// ahead holds bytes read but not yet taken by crypto/tls, which asks
	// for a record or less at a time; it goes back to the pool as soon as
	// it is drained. aheadErr is how the socket ended (EOF or an error),
	// for crypto/tls to see once the bytes before it are taken.
	ahead      *[]byte
	aheadBytes []byte
	aheadErr   error

	corked atomic.Bool
	mu     sync.Mutex
	wbuf   *[]byte

	// queued is one more than what [Conn.unsent] said at the last look at
	// an expired deadline, or 0 when a write moved bytes since; see
	// [Conn.drained].
	queued atomic.Int64
}

// NewConn wraps c, which must be a *net.TCPConn or *net.UnixConn (or
// another syscall.Conn).
func NewConn(c net.Conn) (*Conn, error) {
	return NewConnFirst(c, nil)
}

// NewConnFirst is [NewConn] for a connection whose first bytes
// [AwaitFirst] read: Read hands them out first. It takes first's buffer,
// also when it fails.
func NewConnFirst(c net.Conn, first *First) (*Conn, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		first.Release()
		return nil, errors.New("forward: connection has no file descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		first.Release()
		return nil, err
	}
	fc := &Conn{Conn: c, rc: rc}
	if first != nil {
		if first.b != nil {
			fc.ahead, fc.aheadBytes = first.b, (*first.b)[:first.n]
			fc.emptied = first.n < len(*first.b)
		}
		fc.aheadErr = first.err
		*first = First{}
	}
	// RawConn.Read calls readFn; when it returns false the goroutine parks
	// until the poller reports readability, then calls it again. On EAGAIN
	// the buffer goes back to the pool before parking.
	fc.readFn = func(fd uintptr) bool {
		if fc.rb == nil {
			fc.rb = getBuf(fc.big)
		}
		fc.rn, fc.rerr = syscall.Read(int(fd), *fc.rb)
		if fc.rerr == nil {
			fc.big = fc.rn == len(*fc.rb) || fc.big && fc.rn >= bufSize
			fc.emptied = fc.rn < len(*fc.rb)
		}
		if fc.rerr == syscall.EAGAIN {
			fc.emptied = true
			putBuf(fc.rb)
			fc.rb = nil
			if fc.tls != nil {
				dropTLSInput(fc.tls)
				if parkedHook != nil {
					parkedHook(fc.tls)
				}
			}
			return false
		}
		return true
	}
	return fc, nil
}

// Read returns bytes read ahead ([AwaitFirst], [Conn.fillAhead]) first,
// then the error that ended the socket. Until [Conn.serveFromReadAhead]
// it then reads as net.Conn does; after that it returns errWouldBlock.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return c.Conn.Read(p)
	}
	if !c.readAheadOnly && len(c.aheadBytes) == 0 && c.aheadErr == nil {
		n, err := c.Conn.Read(p)
		c.emptied = err == nil && n < len(p)
		return n, err
	}
	if len(c.aheadBytes) == 0 {
		if c.aheadErr != nil {
			return 0, c.aheadErr
		}
		return 0, errWouldBlock
	}
	n := copy(p, c.aheadBytes)
	c.aheadBytes = c.aheadBytes[n:]
	if len(c.aheadBytes) == 0 {
		putBuf(c.ahead)
		c.ahead, c.aheadBytes = nil, nil
	}
	return n, nil
}

// serveFromReadAhead makes Read hand out only what [Conn.fillAhead] read,
// never touching the socket; the forwarder then waits for bytes without
// holding a buffer.
func (c *Conn) serveFromReadAhead() { c.readAheadOnly = true }

// releaseAhead returns a read-ahead buffer crypto/tls never drained (the
// connection ended with bytes unread).
func (c *Conn) releaseAhead() {
	if c.ahead != nil {
		putBuf(c.ahead)
		c.ahead, c.aheadBytes = nil, nil
	}
}

// readPooled waits until the socket has bytes, EOF or an error (or the
// read deadline passes), and only then reads them into a pooled buffer,
// which the caller returns with putBuf.
func (c *Conn) readPooled() (*[]byte, int, error) {
	return c.took(c.rc.Read(c.readFn))
}

// tryRead reads what the socket holds now into a pooled buffer, as
// readPooled does, but never waits: it returns errWouldBlock when the
// socket holds nothing.
func (c *Conn) tryRead() (*[]byte, int, error) {
	ready := false
	err := c.rc.Control(func(fd uintptr) { ready = c.readFn(fd) })
	if err == nil && !ready {
		return nil, 0, errWouldBlock
	}
	return c.took(err)
}

// took hands out what readFn read, or how reading ended.
func (c *Conn) took(err error) (*[]byte, int, error) {
	b := c.rb
	c.rb = nil
	switch {
	case err != nil:
		return nil, 0, err // a deadline, or closed; readFn holds no buffer then
	case c.rerr != nil:
		putBuf(b)
		return nil, 0, &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: c.rerr}
	case c.rn == 0:
		putBuf(b)
		return nil, 0, io.EOF
	}
	return b, c.rn, nil
}

// fillAhead waits for the next burst and keeps it for Read. It returns
// only deadline and close errors; how the socket ended is kept for
// crypto/tls to see through Read, so that it can tell a clean end from a
// truncated record.
func (c *Conn) fillAhead() error {
	return c.keepAhead(c.readPooled())
}

// AwaitFirst waits, holding no buffer, until raw has bytes, an end or an
// error, or its read deadline passes, and then reads what it holds into
// a pooled buffer: the client's first flight in one read(2), where a
// look (MSG_PEEK) and then crypto/tls's reads, sized for a record header
// first, would take three. It returns only deadline and close errors;
// how the socket ended is kept for the handshake to find. [NewConnFirst]
// given the result hands the bytes out first.
func AwaitFirst(raw net.Conn) (First, error) {
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return First{}, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return First{}, err
	}
	var f First
	err = rc.Read(func(fd uintptr) bool {
		if f.b == nil {
			f.b = getBuf(false)
		}
		f.n, f.err = syscall.Read(int(fd), *f.b)
		if f.err == syscall.EAGAIN {
			putBuf(f.b)
			f.b = nil
			return false
		}
		return true
	})
	if err != nil {
		return First{}, err
	}
	switch {
	case f.err != nil:
		f.err = &net.OpError{Op: "read", Net: raw.LocalAddr().Network(), Source: raw.LocalAddr(), Addr: raw.RemoteAddr(), Err: f.err}
	case f.n == 0:
		f.err = io.EOF
	}
	if f.err != nil {
		putBuf(f.b)
		f.b = nil
	}
	return f, nil
}

// First is what [AwaitFirst] read: bytes, or how the socket ended. The
// zero First holds nothing.
type First struct {
	b   *[]byte
	n   int
	err error
}

// Release returns the buffer of a First that no [Conn] took; nil holds
// nothing.
func (f *First) Release() {
	if f != nil && f.b != nil {
		putBuf(f.b)
		f.b = nil
	}
}

// tryFillAhead is fillAhead without waiting: errWouldBlock when the
// socket holds nothing.
func (c *Conn) tryFillAhead() error {
	b, n, err := c.tryRead()
	if err == errWouldBlock {
		return err
	}
	return c.keepAhead(b, n, err)
}

// keepAhead keeps a burst for Read, or how the socket ended.
func (c *Conn) keepAhead(b *[]byte, n int, err error) error {
	switch {
	case errors.Is(err, io.EOF) || err != nil && !isLocal(err):
		c.aheadErr = err
		return nil
	case err != nil:
		return err
	}
	c.ahead, c.aheadBytes = b, (*b)[:n]
	return nil
}

// isLocal reports errors that come from this side: a passed deadline or
// a connection closed here.
func isLocal(err error) bool {
	var ne net.Error
	return errors.Is(err, net.ErrClosed) || errors.As(err, &ne) && ne.Timeout()
}

// Write sends p, or gathers it while corked.
func (c *Conn) Write(p []byte) (int, error) {
	if c.corked.Load() {
		if n, gathered, err := c.gather(p); gathered {
			return n, err
		}
	}
	return c.write(p)
}

// gather adds p to the gathered bytes, if c is still corked. The buffer
// never grows: putBuf tells a big buffer from a small one by its
// capacity, so a grown small one would go to the big pool, uncounted,
// and the next big read would take it and slice it past its end.
// gatherCap counts full records; a TLS 1.2 client (29 bytes a record
// with AES-GCM), the small records crypto/tls starts a connection with
// (dynamic record sizing) or a KeyUpdate answer can need more. So when p
// does not fit, what is gathered leaves first (in order: the lock is
// held), then p is gathered, or written at once if it is larger than the
// buffer. The lock is released by defer: a write that panicked holding
// it would block the other direction's next write for good.
func (c *Conn) gather(p []byte) (n int, gathered bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked.Load() {
		return 0, false, nil
	}
	b := c.wbuf
	if len(*b)+len(p) > cap(*b) {
		_, err := c.write(*b)
		*b = (*b)[:0] // sent, or the connection is failing: never twice
		if err != nil {
			return 0, true, err
		}
		if len(p) > cap(*b) {
			n, err := c.write(p)
			return n, true, err
		}
	}
	*b = append(*b, p...)
	return len(p), true, nil
}

// write sends all of p. Under the forwarder each attempt re-arms the
// write deadline from the last progress either way: net.Conn.Write
// returns the bytes it did send with the deadline error, and a write
// that moved bytes is progress, so only a peer that takes nothing for the
// whole timeout is cut.
func (c *Conn) write(p []byte) (int, error) {
	if c.pipe == nil {
		return c.Conn.Write(p)
	}
	n := 0
	for {
		c.pipe.armWrite(c)
		m, err := c.Conn.Write(p[n:])
		n += m
		if m > 0 {
			c.pipe.progressed()
			c.queued.Store(0) // the next look at an expired deadline starts afresh
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if err := c.pipe.expired(); err != nil {
			return n, err
		}
	}
}

// drained reports, when a deadline has expired, whether the peer may
// still be taking bytes the kernel holds for it, and remembers how many
// there are. At the first look since the last write any bytes still
// queued count (the peer has had one timeout to take them, and may be
// slow); at later looks only fewer than before do. So a peer that stops
// reading is cut after one to two timeouts, and the write path pays no
// system call for this. An emptied queue is not progress: its last bytes
// may have left long ago.
func (c *Conn) drained() bool {
	q := int64(c.unsent())
	prev := c.queued.Swap(q+1) - 1 // queued holds unsent+1; 0: not looked since the last write
	return q > 0 && (prev < 0 || q < prev)
}

// cork starts gathering writes of up to n bytes of plaintext.
func (c *Conn) cork(n int) {
	c.mu.Lock()
	c.wbuf = bufFor(n)
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
	_, err := c.write(*b)
	c.corked.Store(false)
	c.wbuf = nil
	putBuf(b)
	return err
}

// Abort closes the connection so that the peer cannot take it for a
// complete one: on TCP with SO_LINGER 0, so the peer gets a reset (RST)
// instead of a FIN (socket(7), tcp(7)) and its next read fails with
// ECONNRESET. A unix socket has no reset: closing it is all there is, and
// its peer reads an EOF; a unix backend must tell a cut request from a
// finished one by its own framing. Abort is safe to call at any time,
// from any goroutine, and more than once.
func (c *Conn) Abort() {
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		l.SetLinger(0)
	}
	c.Conn.Close()
}

// CloseWrite shuts down the sending side (TCP FIN), if the connection can.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
