package admin

import (
	"net"
	"sync"
)

// limiter accepts at most cap(sem) connections at a time: at the
// cap, Accept waits for one to close, and clients wait in the kernel's
// backlog meanwhile (as golang.org/x/net/netutil.LimitListener, which is
// not worth a module for these lines).
type limiter struct {
	net.Listener
	sem    chan struct{}
	closed chan struct{}
	once   sync.Once
}

// limitListener returns ln limited to n connections at a time.
func limitListener(ln net.Listener, n int) net.Listener {
	return &limiter{Listener: ln, sem: make(chan struct{}, n), closed: make(chan struct{})}
}

func (l *limiter) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

// Close also wakes an Accept waiting for a free slot.
func (l *limiter) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitedConn frees its slot when first closed.
type limitedConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
