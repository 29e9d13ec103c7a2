package forward

import (
	"errors"
	"time"
)

// The idle and close timeouts are inactivity timers: both count from the
// last progress either way (a read that returned bytes, a write that sent
// some), so a slow transfer that keeps moving is never cut, and a
// connection where nothing moves for the timeout is. Deadlines are armed
// from that instant before every read and write, and a deadline that
// passes while the other direction moved bytes is armed again.

var (
	errIdle         = errors.New("idle timeout")
	errCloseTimeout = errors.New("close timeout")
)

// progressed records that bytes moved.
func (p *pipe) progressed() { p.last.Store(int64(time.Since(p.start))) }

// timeout is the inactivity limit in force: the close timeout once one
// direction has ended, the idle timeout before. Zero means none.
func (p *pipe) timeout() time.Duration {
	if p.half.Load() {
		return p.opts.CloseTimeout
	}
	return p.opts.IdleTimeout
}

// deadline is when the connection expires if nothing moves until then.
// It is computed from p.start, whose monotonic clock reading keeps wall
// clock steps out of it.
func (p *pipe) deadline() (time.Time, bool) {
	t := p.timeout()
	if t <= 0 {
		return time.Time{}, false
	}
	return p.start.Add(time.Duration(p.last.Load()) + t), true
}

// armRead and armWrite set c's deadline from the last progress. The lock
// makes computing and setting one step, so that a half-close on the other
// goroutine (which switches to the close timeout and arms both) is never
// overwritten by a deadline computed before it.
func (p *pipe) armRead(c *Conn) {
	p.dl.Lock()
	if d, ok := p.deadline(); ok {
		c.SetReadDeadline(d)
	}
	p.dl.Unlock()
}

func (p *pipe) armWrite(c *Conn) {
	p.dl.Lock()
	if d, ok := p.deadline(); ok {
		c.SetWriteDeadline(d)
	}
	p.dl.Unlock()
}

// expired says which timeout ended a read or write whose deadline
// passed, or nil when bytes moved meanwhile and waiting goes on.
func (p *pipe) expired() error {
	d, ok := p.deadline()
	switch {
	case !ok || time.Now().Before(d):
		return nil
	case p.drained():
		p.progressed()
		return nil
	case p.half.Load():
		return errCloseTimeout
	}
	return errIdle
}

// drained reports whether either peer took bytes the kernel held for it
// since the last look (see [Conn.unsent]), and looks again. A write
// returns once its bytes are in the socket's send buffer, which holds
// megabytes; a slow client still reading them after the backend went
// quiet or closed is progress, or the timeout would reset the
// connection and throw away an answer the backend sent whole. Bytes the
// peer took since the last write count as progress when the deadline
// passes, so a peer that stops reading is cut after one to two timeouts.
func (p *pipe) drained() bool {
	client, backend := p.client.drained(), p.backend.drained()
	return client || backend
}

// halfClose switches the direction still running, from src to dst, to
// the close timeout: on its reads, and on its writes too, so that a peer
// that stops reading cannot hold the connection open either. It reports
// false when the other direction had already ended.
func (p *pipe) halfClose(src, dst *Conn) bool {
	if p.half.Swap(true) {
		return false
	}
	p.armRead(src)
	p.armWrite(dst)
	return true
}

func timeoutReason(err error) (string, bool) {
	switch {
	case errors.Is(err, errIdle):
		return ReasonIdle, true
	case errors.Is(err, errCloseTimeout):
		return ReasonCloseTimeout, true
	}
	return "", false
}
