package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/logging"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// panicSNI makes the handshake hook panic in TestPanicEndsOnlyItsConnection.
const panicSNI = "panic.invalid"

// A panic while serving one connection ends that connection only: it is
// logged with its stack, other connections go on, the accounting is
// right, and the harness counts the panic line as a failure.
func TestPanicEndsOnlyItsConnection(t *testing.T) {
	h := start(t, baseConfig(), nil)
	h.log.expect = 1
	before, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	echo(t, before)

	// A snapshot whose ClientHello hook panics for one name: the panic
	// happens inside crypto/tls, on the handshake goroutine.
	snap := *h.proxy.snap.Load()
	tlsSrv := *snap.TLS
	tlsSrv.TLS = snap.TLS.TLS.Clone()
	record := tlsSrv.TLS.GetConfigForClient
	tlsSrv.TLS.GetConfigForClient = func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
		if chi.ServerName == panicSNI {
			panic("hook panics on purpose")
		}
		return record(chi)
	}
	snap.TLS = &tlsSrv
	h.proxy.Swap(&snap)

	bad := clientConfig(t)
	bad.ServerName = panicSNI
	if c, err := tls.Dial("tcp", h.addr, bad); err == nil {
		c.Close()
		t.Fatal("the panicking handshake succeeded")
	}
	rec := h.log.wait(t, PanicMessage)
	if rec["panic"] != "hook panics on purpose" || rec["level"] != "ERROR" || !strings.Contains(rec["stack"], "proxy.(*Proxy).handle") {
		t.Errorf("panic record: %v", rec)
	}

	echo(t, before) // the connection that was open is untouched
	after, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatalf("a new connection after the panic: %v", err)
	}
	echo(t, after)
	after.Close()
	h.log.waitN(t, "connection closed", 1)
	// The accounting ends just after the closing line.
	for deadline := time.Now().Add(5 * time.Second); h.proxy.Stats.Active.Load() != 1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if n := h.proxy.Stats.Active.Load(); n != 1 {
		t.Errorf("%d connections counted active, want 1", n)
	}
	if n := h.proxy.Handshakes(); n != 0 {
		t.Errorf("%d handshakes counted in progress, want 0", n)
	}

	// The harness fails a test that logs a panic it did not provoke.
	h.log.expect = 0
	var ft fakeT
	h.log.checkPanics(&ft)
	h.log.expect = 1
	if !ft.failed || !strings.Contains(ft.msg, "hook panics on purpose") {
		t.Errorf("checkPanics did not fail the test: %q", ft.msg)
	}
}

// fakeT records whether a check failed.
type fakeT struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.failed = true
	f.msg += strings.TrimSpace(strings.ReplaceAll(format, "%s", "")) + " " + args[0].(string)
}

// At max_handshakes the oldest handshake in progress is cut, at once, so
// that a real client completes its handshake although stalled clients
// hold every place.
func TestMaxHandshakesEvictsTheOldest(t *testing.T) {
	cfg := baseConfig()
	cfg.HandshakeTimeout = time.Minute // only eviction may cut them here
	cfg.MaxHandshakes = 2
	cfg.MaxConnections = 1 // stalled handshakes must not count against it
	h := start(t, cfg, nil)
	var stalled []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stalled = append(stalled, c)
	}
	for h.proxy.Handshakes() < 2 {
		time.Sleep(time.Millisecond)
	}
	begin := time.Now()
	c, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatalf("client behind stalled handshakes: %v", err)
	}
	defer c.Close()
	echo(t, c)
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("handshake took %v", d)
	}
	// The first stalled client was cut: it reads the end of its socket.
	stalled[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := stalled[0].Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) || err == nil {
		t.Errorf("oldest stalled client still open: %v", err)
	}
	if rec := h.log.wait(t, "handshake refused"); rec["reason"] != ReasonHandshakeEvicted {
		t.Errorf("evicted handshake logged %v", rec)
	}
}

// Clients that do not speak TLS 1.2 or later are refused at once, not at
// the handshake deadline, each with a reason of its own.
func TestHostileHellosRefusedQuickly(t *testing.T) {
	cfg := baseConfig()
	cfg.HandshakeTimeout = time.Minute // a refusal that waited for it would fail the test
	h := start(t, cfg, nil)
	for i, tc := range []struct {
		name  string
		bytes string
		close bool // the client ends its side after sending
		want  string
	}{
		{"plain HTTP", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false, tlsconf.ReasonNotTLS},
		{"random bytes", "\x00\x8f\x3a\x11\xfe\x02\x99\x41\x07", false, tlsconf.ReasonNotTLS},
		{"SSLv2 hello", "\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10\x01\x00\x80\x02\x00\x80\x03\x00\x80\x04\x00\x80\x06\x00\x40\x07\x00\xc0\x00\x00\x04\x00\x00\xff\x31\x32\x33\x34\x35\x36\x37\x38\x39\x30\x31\x32\x33\x34\x35\x36", false, tlsconf.ReasonSSLv2Hello},
		{"truncated hello", "\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03\x01\x02\x03", true, tlsconf.ReasonMalformedHello},
		{"oversized record", "\x16\x03\x01\xff\xff", false, tlsconf.ReasonMalformedHello},
		{"oversized hello", "\x16\x03\x01\x00\x04\x01\xff\xff\xff", false, tlsconf.ReasonMalformedHello},
		{"garbled hello", "\x16\x03\x01\x00\x08\x01\x00\x00\x04\xde\xad\xbe\xef", false, tlsconf.ReasonMalformedHello},
	} {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, tc.bytes)
		if tc.close {
			c.(*net.TCPConn).CloseWrite()
		}
		// The proxy ends the connection: the client reads an alert or EOF.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadAll(c)
		c.Close()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: still open after 5 s", tc.name)
		}
		if rec := h.log.waitN(t, "handshake refused", i+1)[i]; rec["reason"] != tc.want {
			t.Errorf("%s: reason %q, want %q (%v)", tc.name, rec["reason"], tc.want, rec)
		}
	}
	// A TLS 1.0 client (Go's, told to offer only 1.0) is told why.
	old := clientConfig(t)
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS10
	if c, err := tls.Dial("tcp", h.addr, old); err == nil {
		c.Close()
		t.Fatal("TLS 1.0 client served")
	} else if !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.0 client saw %v, want a protocol_version alert", err)
	}
	if rec := h.log.waitN(t, "handshake refused", 8)[7]; rec["reason"] != tlsconf.ReasonProtocolVersion {
		t.Errorf("TLS 1.0: %v", rec)
	}
}

// Handshakes started while there was room may finish when the last slot
// under max_connections is gone: the late one waits for a slot until its
// handshake deadline, then is closed with its reason.
func TestHandshakeDoneAtTheCapWaitsThenCloses(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxConnections = 1
	cfg.HandshakeTimeout = time.Second
	h := start(t, cfg, nil)
	var raws []net.Conn
	for range 2 { // both accepted while no connection is established
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		raws = append(raws, c)
	}
	for h.proxy.Handshakes() < 2 {
		time.Sleep(time.Millisecond)
	}
	first := tls.Client(raws[0], clientConfig(t))
	echo(t, first) // takes the only slot
	late := tls.Client(raws[1], clientConfig(t))
	late.SetDeadline(time.Now().Add(5 * time.Second))
	if err := late.Handshake(); err != nil {
		t.Fatalf("late handshake: %v", err)
	}
	if _, err := late.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("late connection: read %v, want it closed at its handshake deadline", err)
	}
	if rec := h.log.wait(t, "handshake refused"); rec["reason"] != ReasonConnectionLimit {
		t.Errorf("late connection logged %v", rec)
	}
	first.Close()
	h.log.wait(t, "connection closed")
	next, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	echo(t, next)
}

// A client's SNI name reaches the proxy's real log formats escaped: one
// line per record, no control character, whatever the name holds.
func TestHostileSNIIsEscapedInLogs(t *testing.T) {
	h := start(t, baseConfig(), nil)
	const sni = "evil.example\nlevel=ERROR msg=forged\x1b[2J\r"
	for _, format := range []string{"text", "json"} {
		var out lockedBuffer
		p := New(Options{Logger: logging.New(&out, format, new(slog.LevelVar))}, h.proxy.snap.Load())
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go p.Serve(ln, "test")
		cfg := clientConfig(t)
		cfg.ServerName = sni
		if c, err := tls.Dial("tcp", ln.Addr().String(), cfg); err == nil {
			c.Close() // the name does not verify, so the client refuses
		}
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p.Shutdown(ctx)
		cancel()
		got := out.String()
		if strings.Count(got, "\n") != 1 || strings.ContainsAny(strings.TrimSuffix(got, "\n"), "\n\r\x1b") {
			t.Errorf("%s: the SNI name reached the log unescaped:\n%s", format, got)
		}
		// Both formats show the name Go-quoted; JSON encodes that string.
		logged := ""
		if format == "json" {
			var m map[string]any
			json.Unmarshal([]byte(got), &m)
			logged, _ = m["sni"].(string)
		} else if _, v, ok := strings.Cut(got, " sni="); ok {
			logged, _, _ = strings.Cut(v, " pq_offered=")
		}
		if logged != strconv.Quote(sni) {
			t.Errorf("%s: sni logged as %s, want %s", format, logged, strconv.Quote(sni))
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
