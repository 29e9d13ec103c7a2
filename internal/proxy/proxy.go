// Package proxy accepts TLS connections, finishes each handshake under a
// deadline, dials the backend and hands both to package forward. It reads
// no files and no flags: it is given an immutable [Snapshot] behind an
// atomic pointer, and each connection keeps the snapshot it started with.
package proxy

import (
	"container/list"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// Snapshot is everything a connection needs, fixed for its lifetime.
type Snapshot struct {
	TLS *tlsconf.Server
	// Client, when set, makes this a client-mode snapshot (TLS is then
	// nil): connections are plain text, and Target is the remote TLS
	// server they are carried to (see [Proxy.serveClient]).
	Client *tlsconf.Client
	// Target is "host:port" or "unix:/path", resolved for every connection.
	Target           string
	HandshakeTimeout time.Duration // zero means no limit
	DialTimeout      time.Duration // zero means the system's
	Forward          forward.Options
	// ProxyV2 sends each backend connection a PROXY protocol version 2
	// header first (see sendProxyHeader). False sends none.
	ProxyV2 bool
}

// Options configure a [Proxy].
type Options struct {
	// Logger receives one line per connection. It must not be nil.
	Logger *slog.Logger
	// MaxConnections caps established connections (handshake done). At
	// the cap the proxy stops accepting, so further clients wait in the
	// kernel's backlog instead of being accepted and dropped; a handshake
	// that finishes while every slot is taken waits for one until its
	// handshake deadline, then is closed (reason connection_limit).
	// Handshakes in progress do not count. Zero means no cap.
	MaxConnections int
	// MaxHandshakes caps handshakes in progress, apart from established
	// connections, so that clients that connect and stall cannot crowd
	// out the rest. At the cap the oldest handshake in progress is cut
	// (reason handshake_evicted): a newcomer always gets its turn, and a
	// stalling client's socket is reclaimed before its deadline. Zero
	// means no cap.
	MaxHandshakes int
	// Observer is told how each connection goes (for metrics). Nil means
	// no one.
	Observer Observer
}

// Stats are running totals, safe to read at any time. PQ and Classical
// count the connections served, by whether their key exchange was post-
// quantum; Refused those whose handshake failed or found no slot.
type Stats struct {
	Accepted, PQ, Classical, Refused, Active atomic.Int64
}

// Proxy serves listeners with the current snapshot.
type Proxy struct {
	opts  Options
	snap  atomic.Pointer[Snapshot]
	sem   chan struct{}
	wg    sync.WaitGroup
	Stats Stats

	obs Observer // never nil

	mu      sync.Mutex
	conns   map[*conn]struct{}
	closed  Traffic     // bytes of connections no longer in conns; under mu
	shaking list.List   // handshakes in progress, oldest first; under mu
	aborted atomic.Bool // set under mu, at the drain timeout

	// dialCtx ends at the drain timeout, so that no dial outlives it.
	dialCtx    context.Context
	cancelDial context.CancelFunc

	serving atomic.Int32 // accept loops running
	failing atomic.Int32 // accept loops in persistent accept errors

	stop     chan struct{} // closed by StopAccepting
	stopOnce sync.Once

	warm *warmPool // goroutines that run handshakes on grown stacks
}

// New returns a proxy that serves s until [Proxy.Swap] replaces it.
func New(opts Options, s *Snapshot) *Proxy {
	p := &Proxy{opts: opts, obs: opts.Observer, conns: map[*conn]struct{}{}, stop: make(chan struct{}), warm: newWarmPool()}
	if p.obs == nil {
		p.obs = nobody{}
	}
	p.dialCtx, p.cancelDial = context.WithCancel(context.Background())
	if opts.MaxConnections > 0 {
		p.sem = make(chan struct{}, opts.MaxConnections)
	}
	p.snap.Store(s)
	return p
}

// Swap makes s the snapshot for new connections; open ones keep theirs.
func (p *Proxy) Swap(s *Snapshot) { p.snap.Store(s) }

// Accept-error backoff, as net/http.Server does: from 5 ms, doubling, to 1 s.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// Serve accepts on ln until ln is closed, then returns nil. name is the
// listener's name for logs (a systemd FileDescriptorName or the address).
func (p *Proxy) Serve(ln net.Listener, name string) error {
	p.serving.Add(1)
	defer p.serving.Add(-1)
	var backoff time.Duration
	for {
		if !p.waitRoom() {
			return nil // at the cap when the stop came
		}
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if backoff == maxBackoff {
				p.failing.Add(1)
			}
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			p.opts.Logger.Warn("accept failed; retrying", "listener", name, "error", err, "retry_in", backoff)
			time.Sleep(backoff)
			if backoff == maxBackoff {
				p.failing.Add(-1)
			}
			continue
		}
		backoff = 0
		go p.serve(p.admit(c), name)
	}
}

// ServeConn serves c, accepted from listener name by someone else, as
// [Proxy.Serve] serves what it accepts. The daemon accepts while it waits
// for a valid configuration, and hands over what it holds when one loads.
func (p *Proxy) ServeConn(c net.Conn, name string) { go p.serve(p.admit(c), name) }

// Healthy reports whether all n accept loops run and none is stuck in
// accept errors at the longest backoff (EMFILE, for instance).
func (p *Proxy) Healthy(n int) bool {
	return int(p.serving.Load()) == n && p.failing.Load() == 0
}

// waitRoom waits until an established connection could start, without
// taking its slot: the handshake takes it when it finishes. It reports
// false when accepting stopped meanwhile.
func (p *Proxy) waitRoom() bool {
	if p.sem == nil {
		return true
	}
	select {
	case p.sem <- struct{}{}:
		<-p.sem
		return true
	case <-p.stop:
		return false
	}
}

// acquire takes a slot under the connection cap for an established
// connection, waiting for one until deadline (zero: no limit) or until
// accepting stops.
func (p *Proxy) acquire(c *conn, deadline time.Time) bool {
	if p.sem == nil {
		return true
	}
	select {
	case p.sem <- struct{}{}:
		c.slot = true
		return true
	default:
	}
	var expired <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expired = t.C
	}
	select {
	case p.sem <- struct{}{}:
		c.slot = true
		return true
	case <-expired:
	case <-p.stop:
	}
	return false
}

func (p *Proxy) release() {
	if p.sem != nil {
		<-p.sem
	}
}

// beginHandshake counts c among the handshakes in progress; at
// MaxHandshakes it first cuts the oldest one, whose goroutine then sees
// its socket closed and reports handshake_evicted.
func (p *Proxy) beginHandshake(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if limit := p.opts.MaxHandshakes; limit > 0 && p.shaking.Len() >= limit {
		old := p.shaking.Remove(p.shaking.Front()).(*conn)
		old.shaking = nil
		old.evicted.Store(true)
		if old.cancel != nil {
			// Client mode: the local client's connection was accepted
			// and must not look answered; the remote dial and
			// handshake end with it.
			old.abort()
			old.cancel()
		} else {
			old.raw.Close()
		}
	}
	c.shaking = p.shaking.PushBack(c)
}

// endHandshake stops counting c among the handshakes in progress.
func (p *Proxy) endHandshake(c *conn) {
	p.mu.Lock()
	if c.shaking != nil {
		p.shaking.Remove(c.shaking)
		c.shaking = nil
	}
	p.mu.Unlock()
}

// Handshakes is the number of handshakes in progress.
func (p *Proxy) Handshakes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.shaking.Len()
}

// track adds or removes c from the connections a drain timeout cuts; one
// accepted just as the timeout ran out is cut at once.
func (p *Proxy) track(c *conn, add bool) {
	p.mu.Lock()
	if add {
		p.conns[c] = struct{}{}
		if p.aborted.Load() {
			c.cut.Store(true)
			c.abort()
		}
	} else {
		delete(p.conns, c)
		c.addTraffic(&p.closed)
	}
	p.mu.Unlock()
}

// StopAccepting makes every [Proxy.Serve] return, even one waiting for a
// free slot under the connection cap; the caller closes the listeners.
func (p *Proxy) StopAccepting() {
	p.stopOnce.Do(func() { close(p.stop) })
}
