package proxy

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// conn is the connection under tls.Server: the forwarder's wrapper plus
// what the TLS policy learnt of the ClientHello.
type conn struct {
	*forward.Conn
	raw   net.Conn
	hello tlsconf.Hello
	start time.Time
	log   *slog.Logger
	attrs []slog.Attr // what the handshake settled, for the closing line

	backend *forward.Conn // once dialed; under Proxy.mu
	cut     atomic.Bool   // the drain timeout cut it
}

func (c *conn) Hello() *tlsconf.Hello { return &c.hello }

// ReasonDrainTimeout is the close reason of connections closed at shutdown.
const ReasonDrainTimeout = "drain_timeout"

// handle runs the handshake and dials the backend; forwarding then runs
// on a fresh goroutine (see [Proxy.forward]) so that this one, whose stack
// the handshake's post-quantum arithmetic grew, exits and frees it: idle
// connections are the many, and their memory is the product's (DESIGN.md).
func (p *Proxy) handle(raw net.Conn, listener string) {
	start := time.Now()
	snap := p.snap.Load()
	p.Stats.Accepted.Add(1)
	p.Stats.Active.Add(1)
	c := &conn{raw: raw, start: start, log: p.opts.Logger.With("client", raw.RemoteAddr().String())}
	fc, err := forward.NewConn(raw)
	if err != nil {
		c.log.Error("unusable connection", "error", err)
		p.done(c)
		return
	}
	c.Conn = fc
	p.track(c, true)

	tc := tls.Server(c, snap.TLS.TLS)
	if snap.HandshakeTimeout > 0 {
		raw.SetDeadline(start.Add(snap.HandshakeTimeout))
	}
	if err := tc.Handshake(); err != nil {
		p.Stats.Refused.Add(1)
		reason, hint := snap.TLS.Classify(err, &c.hello)
		if c.cut.Load() {
			reason, hint = ReasonDrainTimeout, "" // cut by the drain timeout, not refused
		}
		args := []any{"listener", listener, "reason", reason, "error", err.Error()}
		if c.hello.Seen {
			args = append(args, "sni", c.hello.ServerName, "pq_offered", c.hello.PQOffered)
		}
		if hint != "" {
			args = append(args, "hint", hint)
		}
		c.log.Warn("handshake refused", args...)
		p.done(c)
		return
	}
	raw.SetDeadline(time.Time{})
	cs := tc.ConnectionState()
	pq := tlsconf.IsPQ(cs.CurveID)
	if pq {
		p.Stats.PQ.Add(1)
	}
	c.attrs = []slog.Attr{
		slog.String("listener", listener),
		slog.String("identity", identity(&cs)),
		slog.String("tls_version", tls.VersionName(cs.Version)),
		slog.String("group", cs.CurveID.String()),
		slog.Bool("pq", pq),
		slog.Bool("resumed", cs.DidResume),
		slog.String("cert_alg", certAlg(&c.hello, &cs)),
	}
	backend, err := dial(p.dialCtx, snap)
	if err != nil {
		tc.Close()
		c.log.LogAttrs(context.Background(), slog.LevelWarn, "backend unreachable", append(c.attrs, slog.String("target", snap.Target), slog.String("error", err.Error()))...)
		p.done(c)
		return
	}
	bc, err := forward.NewConn(backend)
	if err != nil {
		backend.Close()
		tc.Close()
		c.log.Error("unusable backend connection", "error", err)
		p.done(c)
		return
	}
	p.setBackend(c, bc)
	go p.forward(c, tc, bc, snap.Forward)
}

// forward moves bytes until the connection ends, then logs its one line.
func (p *Proxy) forward(c *conn, tc *tls.Conn, bc *forward.Conn, opts forward.Options) {
	res := forward.Run(tc, c.Conn, bc, opts)
	reason := res.Reason
	if c.cut.Load() && (res.Aborted || res.Err != nil) {
		reason = ReasonDrainTimeout
	}
	attrs := append(c.attrs,
		slog.Int64("bytes_in", res.BytesIn),
		slog.Int64("bytes_out", res.BytesOut),
		slog.Duration("duration", time.Since(c.start)),
		slog.String("close_reason", reason),
	)
	if res.Err != nil && reason != ReasonDrainTimeout {
		attrs = append(attrs, slog.String("error", res.Err.Error()))
	}
	c.log.LogAttrs(context.Background(), slog.LevelInfo, "connection closed", attrs...)
	p.done(c)
}

// done ends a connection's accounting: it frees its slot under the cap.
func (p *Proxy) done(c *conn) {
	c.raw.Close()
	p.track(c, false)
	p.Stats.Active.Add(-1)
	p.release()
	p.wg.Done()
}

func dial(ctx context.Context, s *Snapshot) (net.Conn, error) {
	d := net.Dialer{Timeout: s.DialTimeout}
	if path, ok := strings.CutPrefix(s.Target, "unix:"); ok {
		return d.DialContext(ctx, "unix", path)
	}
	return d.DialContext(ctx, "tcp", s.Target)
}

// certAlg names the served chain's key. A resumed handshake sends no
// certificate and crypto/tls does not call GetCertificate for it, so
// there is nothing to name: "resumed", never a guess.
func certAlg(h *tlsconf.Hello, cs *tls.ConnectionState) string {
	if h.Chain == nil || cs.DidResume {
		return "resumed"
	}
	return h.Chain.Algorithm()
}

// identity names the client certificate's subject, or "" without one.
func identity(cs *tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	leaf := cs.PeerCertificates[0]
	if leaf.Subject.CommonName != "" {
		return leaf.Subject.CommonName
	}
	return leaf.Subject.String()
}
