package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
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
}

func (c *conn) Hello() *tlsconf.Hello { return &c.hello }

// ReasonDrainTimeout is the close reason of connections closed at shutdown.
const ReasonDrainTimeout = "drain_timeout"

func (p *Proxy) handle(raw net.Conn, listener string) {
	defer p.wg.Done()
	defer p.release()
	start := time.Now()
	snap := p.snap.Load()
	p.Stats.Accepted.Add(1)
	p.Stats.Active.Add(1)
	defer p.Stats.Active.Add(-1)
	log := p.opts.Logger.With("client", raw.RemoteAddr().String())

	fc, err := forward.NewConn(raw)
	if err != nil {
		raw.Close()
		log.Error("unusable connection", "error", err)
		return
	}
	c := &conn{Conn: fc, raw: raw}
	p.track(c, true)
	defer p.track(c, false)

	tc := tls.Server(c, snap.TLS.TLS)
	if snap.HandshakeTimeout > 0 {
		raw.SetDeadline(start.Add(snap.HandshakeTimeout))
	}
	if err := tc.Handshake(); err != nil {
		raw.Close()
		p.Stats.Refused.Add(1)
		reason, hint := snap.TLS.Classify(err, &c.hello)
		args := []any{"listener", listener, "reason", reason, "error", err.Error()}
		if c.hello.Seen {
			args = append(args, "sni", c.hello.ServerName, "pq_offered", c.hello.PQOffered)
		}
		if hint != "" {
			args = append(args, "hint", hint)
		}
		log.Warn("handshake refused", args...)
		return
	}
	raw.SetDeadline(time.Time{})
	cs := tc.ConnectionState()
	pq := tlsconf.IsPQ(cs.CurveID)
	if pq {
		p.Stats.PQ.Add(1)
	}
	attrs := []slog.Attr{
		slog.String("listener", listener),
		slog.String("identity", identity(&cs)),
		slog.String("tls_version", tls.VersionName(cs.Version)),
		slog.String("group", cs.CurveID.String()),
		slog.Bool("pq", pq),
		slog.String("cert_alg", c.hello.Chain.Algorithm()),
	}

	backend, err := dial(snap)
	if err != nil {
		tc.Close()
		log.LogAttrs(context.Background(), slog.LevelWarn, "backend unreachable", append(attrs, slog.String("target", snap.Target), slog.String("error", err.Error()))...)
		return
	}
	bc, err := forward.NewConn(backend)
	if err != nil {
		backend.Close()
		tc.Close()
		log.Error("unusable backend connection", "error", err)
		return
	}
	res := forward.Run(tc, fc, bc, snap.Forward)
	reason := res.Reason
	if p.aborted.Load() && res.Err != nil && errors.Is(res.Err, net.ErrClosed) {
		reason = ReasonDrainTimeout
	}
	attrs = append(attrs,
		slog.Int64("bytes_in", res.BytesIn),
		slog.Int64("bytes_out", res.BytesOut),
		slog.Duration("duration", time.Since(start)),
		slog.String("close_reason", reason),
	)
	if res.Err != nil && reason != ReasonDrainTimeout {
		attrs = append(attrs, slog.String("error", res.Err.Error()))
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, "connection closed", attrs...)
}

func dial(s *Snapshot) (net.Conn, error) {
	d := net.Dialer{Timeout: s.DialTimeout}
	if path, ok := strings.CutPrefix(s.Target, "unix:"); ok {
		return d.Dial("unix", path)
	}
	return d.Dial("tcp", s.Target)
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
