package proxy

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/logging"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// handshake runs the TLS handshake under the snapshot's deadline (set
// by [Proxy.serve]) and takes a slot under the connection cap; when
// either fails it logs why, ends the connection and reports false.
func (p *Proxy) handshake(c *conn, snap *Snapshot, listener string, herr error) (*tls.Conn, tls.ConnectionState, bool) {
	raw := c.raw
	var deadline time.Time
	if snap.HandshakeTimeout > 0 {
		deadline = c.start.Add(snap.HandshakeTimeout)
	}
	c.client = raw.RemoteAddr().String()
	// The TLS policy's debug lines name the client too; below debug it
	// has no logger, and nothing is built for them.
	if p.opts.Logger.Enabled(context.Background(), slog.LevelDebug) {
		c.hello.Log = p.connLog(c)
	}
	if herr != nil { // nothing arrived: no TLS state to build
		p.refuse(c, snap, listener, herr)
		return nil, tls.ConnectionState{}, false
	}
	fc, err := forward.NewConnFirst(raw, &c.firstRead)
	if err != nil {
		p.connLog(c).Error("unusable connection", "error", err)
		p.done(c, forward.ReasonClientError)
		return nil, tls.ConnectionState{}, false
	}
	c.Conn = fc
	// The handshake is timed from the client's first bytes: a client
	// that connects and waits says nothing of how long handshakes take.
	began := time.Now()
	tc := tls.Server(c, snap.TLS.TLS)
	herr = tc.Handshake()
	c.shaken = true
	p.endHandshake(c)
	if herr == nil && c.evicted.Load() {
		herr = net.ErrClosed // evicted as it finished: its socket is closed
	}
	if herr != nil {
		// A client refused before crypto/tls read its whole first
		// flight (plain HTTP, say) left bytes read ahead in a pooled
		// buffer that nothing else would give back.
		fc.DropUnread()
		c.resumed = tc.ConnectionState().DidResume
		p.refuse(c, snap, listener, herr)
		return nil, tls.ConnectionState{}, false
	}
	cs := tc.ConnectionState()
	p.obs.Handshake(&cs, certAlg(&c.hello, &cs), time.Since(began))
	tlsconf.DebugResumption(&c.hello, tc)
	if !p.acquire(c, deadline) {
		c.abort() // the handshake finished: a close would look like a clean end
		p.Stats.Refused.Add(1)
		p.connLog(c).Warn("handshake refused", "listener", listener, "reason", ReasonConnectionLimit,
			"hint", "max_connections connections are established; raise max_connections or add capacity")
		p.done(c, ReasonConnectionLimit)
		return nil, tls.ConnectionState{}, false
	}
	return tc, cs, true
}

// refuse ends a connection whose handshake failed and logs why. The
// socket closes first, so that the client sees the end at the deadline
// even when the log's reader lags behind.
func (p *Proxy) refuse(c *conn, snap *Snapshot, listener string, err error) {
	c.raw.Close()
	p.Stats.Refused.Add(1)
	reason, hint := snap.TLS.ClassifyFirst(err, &c.hello, c.first[:c.nfirst])
	r, h, alert, plain := tlsconf.ClassifyPlaintextAlert(err, c.last.bytes())
	if plain {
		reason, hint = r, h
	}
	closed := ReasonHandshakeRefused
	switch {
	case c.cut.Load():
		reason, hint = ReasonDrainTimeout, "" // cut by the drain timeout, not refused
		closed = reason
	case c.evicted.Load():
		reason, hint = ReasonHandshakeEvicted, "more than max_handshakes handshakes were in progress; the oldest was cut"
		closed = reason
	default:
		p.obs.Refused(reason)
	}
	args := []any{"listener", listener, "reason", reason, "error", logging.Clip(err.Error())}
	if c.hello.Seen {
		args = append(args, "sni", logging.Clip(c.hello.ServerName), "pq_offered", c.hello.PQOffered)
	}
	if plain {
		args = append(args, "alert", alert)
	}
	if c.resumed {
		args = append(args, "resumed", true)
	}
	args = append(args, refusalAttrs(err)...)
	if hint != "" {
		args = append(args, "hint", hint)
	}
	p.connLog(c).Warn("handshake refused", args...)
	p.done(c, closed)
}

// refusalAttrs details what an allow rule or CRL refused, clipped: the
// values come from the peer's certificate.
func refusalAttrs(err error) []any {
	attrs := tlsconf.RefusalAttrs(err)
	for i, a := range attrs {
		if v, ok := a.(string); ok {
			attrs[i] = logging.Clip(v)
		}
	}
	return attrs
}
