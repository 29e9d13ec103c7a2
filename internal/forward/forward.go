// Package forward moves bytes both ways between a TLS client and a plain
// backend: half-close is propagated (client EOF -> FIN to the backend,
// backend EOF -> close_notify to the client), a half-closed connection
// gets a close timeout, an idle one an optional idle timeout, and a
// connection holds a copy buffer only while bytes flow.
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
	// IdleTimeout closes the connection when no bytes moved either way for
	// this long. Zero means never.
	IdleTimeout time.Duration
	// CloseTimeout is how long the other direction may keep going after
	// one has ended. Zero means no limit.
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
	// Panic is what the client-to-backend goroutine panicked with, if it
	// did, and Stack its stack: Run recovers it, since only that
	// goroutine can, ends the connection, and leaves logging to the caller.
	Panic any
	Stack []byte
}

type pipe struct {
	opts    Options
	tls     *tls.Conn
	client  *Conn // under tls
	backend *Conn
	last    atomic.Int64 // unix nanoseconds of the last bytes moved
	halfAt  atomic.Int64 // unix nanoseconds when one direction ended; 0 if none
	in, out int64

	panicked any // set by clientToBackendUntil before done closes
	stack    []byte

	mu      sync.Mutex
	reason  string
	err     error
	aborted bool
}

// Run forwards until both directions end or one fails, then closes both
// connections. tc must be a finished server handshake over client.
func Run(tc *tls.Conn, client, backend *Conn, opts Options) Result {
	p := &pipe{opts: opts, tls: tc, client: client, backend: backend}
	p.last.Store(time.Now().UnixNano())
	// Only the TLS side reads through Read; the backend side uses readPooled.
	client.setNonblocking()
	done := make(chan struct{})
	go p.clientToBackendUntil(done)
	p.backendToClient()
	<-done
	client.Close()
	backend.Close()
	// Both directions have ended; each recorded why.
	return Result{BytesIn: p.in, BytesOut: p.out, Reason: p.reason, Err: p.err, Panic: p.panicked, Stack: p.stack}
}

// clientToBackendUntil runs clientToBackend on its own goroutine and
// closes done when it ends, a panic included: that one is recovered and
// recorded, and ends the connection, so it cannot end the process.
func (p *pipe) clientToBackendUntil(done chan struct{}) {
	defer close(done)
	defer func() {
		if v := recover(); v != nil {
			p.panicked, p.stack = v, debug.Stack()
			p.finish(ReasonPanic, fmt.Errorf("panic: %v", v), true)
		}
	}()
	p.clientToBackend()
}

// finish records why the connection ends. The first reason stands, except
// that the first failure (abort) replaces an orderly half-close: a
// connection whose client closed but which then hit the close timeout
// ended by the timeout. A failure closes both sides so that the other
// direction stops too.
func (p *pipe) finish(reason string, err error, abort bool) {
	p.mu.Lock()
	if p.reason == "" || abort && !p.aborted {
		p.reason, p.err = reason, err
	}
	p.aborted = p.aborted || abort
	p.mu.Unlock()
	if abort {
		p.client.Close()
		p.backend.Close()
	}
}

// halfClose starts the close timeout for the direction still running,
// from src to dst: on its reads, and on its writes too, so that a peer
// that stops reading cannot hold the connection open either.
func (p *pipe) halfClose(src, dst *Conn) {
	now := time.Now()
	if !p.halfAt.CompareAndSwap(0, now.UnixNano()) {
		return // both directions have ended
	}
	if p.opts.CloseTimeout > 0 {
		src.SetReadDeadline(now.Add(p.opts.CloseTimeout))
		dst.SetWriteDeadline(now.Add(p.opts.CloseTimeout))
	}
}

// setIdleDeadline arms the idle timeout on src, counted from the last
// bytes moved either way; after a half-close the close timeout rules.
func (p *pipe) setIdleDeadline(src *Conn) {
	if p.opts.IdleTimeout > 0 && p.halfAt.Load() == 0 {
		src.SetReadDeadline(time.Unix(0, p.last.Load()).Add(p.opts.IdleTimeout))
	}
}

// expired says which timeout ended a read whose deadline passed, or nil
// when the other direction moved bytes meanwhile and waiting goes on.
func (p *pipe) expired() error {
	if p.halfAt.Load() != 0 {
		return errCloseTimeout
	}
	if time.Since(time.Unix(0, p.last.Load())) >= p.opts.IdleTimeout {
		return errIdle
	}
	return nil
}

// fillClient waits for the client's next burst, applying the idle and
// close timeouts.
func (p *pipe) fillClient() error {
	for {
		p.setIdleDeadline(p.client)
		err := p.client.fillAhead()
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
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
		p.setIdleDeadline(p.backend)
		b, n, err := p.backend.readPooled()
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return b, n, err
		}
		if err := p.expired(); err != nil {
			return nil, 0, err
		}
	}
}

var (
	errIdle         = errors.New("idle timeout")
	errCloseTimeout = errors.New("close timeout")
)

func (p *pipe) timeoutReason(err error) (string, bool) {
	switch err {
	case errIdle:
		return ReasonIdle, true
	case errCloseTimeout:
		return ReasonCloseTimeout, true
	}
	return "", false
}

// clientToBackend decrypts into a pooled buffer, gathering up to four
// records, and writes them to the backend in one call.
func (p *pipe) clientToBackend() {
	for {
		buf := getBuf()
		n, err := p.fillFromTLS(*buf)
		if n > 0 {
			p.last.Store(time.Now().UnixNano())
			_, werr := p.backend.Write((*buf)[:n])
			p.in += int64(n)
			if werr != nil {
				putBuf(buf)
				p.writeFailed(ReasonBackendError, werr)
				return
			}
		}
		putBuf(buf)
		switch {
		case err == nil:
			continue // the buffer filled up; more may be waiting
		case err == errWouldBlock:
			if werr := p.fillClient(); werr != nil {
				if r, ok := p.timeoutReason(werr); ok {
					p.finish(r, nil, true)
				} else {
					p.finish(ReasonClientError, werr, true)
				}
				return
			}
		case err == io.EOF:
			// close_notify or a FIN from the client: pass the half-close
			// on, after recording it: the backend may answer at once.
			p.finish(ReasonClientClosed, nil, false)
			p.halfClose(p.backend, p.client)
			p.backend.CloseWrite()
			return
		default:
			p.finish(ReasonClientError, err, true)
			return
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

// backendToClient reads what the backend sent and encrypts it in one
// gathered write of up to four records.
func (p *pipe) backendToClient() {
	for {
		buf, n, err := p.readBackend()
		if err != nil {
			p.backendEnded(err)
			return
		}
		p.last.Store(time.Now().UnixNano())
		p.client.cork()
		_, werr := p.tls.Write((*buf)[:n])
		if uerr := p.client.uncork(); werr == nil {
			werr = uerr
		}
		p.out += int64(n)
		putBuf(buf)
		if werr != nil {
			p.writeFailed(ReasonClientError, werr)
			return
		}
	}
}

// writeFailed ends the connection after a failed write: past the close
// timeout's write deadline that is a close timeout, else the peer's error.
func (p *pipe) writeFailed(reason string, err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) && p.halfAt.Load() != 0 {
		p.finish(ReasonCloseTimeout, nil, true)
		return
	}
	p.finish(reason, err, true)
}

// backendEnded handles the end of the backend's bytes: EOF is passed on
// as close_notify then FIN; a timeout or an error ends the connection.
func (p *pipe) backendEnded(err error) {
	if err == io.EOF {
		p.finish(ReasonBackendClosed, nil, false)
		p.halfClose(p.client, p.backend)
		p.tls.CloseWrite()
		p.client.CloseWrite()
		return
	}
	if r, ok := p.timeoutReason(err); ok {
		p.finish(r, nil, true)
		return
	}
	p.finish(ReasonBackendError, err, true)
}
