package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

var (
	pkiOnce sync.Once
	pkiDir  string
)

// pki returns a development PKI shared by the tests of this package.
func pki(t testing.TB) string {
	pkiOnce.Do(func() {
		dir, err := os.MkdirTemp("", "qsp-pki")
		if err != nil {
			panic(err)
		}
		if _, err := certs.WriteDevPKI(dir, false); err != nil {
			panic(err)
		}
		pkiDir = dir
	})
	return pkiDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pkiDir != "" {
		os.RemoveAll(pkiDir)
	}
	os.Exit(code)
}

// records collects log records so that tests can assert what was logged.
// A recovered panic is a bug all the same: [records.checkPanics] fails
// the test for every panic line beyond those a test expects.
type records struct {
	level  slog.LevelVar // what is recorded: debug and up, unless a benchmark says
	mu     sync.Mutex
	recs   []map[string]string
	ch     chan struct{}
	panics int // PanicMessage records
	expect int // panics the test provokes on purpose
}

func (r *records) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level.Level() }
func (r *records) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{r, as}
}
func (r *records) WithGroup(string) slog.Handler { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	return r.add(rec, nil)
}

func (r *records) add(rec slog.Record, pre []slog.Attr) error {
	m := map[string]string{"msg": rec.Message, "level": rec.Level.String()}
	for _, a := range pre {
		m[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	r.mu.Lock()
	r.recs = append(r.recs, m)
	if rec.Message == PanicMessage {
		r.panics++
	}
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
	return nil
}

type withAttrs struct {
	r  *records
	as []slog.Attr
}

func (w *withAttrs) Enabled(ctx context.Context, l slog.Level) bool { return w.r.Enabled(ctx, l) }
func (w *withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{w.r, append(append([]slog.Attr{}, w.as...), as...)}
}
func (w *withAttrs) WithGroup(string) slog.Handler { return w }
func (w *withAttrs) Handle(_ context.Context, rec slog.Record) error {
	return w.r.add(rec, w.as)
}

// checkPanics fails t for each recovered panic the test did not provoke.
func (r *records) checkPanics(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.panics <= r.expect {
		return
	}
	for _, m := range r.recs {
		if m["msg"] == PanicMessage {
			t.Errorf("recovered panic on a connection (a bug even though the process survived): %s\n%s", m["panic"], m["stack"])
		}
	}
}

// wait returns the first record with message msg, waiting up to 10 s.
func (r *records) wait(t *testing.T, msg string) map[string]string {
	t.Helper()
	return r.waitN(t, msg, 1)[0]
}

// all returns the records with message msg, in order.
func (r *records) all(msg string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, m := range r.recs {
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// waitN waits up to 10 s for n records with message msg and returns them.
func (r *records) waitN(t *testing.T, msg string, n int) []map[string]string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := r.all(msg); len(got) >= n {
			return got
		}
		select {
		case <-r.ch:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("fewer than %d %q log records; have %v", n, msg, r.recs)
		}
	}
}

type harness struct {
	addr    string
	log     *records
	proxy   *Proxy
	backend net.Listener
	seen    map[string]int // log records already read, by message (see next)
}

// start runs a proxy for cfg (certificates from the dev PKI unless set)
// in front of an echo backend, or of handler when it is not nil.
func start(t testing.TB, cfg *config.Config, handler func(net.Conn)) *harness {
	t.Helper()
	return startObserved(t, cfg, handler, nil)
}

// startObserved is start with obs as the proxy's Observer.
func startObserved(t testing.TB, cfg *config.Config, handler func(net.Conn), obs Observer) *harness {
	t.Helper()
	if handler == nil {
		handler = func(c net.Conn) { io.Copy(c, c); c.Close() }
	}
	// The backend listens on loopback TCP, or on the unix socket that
	// cfg.Target names.
	network, address := "tcp", "127.0.0.1:0"
	if path, ok := strings.CutPrefix(cfg.Target, "unix:"); ok {
		network, address = "unix", path
	}
	bl, err := net.Listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	target := bl.Addr().String()
	if network == "unix" {
		target = cfg.Target
	}
	go func() {
		for {
			c, err := bl.Accept()
			if err != nil {
				return
			}
			go handler(c)
		}
	}()
	rec := &records{ch: make(chan struct{}, 1)}
	rec.level.Set(slog.LevelDebug)
	p := New(Options{Logger: slog.New(rec), MaxConnections: cfg.MaxConnections, MaxHandshakes: cfg.MaxHandshakes, Observer: obs}, snapshot(t, cfg, target))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(ln, "test")
	t.Cleanup(func() {
		ln.Close()
		bl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
		rec.checkPanics(t)
	})
	return &harness{addr: ln.Addr().String(), log: rec, proxy: p, backend: bl}
}

// snapshot builds what a connection gets for cfg, in front of target;
// certificates come from the dev PKI unless cfg names them.
func snapshot(t testing.TB, cfg *config.Config, target string) *Snapshot {
	t.Helper()
	dir := pki(t)
	if cfg.Certificates == nil {
		cfg.Certificates = []config.CertPair{
			{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey)},
			{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey)},
		}
	}
	if cfg.ClientCertMode != config.ClientCertNone && cfg.CACertPath == "" {
		cfg.CACertPath = filepath.Join(dir, certs.CABundle)
	}
	srv, err := tlsconf.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Snapshot{TLS: srv, Target: target, HandshakeTimeout: cfg.HandshakeTimeout, DialTimeout: time.Second,
		Forward: forward.Options{IdleTimeout: cfg.IdleTimeout, CloseTimeout: cfg.CloseTimeout}}
}

func baseConfig() *config.Config {
	c := config.Default()
	c.HandshakeTimeout = 5 * time.Second
	c.CloseTimeout = 5 * time.Second
	return c
}

func clientConfig(t testing.TB) *tls.Config {
	pool, _, err := certs.LoadPool(filepath.Join(pki(t), certs.CABundle))
	if err != nil {
		t.Fatal(err)
	}
	// A session cache, as browsers and curl keep one: a client that comes
	// back resumes, and that path must hold in every test.
	return &tls.Config{RootCAs: pool, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(64)}
}

func withClientCert(t *testing.T, c *tls.Config, certFile, keyFile string) *tls.Config {
	ch, err := certs.LoadChain(filepath.Join(pki(t), certFile), filepath.Join(pki(t), keyFile))
	if err != nil {
		t.Fatal(err)
	}
	c.Certificates = []tls.Certificate{ch.TLS}
	return c
}

func echo(t *testing.T, c *tls.Conn) {
	t.Helper()
	msg := "post-quantum hello\n"
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != msg {
		t.Fatalf("echo: %q, %v", got, err)
	}
}
