package proxy

import (
	"container/list"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
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
	// client is the client's address, as logged. In server mode log is
	// made from it on first use ([Proxy.connLog]): a connection that goes
	// well logs only its closing line, from attrs, which name the client
	// first, so that line reads as one logged through log would.
	client string
	log    *slog.Logger
	attrs  []slog.Attr // what the handshake settled, for the closing line

	// firstRead is the client's first flight, read by forward.AwaitFirst
	// once it arrived, until the handshake's forward.Conn takes it.
	firstRead forward.First
	// first holds the first bytes the client sent, to classify what a
	// refused client was speaking (tlsconf.ClassifyFirst).
	first  [8]byte
	nfirst int
	// last follows the client's records until shaken, to explain an
	// alert sent in plaintext (tlsconf.ClassifyPlaintextAlert).
	last   lastRecord
	shaken bool // the handshake is over; owned by the goroutine reading c
	// resumed: the handshake resumed a session, and was refused after
	// (by VerifyConnection: an allow rule or CRL), for the refusal's line.
	resumed bool

	shaking *list.Element // in Proxy.shaking while the handshake runs
	evicted atomic.Bool   // cut at MaxHandshakes to make room
	slot    bool          // holds a slot under MaxConnections
	ended   bool          // done has run; owned by the goroutine serving c

	backend *forward.Conn // once dialed; under Proxy.mu
	cut     atomic.Bool   // the drain timeout cut it

	// cancel ends a client-mode connection's remote dial and handshake;
	// under Proxy.mu.
	cancel context.CancelFunc

	// bytes counts what the forwarder moved, as it moves (see
	// [Proxy.Traffic]); pq says whether the key exchange was post-quantum
	// and local that this is client mode (the forwarder's client is the
	// remote server). Both are set before the first byte moves.
	bytes     forward.Counters
	pq, local atomic.Bool
}

func (c *conn) Hello() *tlsconf.Hello { return &c.hello }

// abort resets the client's socket (SO_LINGER 0, as [forward.Conn.Abort]
// does), whether or not its handshake has started, so that whatever is
// blocked on it returns and the client sees a reset, never a clean end.
func (c *conn) abort() {
	if l, ok := c.raw.(interface{ SetLinger(int) error }); ok {
		l.SetLinger(0)
	}
	c.raw.Close()
}

// Read keeps the first bytes the client sent and, during the handshake,
// the start of its last record, then reads as the forwarder's connection
// does.
func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.nfirst < len(c.first) {
		c.nfirst += copy(c.first[c.nfirst:], b[:n])
	}
	if !c.shaken {
		c.last.feed(b[:n])
	}
	return n, err
}

// Close reasons of connections the proxy itself ends.
const (
	ReasonDrainTimeout     = "drain_timeout"
	ReasonHandshakeEvicted = "handshake_evicted" // cut at max_handshakes
	ReasonConnectionLimit  = "connection_limit"  // no slot under max_connections by the handshake deadline
	ReasonPanic            = "panic"
)

// PanicMessage starts the error line logged, with the stack, when a
// connection's goroutine panics; the connection is closed and the
// process goes on, as net/http does (Server.Serve, "http: panic serving").
const PanicMessage = "panic serving connection"

// admit counts a connection just accepted, as a handshake in progress.
// The accept loop calls it, so that handshakes age in the order they
// were accepted, which is the order max_handshakes evicts them in.
func (p *Proxy) admit(raw net.Conn) *conn {
	c := &conn{raw: raw, start: time.Now()}
	p.wg.Add(1)
	p.Stats.Accepted.Add(1)
	p.Stats.Active.Add(1)
	p.obs.Accepted()
	p.track(c, true)
	p.beginHandshake(c)
	return c
}

// serve is the goroutine of an accepted connection. It waits for the
// client's first bytes in a small frame: until they arrive, the
// connection is only its socket and this goroutine parked in the poller,
// on its smallest stack, with no tls.Conn and no logger, so that a flood
// of clients that connect and stall costs little (README, "Limits"). Then
// [Proxy.handle] takes over, on a goroutine an earlier handshake left
// warm if one lingers (warmPool), else on this one.
func (p *Proxy) serve(c *conn, listener string) {
	if shake := p.await(c, listener); shake != nil {
		p.warm.run(shake)
	}
}

// await is [Proxy.serve] up to the handshake, which it returns to run
// (nil when there is none to run: client mode serves the connection
// itself). Its recover covers c only until then: the goroutine may go on
// to run other connections' handshakes, each under its own (shake).
func (p *Proxy) await(c *conn, listener string) func() {
	defer p.recoverConn(c)
	snap := p.snap.Load()
	if snap.Client != nil {
		p.serveClient(c, snap, listener)
		return nil
	}
	if snap.HandshakeTimeout > 0 {
		c.raw.SetDeadline(c.start.Add(snap.HandshakeTimeout))
	}
	var err error
	c.firstRead, err = forward.AwaitFirst(c.raw)
	return func() { p.shake(c, snap, listener, err) }
}

// shake is [Proxy.handle] on a warm goroutine (see warmPool), which
// serves other connections before and after: a panic ends c alone.
func (p *Proxy) shake(c *conn, snap *Snapshot, listener string, awaited error) {
	defer p.recoverConn(c)
	p.handle(c, snap, listener, awaited)
}

// handle runs the handshake and dials the backend; forwarding then runs
// on goroutines of its own (see [forward.Start]) so that this one, whose
// stack the handshake's post-quantum arithmetic grew, exits and frees it:
// idle connections are the many, and their memory is the product's
// (DESIGN.md).
// awaited is how waiting for the client's first bytes ended.
func (p *Proxy) handle(c *conn, snap *Snapshot, listener string, awaited error) {
	raw := c.raw
	tc, cs, ok := p.handshake(c, snap, listener, awaited)
	if !ok {
		return
	}
	raw.SetDeadline(time.Time{})
	pq := tlsconf.IsPQ(cs.CurveID)
	if pq {
		p.Stats.PQ.Add(1)
	} else {
		p.Stats.Classical.Add(1)
	}
	c.pq.Store(pq)
	// Exactly these: c.attrs lives as long as the connection, which is
	// mostly idle; the closing line's own attributes are added at the end.
	c.attrs = []slog.Attr{
		slog.String("client", c.client),
		slog.String("listener", listener),
		slog.String("identity", identity(&cs)),
		slog.String("tls_version", tls.VersionName(cs.Version)),
		slog.String("group", cs.CurveID.String()),
		slog.Bool("pq", pq),
		slog.Bool("resumed", cs.DidResume),
		slog.String("cert_alg", certAlg(&c.hello, &cs)),
	}
	// From here on the client has a finished handshake, so a plain close
	// (even with close_notify) would read as a complete, empty answer:
	// every end that is not the backend's own is a reset (conn.abort).
	dialed := time.Now()
	backend, err := dial(p.dialCtx, snap)
	if err != nil {
		c.abort()
		if c.cut.Load() { // the drain timeout cancelled the dial
			p.opts.Logger.LogAttrs(context.Background(), slog.LevelInfo, "connection closed", append(c.attrs, slog.String("close_reason", ReasonDrainTimeout))...)
			p.done(c, ReasonDrainTimeout)
			return
		}
		p.obs.Dialed(time.Since(dialed), false)
		p.opts.Logger.LogAttrs(context.Background(), slog.LevelWarn, "backend unreachable", append(c.attrs, slog.String("target", snap.Target), slog.String("error", err.Error()))...)
		p.done(c, ReasonBackendUnreachable)
		return
	}
	p.obs.Dialed(time.Since(dialed), true)
	bc, err := forward.NewConn(backend)
	if err != nil {
		backend.Close()
		c.abort()
		p.connLog(c).Error("unusable backend connection", "error", err)
		p.done(c, forward.ReasonBackendError)
		return
	}
	p.setBackend(c, bc)
	if snap.ProxyV2 && !p.sendProxyHeader(c, snap, &cs, bc) {
		return
	}
	// Forwarding runs on goroutines of package forward; this one exits.
	forward.Start(tc, c.Conn, bc, snap.Forward, &c.bytes, func(res forward.Result) { p.forwarded(c, res) })
}

// recoverConn, deferred on each goroutine serving a connection, turns a
// panic into an error line with the stack and ends that connection only,
// with resets: the exchange was cut, and must not look complete to either
// side. c.backend is set, if at all, on this goroutine or before it began.
func (p *Proxy) recoverConn(c *conn) {
	if v := recover(); v != nil {
		p.logPanic(c, v, debug.Stack())
		c.abort()
		if c.backend != nil {
			c.backend.Abort()
		}
		p.done(c, ReasonPanic)
	}
}

func (p *Proxy) logPanic(c *conn, v any, stack []byte) {
	p.opts.Logger.Error(PanicMessage, "client", c.raw.RemoteAddr().String(),
		"close_reason", ReasonPanic, "panic", fmt.Sprint(v), "stack", string(stack))
}

// forwarded logs a forwarded connection's one line once it has ended. It
// runs on the forwarder's last goroutine.
func (p *Proxy) forwarded(c *conn, res forward.Result) {
	defer p.recoverConn(c)
	if res.Panic != nil {
		p.logPanic(c, res.Panic, res.Stack)
	}
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
	p.opts.Logger.LogAttrs(context.Background(), slog.LevelInfo, "connection closed", attrs...)
	p.done(c, reason)
}

// connLog is the logger of server-mode connection c, naming its client,
// made on first use: the lines of a connection that goes well are made
// from c.attrs instead (see conn.client).
func (p *Proxy) connLog(c *conn) *slog.Logger {
	if c.log == nil {
		c.log = p.opts.Logger.With("client", c.client)
	}
	return c.log
}

// done ends a connection's accounting: it frees its slot under the cap
// and tells the observer why the connection closed. It runs once,
// however the connection ended (a panic included).
func (p *Proxy) done(c *conn, reason string) {
	if c.ended {
		return
	}
	c.ended = true
	p.obs.Closed(reason)
	c.raw.Close()
	p.endHandshake(c)
	p.track(c, false)
	p.Stats.Active.Add(-1)
	if c.slot {
		p.release()
	}
	p.wg.Done()
}

func dial(ctx context.Context, s *Snapshot) (net.Conn, error) {
	d := net.Dialer{Timeout: s.DialTimeout}
	if path, ok := strings.CutPrefix(s.Target, "unix:"); ok {
		return d.DialContext(ctx, "unix", path)
	}
	if loopback(s.Target) {
		// A backend on this host cannot vanish without this host's
		// kernel closing or resetting its connections, so TCP keepalive
		// would find nothing there, and it costs four setsockopt(2) per
		// connection. A remote target (client mode) keeps Go's default.
		d.KeepAlive = -1
	}
	return d.DialContext(ctx, "tcp", s.Target)
}

// loopback reports whether the host of a host:port target is a loopback
// address or localhost (RFC 6761, Section 6.3).
func loopback(target string) bool {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// certAlg names the served chain's key. A resumed handshake sends no
// certificate (crypto/tls skips GetCertificate on a TLS 1.3 resumption,
// and on TLS 1.2 the chain it picks first is not sent), so it is the
// algorithm recorded in the session ticket when the session began;
// "unknown", never a guess, if neither is there.
func certAlg(h *tlsconf.Hello, cs *tls.ConnectionState) string {
	switch {
	case cs.DidResume && h.TicketAlg != "":
		return h.TicketAlg
	case !cs.DidResume && h.Chain != nil:
		return h.Chain.Algorithm()
	}
	return "unknown"
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
