package proxy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward"
)

// ErrDrainTimeout is what [Proxy.Shutdown] returns (as a
// [*DrainTimeoutError]) when connections had to be cut because the drain
// timeout ran out.
var ErrDrainTimeout = errors.New("drain timeout: open connections were closed")

// DrainTimeoutError says how many connections the drain timeout cut. It
// is [ErrDrainTimeout] for errors.Is.
type DrainTimeoutError struct{ Cut int }

func (e *DrainTimeoutError) Error() string {
	if e.Cut == 1 {
		return "drain timeout: cut 1 open connection"
	}
	return fmt.Sprintf("drain timeout: cut %d open connections", e.Cut)
}

func (e *DrainTimeoutError) Is(target error) bool { return target == ErrDrainTimeout }

// abortGrace bounds the wait for cut connections' goroutines to finish.
// Every one of them is blocked on a socket that Shutdown closed, so they
// end at once; the bound only keeps a stop from ever hanging on a bug.
const abortGrace = time.Second

// Shutdown waits for open connections to finish (listeners must already
// be closed). When ctx ends first, it cuts every socket of every
// connection left (client and backend, in handshake, dialing or
// forwarding; see [forward.Conn.Abort]), so that whatever is blocked on
// them returns, and returns a [*DrainTimeoutError].
func (p *Proxy) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go p.waitConns(done)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	n := p.abortAll()
	if n > 0 {
		p.opts.Logger.Warn("drain timeout: cut open connections", "connections", n)
	}
	select {
	case <-done:
	case <-time.After(abortGrace):
		p.opts.Logger.Error("cut connections did not end", "connections", p.Stats.Active.Load())
	}
	if n == 0 {
		return nil // the last ones ended just as the timeout ran out
	}
	return &DrainTimeoutError{Cut: n}
}

func (p *Proxy) waitConns(done chan<- struct{}) {
	p.wg.Wait()
	close(done)
}

// abortAll resets every tracked connection's sockets and stops dials in
// progress; a backend dialed afterwards is reset as soon as it is set
// (see [Proxy.setBackend]). It returns how many connections it cut.
func (p *Proxy) abortAll() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.aborted.Store(true)
	p.cancelDial()
	for c := range p.conns {
		c.cut.Store(true)
		c.abort()
		if c.backend != nil {
			c.backend.Abort()
		}
	}
	return len(p.conns)
}

// setBackend records c's backend connection, so that a drain timeout can
// reach it; past the timeout it resets it at once.
func (p *Proxy) setBackend(c *conn, bc *forward.Conn) {
	p.mu.Lock()
	c.backend = bc
	if p.aborted.Load() {
		bc.Abort()
	}
	p.mu.Unlock()
}
