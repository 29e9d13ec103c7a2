package proxy

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"syscall"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/logging"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// Client mode: a connection accepted from a local client is plain text;
// the proxy dials the remote target and speaks TLS to it as a client,
// then forwards. The local side has no handshake of its own: the remote
// dial and handshake are what handshake_timeout bounds (the dial within
// dial_timeout too), what max_handshakes counts and evicts, and what
// completes before the connection takes a slot under max_connections.
// Bytes the local client sends meanwhile wait in its socket; nothing is
// read from it first, since in many protocols the server speaks first.

// Close reasons of client mode, named from the local client's side: the
// forwarder's client is the TLS side (here the remote server) and its
// backend the plain one (here the local client).
const (
	ReasonServerClosed = "server_closed" // the remote server ended, the local client followed
	ReasonServerError  = "server_error"  // a read or write to the remote server failed
	ReasonLocalClosed  = "client_closed" // the local client ended, the remote server followed
	ReasonLocalError   = "client_error"  // a read or write to the local client failed
)

// probeTimeout bounds the diagnostic handshake of a refusal when
// handshake_timeout is 0 (unsafe_no_handshake_timeout): the default
// handshake_timeout.
const probeTimeout = 10 * time.Second

// errDial marks a failure to connect to the target, as opposed to a
// refused handshake.
type errDial struct{ err error }

func (e *errDial) Error() string { return e.err.Error() }
func (e *errDial) Unwrap() error { return e.err }

// serveClient runs a client-mode connection up to forwarding, which then
// runs on a fresh goroutine (see [Proxy.handle] on why).
func (p *Proxy) serveClient(c *conn, snap *Snapshot, listener string) {
	c.log = p.opts.Logger.With("client", peerName(c.raw))
	var deadline time.Time
	ctx, cancel := context.WithCancel(p.dialCtx)
	if snap.HandshakeTimeout > 0 {
		deadline = c.start.Add(snap.HandshakeTimeout)
		ctx, cancel = context.WithDeadline(p.dialCtx, deadline)
	}
	defer cancel() // the handshake is over by then; the TLS connection no longer watches ctx
	p.mu.Lock()
	c.cancel = cancel
	p.mu.Unlock()
	lc, err := forward.NewConn(c.raw)
	if err != nil {
		c.log.Error("unusable connection", "error", err)
		p.done(c, ReasonLocalError)
		return
	}
	c.Conn = lc
	var d tlsconf.Dialed
	tc, rc, err := p.dialTLS(ctx, c, snap, &d)
	p.endHandshake(c)
	if err == nil && c.evicted.Load() {
		rc.Abort()
		err = net.ErrClosed // evicted as it finished
	}
	if err != nil {
		p.refuseRemote(c, snap, listener, err)
		return
	}
	if !p.acquire(c, deadline) {
		c.abort()
		rc.Abort()
		p.Stats.Refused.Add(1)
		c.log.Warn("handshake refused", "listener", listener, "target", snap.Target, "reason", ReasonConnectionLimit,
			"hint", "max_connections connections are established; raise max_connections or add capacity")
		p.done(c, ReasonConnectionLimit)
		return
	}
	cs := tc.ConnectionState()
	pq := tlsconf.IsPQ(cs.CurveID)
	if pq {
		p.Stats.PQ.Add(1)
	} else {
		p.Stats.Classical.Add(1)
	}
	c.pq.Store(pq)
	c.local.Store(true)
	c.attrs = []slog.Attr{
		slog.String("listener", listener),
		slog.String("target", snap.Target),
		slog.String("server_name", snap.Client.ServerName),
		slog.String("remote", rc.RemoteAddr().String()),
		slog.String("identity", identity(&cs)),
		slog.String("tls_version", tls.VersionName(cs.Version)),
		slog.String("group", cs.CurveID.String()),
		slog.Bool("pq", pq),
		slog.Bool("resumed", cs.DidResume),
		slog.String("cert_alg", serverAlg(&cs, 0)),
		slog.String("issuer_alg", serverAlg(&cs, 1)),
		slog.String("client_cert", presented(&d)),
	}
	go p.forwardClient(c, tc, rc, snap)
}

// dialTLS connects to the target and runs the TLS handshake, both under
// ctx. The remote connection is recorded as c's backend as soon as it
// exists, so that a drain timeout or a panic reaches it; on failure it
// is closed.
func (p *Proxy) dialTLS(ctx context.Context, c *conn, snap *Snapshot, d *tlsconf.Dialed) (*tls.Conn, *forward.Conn, error) {
	dialed := time.Now()
	raw, err := dial(ctx, snap)
	shaking := time.Now()
	// A dial the drain timeout or max_handshakes cancelled says nothing
	// of the target.
	if err == nil || !c.cut.Load() && !c.evicted.Load() {
		p.obs.Dialed(shaking.Sub(dialed), err == nil)
	}
	if err != nil {
		return nil, nil, &errDial{err}
	}
	rc, err := forward.NewConn(raw)
	if err != nil {
		raw.Close()
		return nil, nil, &errDial{err}
	}
	p.setBackend(c, rc)
	tc := tls.Client(rc, snap.Client.ConfigFor(d))
	if err := tc.HandshakeContext(ctx); err != nil {
		rc.Close()
		return nil, nil, err
	}
	cs := tc.ConnectionState()
	p.obs.Handshake(&cs, serverAlg(&cs, 0), time.Since(shaking))
	return tc, rc, nil
}

// refuseRemote ends a connection whose remote dial or handshake failed:
// the local client gets a reset (on TCP; a unix socket can only close),
// never a clean end it could take for an empty answer, and the log says
// why, with a hint.
func (p *Proxy) refuseRemote(c *conn, snap *Snapshot, listener string, err error) {
	c.abort()
	args := []any{"listener", listener, "target", snap.Target, "server_name", snap.Client.ServerName}
	var de *errDial
	closed := ReasonHandshakeRefused
	switch {
	case c.cut.Load():
		closed = ReasonDrainTimeout
		c.log.Info("connection closed", append(args, "close_reason", ReasonDrainTimeout)...)
	case c.evicted.Load():
		closed = ReasonHandshakeEvicted
		p.Stats.Refused.Add(1)
		c.log.Warn("handshake refused", append(args, "reason", ReasonHandshakeEvicted,
			"hint", "more than max_handshakes handshakes were in progress; the oldest was cut")...)
	case errors.As(err, &de):
		closed = ReasonBackendUnreachable
		args = append(args, "error", err.Error())
		if firewalled(err) {
			args = append(args, "hint", "under the packaged units this is most likely their firewall (IPAddressDeny=any, IPAddressAllow=localhost): allow the target's addresses and DNS servers with IPAddressAllow= in a drop-in (README, Client mode under systemd)")
		}
		c.log.Warn("target unreachable", args...)
	default:
		p.Stats.Refused.Add(1)
		// A second handshake may be made to tell the cause: under the
		// same bounds as the first, and ended by a drain timeout too.
		ctx, cancel := context.WithTimeout(p.dialCtx, cmp.Or(snap.HandshakeTimeout, probeTimeout))
		reason, hint := snap.Client.Explain(ctx, err, func(ctx context.Context) (net.Conn, error) { return dial(ctx, snap) })
		cancel()
		p.obs.Refused(reason)
		args = append(args, "reason", reason, "error", logging.Clip(err.Error()))
		args = append(args, refusalAttrs(err)...)
		if hint != "" {
			args = append(args, "hint", hint)
		}
		c.log.Warn("handshake refused", args...)
	}
	p.done(c, closed)
}

// forwardClient moves bytes until the connection ends, then logs its one
// line with the forwarder's result named from the local client's side.
func (p *Proxy) forwardClient(c *conn, tc *tls.Conn, rc *forward.Conn, snap *Snapshot) {
	defer p.recoverConn(c)
	res := forward.Run(tc, rc, c.Conn, snap.Forward, &c.bytes)
	if res.Panic != nil {
		p.logPanic(c, res.Panic, res.Stack)
	}
	in, out, reason := localView(res)
	if c.cut.Load() && (res.Aborted || res.Err != nil) {
		reason = ReasonDrainTimeout
	}
	attrs := append(c.attrs,
		slog.Int64("bytes_in", in),
		slog.Int64("bytes_out", out),
		slog.Duration("duration", time.Since(c.start)),
		slog.String("close_reason", reason),
	)
	if res.Err != nil && reason != ReasonDrainTimeout {
		attrs = append(attrs, slog.String("error", res.Err.Error()))
		// In TLS 1.3 a server judges the client certificate after the
		// client's handshake is done: its refusal is the first thing read.
		if reason == ReasonServerError && out == 0 {
			if r, hint := snap.Client.Classify(res.Err); hint != "" && r != tlsconf.ReasonOther {
				attrs = append(attrs, slog.String("reason", r), slog.String("hint", hint))
			}
		}
	}
	c.log.LogAttrs(context.Background(), slog.LevelInfo, "connection closed", attrs...)
	p.done(c, reason)
}

// localView names a forwarded connection's outcome from the local
// client's side: bytes_in are what it sent, bytes_out what it was sent.
func localView(res forward.Result) (in, out int64, reason string) {
	switch res.Reason {
	case forward.ReasonClientClosed:
		reason = ReasonServerClosed
	case forward.ReasonBackendClosed:
		reason = ReasonLocalClosed
	case forward.ReasonClientError:
		reason = ReasonServerError
	case forward.ReasonBackendError:
		reason = ReasonLocalError
	default:
		reason = res.Reason
	}
	return res.BytesOut, res.BytesIn, reason
}

// serverAlg names the key of the server's certificate (i 0) or of its
// issuer (i 1) in the verified chain; a resumed session carries both.
func serverAlg(cs *tls.ConnectionState, i int) string {
	if len(cs.VerifiedChains) > 0 && len(cs.VerifiedChains[0]) > i {
		return certs.Algorithm(cs.VerifiedChains[0][i].PublicKey)
	}
	if i == 0 && len(cs.PeerCertificates) > 0 {
		return certs.Algorithm(cs.PeerCertificates[0].PublicKey)
	}
	return "unknown"
}

// presented names the client chain's key, or "none" when none was sent
// (the server did not ask, none is configured, or the session resumed).
func presented(d *tlsconf.Dialed) string {
	if d.Chain == nil {
		return "none"
	}
	return d.Chain.Algorithm()
}

// firewalled reports whether a dial failed as systemd's IPAddressDeny=
// makes it fail: packets dropped (a timeout) or, for a datagram such as
// a DNS query, EPERM from the send.
func firewalled(err error) bool {
	var nerr net.Error
	return errors.Is(err, syscall.EPERM) || errors.As(err, &nerr) && nerr.Timeout()
}
