// Package forward moves bytes both ways between a TLS client and a plain
// backend: half-close is propagated (client EOF -> FIN to the backend,
// backend EOF -> close_notify to the client), idle and half-closed
// connections are cut after a time without progress, a cut connection
// is reset rather than closed so that neither peer takes it for a
// complete one, and a connection holds a copy buffer only while bytes
// flow.
package forward

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune a forwarded connection.
type Options struct {
	// IdleTimeout cuts the connection when no bytes moved either way for
	// this long. Zero means never.
	IdleTimeout time.Duration
	// CloseTimeout applies once one direction has ended: the other is cut
	// when it moves no bytes for this long (it may run as long as it
	// keeps moving). Zero means no limit.
	CloseTimeout time.Duration
}

// Close reasons reported in [Result].
const (
	ReasonClientClosed  = "client_closed"  // the client ended, the backend followed
	ReasonBackendClosed = "backend_closed" // the backend ended, the client followed
	ReasonIdle          = "idle_timeout"
	ReasonCloseTimeout  = "close_timeout"
	ReasonClientError   = "client_error"
	ReasonBackendError  = "backend_error"
	ReasonPanic         = "panic" // a bug; see Result.Panic
)

// Result is what happened on a forwarded connection.
type Result struct {
	BytesIn  int64 // client to backend, plaintext
	BytesOut int64 // backend to client, plaintext
	Reason   string
	Err      error // the first error that ended it, if any
	// Aborted is true when the connection was cut (timeout or error) and
	// both sockets were reset rather than closed.
	Aborted bool
	// Panic is what the client-to-backend goroutine panicked with, if it
	// did, and Stack its stack: Run recovers it, since only that
	// goroutine can, ends the connection, and leaves logging to the caller.
	Panic any
	Stack []byte
}

// Counters are the plaintext bytes a forwarded connection has moved so
// far, each way. [Run] adds to them as the bytes move, one atomic add per
// write, so that they can be read at any time: a long transfer shows its
// progress before it ends.
type Counters struct {
	In  atomic.Int64 // client to backend
	Out atomic.Int64 // backend to client
}

type pipe struct {
	opts    Options
	tls     *tls.Conn
	client  *Conn // under tls
	backend *Conn
	start   time.Time
	last    atomic.Int64 // since start, when bytes last moved either way
	half    atomic.Bool  // one direction has ended
	dl      sync.Mutex   // see armRead
	n       *Counters

	left atomic.Int32 // directions still running
	done func(Result) // called by the last to end

	panicked any // the first panic of a direction's goroutine; under mu
	stack    []byte
	// held is the pooled buffer each direction (toBackend, toClient)
	// holds, so that one that panics gives it back (see recoverDirection);
	// each is owned by its direction's goroutine.
	held [2]*[]byte

	mu      sync.Mutex
	reason  string
	err     error
	aborted bool
}

// Run forwards until both directions end or one fails, then closes both
// connections: with a FIN after a clean end both ways, with a reset
// (see [Conn.Abort]) when the connection was cut. tc must be a finished
// server handshake over client. Run counts the bytes it moves in n, which
// must start at zero; nil: in counters of its own, reported only in the
// [Result].
func Run(tc *tls.Conn, client, backend *Conn, opts Options, n *Counters) Result {
	res := make(chan Result, 1)
	Start(tc, client, backend, opts, n, func(r Result) { res <- r })
	return <-res
}

// Start forwards as [Run] does, on goroutines of its own, and returns at
// once; done gets the [Result] when both directions have ended and both
// connections are closed. The caller's goroutine is free to exit, so
// that an idle connection is no goroutine of the caller's.
//
// A direction waits for its next bytes on a fresh goroutine: moving bytes
// (crypto/tls, AES-GCM) grows a goroutine's stack to 4 KiB or more, and
// the runtime shrinks a parked goroutine's stack only while it uses under
// a quarter of it, which a goroutine parked in the poller never does. A
// goroutine that has only waited keeps the runtime's starting size. So
// after a burst, a direction reads on without waiting while the socket
// holds bytes, and only when it holds none hands the wait to a new
// goroutine and exits (one goroutine start per wait, none per burst
// while bytes keep coming).
func Start(tc *tls.Conn, client, backend *Conn, opts Options, n *Counters, done func(Result)) {
	if n == nil {
		n = new(Counters)
	}
	started()
	p := &pipe{opts: opts, tls: tc, client: client, backend: backend, start: time.Now(), n: n, done: done}
	p.left.Store(2)
	client.pipe, backend.pipe = p, p
	// Only the TLS side reads through Read; the backend side uses readPooled.
	client.serveFromReadAhead()
	client.tls = tc
	// crypto/tls may hold bytes the client sent right after its
	// handshake: the first pass reads them before waiting.
	go p.clientSide(false)
	go p.backendSide()
}

// running reports, to a direction that has not ended, whether the other
// one still runs. A direction that has only half-closed (see halfClose)
// may still be writing its close_notify to a client that does not read,
// for up to the close timeout: the end of this one must be passed on
// with a FIN of its own then, not left to the close that follows both.
func (p *pipe) running() bool { return p.left.Load() > 1 }

// ended is called once by each direction as it ends; the last closes
// both connections and reports the Result.
func (p *pipe) ended() {
	if p.left.Add(-1) != 0 {
		return
	}
	p.client.Close()
	p.backend.Close()
	p.client.releaseAhead()
	// Both directions have ended; each recorded why.
	n := p.n
	p.done(Result{BytesIn: n.In.Load(), BytesOut: n.Out.Load(), Reason: p.reason, Err: p.err, Aborted: p.aborted, Panic: p.panicked, Stack: p.stack})
}

// The directions, indexes of pipe.held.
const (
	toBackend = iota
	toClient
)

// hold records b as the buffer direction d holds, and returns it.
func (p *pipe) hold(d int, b *[]byte) *[]byte {
	p.held[d] = b
	return b
}

// release returns the buffer direction d holds to its pool.
func (p *pipe) release(d int) {
	b := p.held[d]
	p.held[d] = nil
	putBuf(b)
}

// recoverDirection, deferred by each direction's goroutine, turns a panic
// (a bug) into the end of the connection, recorded in the Result with its
// stack, so that it cannot end the process, and ends the direction. The
// direction's buffers go back, or each such panic would shrink the
// budget of big buffers for good: the one it held, and the client's
// gathering buffer if the panic came while writing to the client (only
// if its lock is free: a panic under it leaves the buffer to the
// collector rather than block).
func (p *pipe) recoverDirection(d int) {
	if v := recover(); v != nil {
		if p.held[d] != nil {
			p.release(d)
		}
		if c := p.client; d == toClient && c.mu.TryLock() {
			if c.wbuf != nil {
				putBuf(c.wbuf)
				c.wbuf = nil
				c.corked.Store(false)
			}
			c.mu.Unlock()
		}
		p.mu.Lock()
		if p.panicked == nil {
			p.panicked, p.stack = v, debug.Stack()
		}
		p.mu.Unlock()
		p.finish(ReasonPanic, fmt.Errorf("panic: %v", v), true)
		p.ended()
	}
}

// clientSide is the client-to-backend direction's goroutine: it waits for
// the client's next bytes (unless wait is false), then forwards until the
// direction ends or hands the next wait to a fresh goroutine.
func (p *pipe) clientSide(wait bool) {
	defer p.recoverDirection(toBackend)
	if wait {
		if err := p.fillClient(); err != nil {
			p.fail(ReasonClientError, err)
			p.ended()
			return
		}
	}
	if p.clientToBackend() {
		p.ended()
	}
}

// backendSide is the backend-to-client direction's goroutine, as
// clientSide.
func (p *pipe) backendSide() {
	defer p.recoverDirection(toClient)
	if p.backendToClient() {
		p.ended()
	}
}

// finish records why the connection ends. The first reason stands, except
// that the first failure (abort) replaces an orderly half-close: a
// connection whose client closed but which then hit the close timeout
// ended by the timeout. A failure resets both sides, so that the other
// direction stops too and neither peer reads a clean end.
func (p *pipe) finish(reason string, err error, abort bool) {
	p.mu.Lock()
	if p.reason == "" || abort && !p.aborted {
		p.reason, p.err = reason, err
	}
	p.aborted = p.aborted || abort
	p.mu.Unlock()
	if abort {
		p.client.Abort()
		p.backend.Abort()
	}
}

// fillClient waits for the client's next burst, applying the idle and
// close timeouts.
func (p *pipe) fillClient() error {
	for {
		p.armRead(p.client)
		err := p.client.fillAhead()
		if err == nil {
			p.progressed()
			return nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		if err := p.expired(); err != nil {
			return err
		}
	}
}

// readBackend reads the next burst from the backend into a pooled buffer,
// applying the idle and close timeouts.
func (p *pipe) readBackend() (*[]byte, int, error) {
	for {
		p.armRead(p.backend)
		b, n, err := p.backend.readPooled()
		if err == nil {
			p.progressed()
			return b, n, nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, 0, err
		}
		if err := p.expired(); err != nil {
			return nil, 0, err
		}
	}
}

// clientToBackend decrypts into a pooled buffer, gathering up to four
// records, and writes them to the backend in one call. It reports false
// when it handed the next wait to a fresh goroutine, true when the
// direction ended.
func (p *pipe) clientToBackend() bool {
	for {
		// Decrypt into a buffer the size of the client's last read.
		buf := p.hold(toBackend, getBuf(p.client.big))
		n, err := p.fillFromTLS(*buf)
		if n > 0 {
			_, werr := p.backend.Write((*buf)[:n])
			p.n.In.Add(int64(n))
			if werr != nil {
				p.release(toBackend)
				p.fail(ReasonBackendError, werr)
				return true
			}
		}
		p.release(toBackend)
		switch {
		case err == nil:
			continue // the buffer filled up; more may be waiting
		case err == errWouldBlock:
			if p.client.emptied {
				// The last read emptied the socket: what arrived since,
				// the fresh goroutine's first read takes.
				go p.clientSide(true)
				return false
			}
			switch err := p.client.tryFillAhead(); {
			case err == errWouldBlock:
				go p.clientSide(true)
				return false
			case err != nil:
				p.fail(ReasonClientError, err)
				return true
			}
			p.progressed()
		case err == io.EOF:
			// close_notify or a FIN from the client: pass the half-close
			// on, after recording it: the backend may answer at once.
			p.finish(ReasonClientClosed, nil, false)
			if open := p.halfClose(p.backend, p.client); open || p.running() {
				p.backend.CloseWrite() // fails only when the backend is gone, which its reader sees
			} // else the backend's direction has ended too: the close at once is its FIN
			return true
		default:
			// A write crypto/tls made itself (a KeyUpdate answer) may
			// have hit a timeout; fail tells.
			p.fail(ReasonClientError, err)
			return true
		}
	}
}

// fillFromTLS reads records until the buffer cannot take another full
// record or no more bytes wait. It returns errWouldBlock only when
// crypto/tls holds no decrypted bytes, so waiting on the socket is safe.
func (p *pipe) fillFromTLS(buf []byte) (int, error) {
	n := 0
	for len(buf)-n >= maxRecord {
		m, err := p.tls.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// backendToClient waits for what the backend sends and encrypts each
// read in one gathered write of up to four records. It reports false when
// it handed the next wait to a fresh goroutine, true when the direction
// ended.
func (p *pipe) backendToClient() bool {
	buf, n, err := p.readBackend()
	p.hold(toClient, buf)
	for {
		if err != nil {
			p.backendEnded(err)
			return true
		}
		p.client.cork(n)
		_, werr := p.tls.Write((*buf)[:n])
		// The records are in the gather buffer now: the plaintext's goes
		// back before the write that a client not reading may block.
		p.release(toClient)
		if uerr := p.client.uncork(); werr == nil {
			werr = uerr
		}
		p.n.Out.Add(int64(n))
		if werr != nil {
			p.fail(ReasonClientError, werr)
			return true
		}
		if p.backend.emptied {
			// The read emptied the socket: what arrived since, the fresh
			// goroutine's first read takes.
			go p.backendSide()
			return false
		}
		buf, n, err = p.backend.tryRead()
		p.hold(toClient, buf)
		switch {
		case err == errWouldBlock:
			go p.backendSide()
			return false
		case err == nil:
			p.progressed()
		}
	}
}

// fail ends the connection after an error: a timeout without progress,
// or else the peer's error, reported as reason.
func (p *pipe) fail(reason string, err error) {
	if r, ok := timeoutReason(err); ok {
		p.finish(r, nil, true)
		return
	}
	p.finish(reason, err, true)
}

// backendEnded handles the end of the backend's bytes: EOF, and only EOF,
// is passed on as close_notify then FIN (RFC 8446, Section 6.1); a
// timeout or an error resets the connection.
func (p *pipe) backendEnded(err error) {
	if err == io.EOF {
		p.finish(ReasonBackendClosed, nil, false)
		open := p.halfClose(p.client, p.backend)
		// A client gone meanwhile fails these too, and its reader sees
		// that; only a close_notify the client never took is this
		// direction's to report, as the close timeout.
		if r, ok := timeoutReason(p.tls.CloseWrite()); ok {
			p.finish(r, nil, true)
			return
		}
		if open || p.running() {
			p.client.CloseWrite()
		} // else the client's direction has ended too: the close at once is its FIN
		return
	}
	p.fail(ReasonBackendError, err)
}
