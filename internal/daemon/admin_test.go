package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/listen"
)

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	ln := loopbackListener(t)
	defer ln.Close()
	return ln.Addr().String()
}

// adminGet asks the admin endpoint at addr for path.
func adminGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitReadyz asks /readyz until it answers code with a body that
// matches want (results are up to a second old), and returns the body.
func waitReadyz(t *testing.T, addr string, code int, want *regexp.Regexp) string {
	t.Helper()
	var got int
	var body string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, body = adminGet(t, addr, "/readyz"); got == code && want.MatchString(body) {
			return body
		}
	}
	t.Fatalf("/readyz: %d\n%s\nwant %d matching %s", got, body, code, want)
	return ""
}

// holdingBackend accepts and holds each connection open (echoing) until
// the test ends; it counts connections, and can go down and come back
// on the same address.
type holdingBackend struct {
	addr  string
	dials atomic.Int32
	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newHoldingBackend(t *testing.T) *holdingBackend {
	b := &holdingBackend{addr: freeAddr(t)}
	b.up(t)
	t.Cleanup(b.down)
	return b
}

func (b *holdingBackend) up(t *testing.T) {
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.ln = ln
	b.mu.Unlock()
	go b.accept(ln)
}

func (b *holdingBackend) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		b.dials.Add(1)
		b.mu.Lock()
		b.conns = append(b.conns, c)
		b.mu.Unlock()
		go echo(c)
	}
}

// echo echoes until the client's end, then closes.
func echo(c net.Conn) {
	io.Copy(c, c)
	c.Close()
}

func (b *holdingBackend) down() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ln.Close()
	for _, c := range b.conns {
		c.Close()
	}
	b.conns = nil
}

const allReady = "[+]configuration ok\n[+]certificates ok\n[+]listeners ok\n[+]reload ok\n[+]backend ok\nready\n"

// With admin_listen: /healthz, /metrics, and a /readyz that follows the
// backend (down, back), a failed and a good reload, and the drain; the
// backend sees one connection for a burst of probes; the endpoint closes
// at the end of the drain.
func TestAdminListen(t *testing.T) {
	be := newHoldingBackend(t)
	adminAddr := freeAddr(t)
	r := startDaemonWith(t, func(c *config.Config) error {
		c.Target, c.AdminListen, c.DrainTimeout = be.addr, adminAddr, time.Minute
		return nil
	})
	waitListening(t, adminAddr)
	if code, body := adminGet(t, adminAddr, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := adminGet(t, adminAddr, "/metrics"); code != 200 || !strings.Contains(body, "# TYPE ") {
		t.Errorf("/metrics: %d, not the Prometheus text format:\n%s", code, body)
	}
	waitReadyz(t, adminAddr, 200, regexp.MustCompile("^"+regexp.QuoteMeta(allReady)+"$"))

	// A burst of probes once the result has expired: one dial.
	time.Sleep(1100 * time.Millisecond)
	before := be.dials.Load()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if code, _ := adminGet(t, adminAddr, "/readyz"); code != 200 {
				t.Errorf("a probe of the burst: %d", code)
			}
		})
	}
	wg.Wait()
	time.Sleep(100 * time.Millisecond) // the backend's accept loop counts
	if n := be.dials.Load() - before; n != 1 {
		t.Errorf("20 concurrent probes dialled the backend %d times, want once", n)
	}

	be.down()
	refused := "[-]backend failed: dial tcp " + be.addr + ": connect: connection refused\n"
	waitReadyz(t, adminAddr, 503, regexp.MustCompile(`^\[\+\]configuration ok\n\[\+\]certificates ok\n\[\+\]listeners ok\n\[\+\]reload ok\n`+regexp.QuoteMeta(refused)+"not ready\n$"))
	be.up(t)
	waitReadyz(t, adminAddr, 200, regexp.MustCompile("^"+regexp.QuoteMeta(allReady)+"$"))

	r.reload(t, func(*config.Config) error {
		return &config.Error{Problems: []error{errors.New("config.json: line 3: unexpected end of JSON input"), errors.New("config.json: second")}}
	})
	waitReadyz(t, adminAddr, 503, regexp.MustCompile(`\n\[-\]reload failed: the reload at \d\d:\d\d:\d\d failed, the previous configuration is still served: config\.json: line 3: unexpected end of JSON input \(and 1 more in the journal\)\n\[\+\]backend ok\nnot ready\n$`))
	r.reload(t, func(c *config.Config) error {
		c.Target, c.AdminListen, c.DrainTimeout = be.addr, adminAddr, time.Minute
		return nil
	})
	waitReadyz(t, adminAddr, 200, regexp.MustCompile("^"+regexp.QuoteMeta(allReady)+"$"))

	// The drain: 503 while a connection is open, and the endpoint
	// closes at its end.
	c, err := tls.Dial("tcp", r.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	c.Read(make([]byte, 1)) // echoed: the connection is through to the backend
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	waitReadyz(t, adminAddr, 503, regexp.MustCompile(`\n\[-\]listeners failed: stopped accepting: draining 1 connection\n`))
	if code, _ := adminGet(t, adminAddr, "/healthz"); code != 200 {
		t.Errorf("/healthz during the drain: %d", code)
	}
	c.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		a, err := net.Dial("tcp", adminAddr)
		if err != nil {
			break
		}
		a.Close()
		if time.Now().After(deadline) {
			t.Fatal("the admin endpoint still accepts after the drain")
		}
	}
}

// activated is a daemon given sockets as if by systemd: a TLS one and
// an admin one. load fails with broken until the test clears it.
type activated struct {
	tls, admin net.Listener
	stderr     *syncBuffer
	done       chan error
	cancel     context.CancelFunc
	mu         sync.Mutex
	broken     error
	next       func(*config.Config)
}

func startActivated(t *testing.T, adminLn net.Listener, broken error, next func(*config.Config)) *activated {
	dir := devPKI(t)
	a := &activated{tls: loopbackListener(t), admin: adminLn, stderr: new(syncBuffer), done: make(chan error, 1), broken: broken, next: next}
	load := func() (*config.Config, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.broken != nil {
			return nil, a.broken
		}
		cfg := config.Default()
		cfg.Target = "127.0.0.1:9"
		cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey)}}
		if a.next != nil {
			a.next(cfg)
		}
		return cfg, nil
	}
	set := &listen.Set{Serve: []listen.Listener{{Listener: a.tls, Name: "https"}}, Activated: true}
	if adminLn != nil {
		set.Admin = &listen.Listener{Listener: adminLn, Name: "admin"}
	}
	d := &daemon{load: load, level: new(slog.LevelVar), stderr: a.stderr, set: set,
		passed: func() (*listen.Set, error) { return set, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() { a.done <- d.run(ctx, make(chan os.Signal)) }()
	t.Cleanup(func() {
		cancel()
		<-a.done
		a.tls.Close()
		if adminLn != nil {
			adminLn.Close()
		}
	})
	return a
}

// Under socket activation the admin socket serves from the start, also
// while the daemon waits for a valid configuration: /healthz 200,
// /readyz 503 with the problem; and ready once the fixed file loads.
// systemd's socket wins over admin_listen, which is not bound.
func TestAdminWhileWaitingForConfig(t *testing.T) {
	adminLn := loopbackListener(t)
	adminAddr := adminLn.Addr().String()
	be := newHoldingBackend(t)
	unused := freeAddr(t)
	broken := &config.Error{Problems: []error{errors.New(`config.json: tagret: unknown key; did you mean "target"?`), errors.New("config.json: second problem")}}
	a := startActivated(t, adminLn, broken, func(c *config.Config) { c.Target, c.AdminListen = be.addr, unused })

	if code, body := adminGet(t, adminAddr, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz while waiting: %d %q", code, body)
	}
	waitReadyz(t, adminAddr, 503, regexp.MustCompile("^"+regexp.QuoteMeta(`[-]configuration failed: not loaded: config.json: tagret: unknown key; did you mean "target"? (and 1 more in the journal)
[-]certificates failed: not loaded
[-]listeners failed: open, but each connection is reset until a configuration loads
[+]reload ok
[-]backend failed: no configuration loaded
not ready
`)+"$"))

	a.mu.Lock()
	a.broken = nil
	a.mu.Unlock()
	// The next connection loads the fixed file and is served.
	c, err := tls.Dial("tcp", a.tls.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("the first connection after the fix: %v", err)
	}
	c.Close()
	waitReadyz(t, adminAddr, 200, regexp.MustCompile("^"+regexp.QuoteMeta(allReady)+"$"))
	if !strings.Contains(a.stderr.String(), `msg="admin endpoint on the socket named admin from systemd; admin_listen is not used" admin_listen=`+unused) {
		t.Errorf("no line saying admin_listen is not used:\n%s", a.stderr)
	}
	if c, err := net.Dial("tcp", unused); err == nil {
		c.Close()
		t.Errorf("admin_listen %s was bound as well as systemd's socket", unused)
	}
}

// An admin socket from systemd that is not loopback is refused unless
// unsafe_admin_listen, at reload (the check) and at start, where it is
// left unserved with an error while TLS is served; unix sockets are fine.
func TestAdminSocketFromSystemdMustBeLoopback(t *testing.T) {
	wide, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer wide.Close()
	unix, err := net.Listen("unix", filepath.Join(t.TempDir(), "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close()
	cfg := config.Default()
	want := `socket "admin" from systemd (` + wide.Addr().String() + `) is not loopback: the admin endpoint is plain HTTP without authentication; set ListenStream= to 127.0.0.1:PORT or a path, or set unsafe_admin_listen if you mean it`
	err = checkAdminSocket(cfg, &listen.Listener{Listener: wide, Name: "admin"})
	if ce, ok := err.(*config.Error); !ok || len(ce.Problems) != 1 || ce.Problems[0].Error() != want {
		t.Fatalf("%v\nwant %s", err, want)
	}
	for _, l := range []net.Listener{unix, loopbackListener(t)} {
		if err := checkAdminSocket(cfg, &listen.Listener{Listener: l, Name: "admin"}); err != nil {
			t.Errorf("%s: %v", l.Addr(), err)
		}
	}
	cfg.UnsafeAdminListen = true
	if err := checkAdminSocket(cfg, &listen.Listener{Listener: wide, Name: "admin"}); err != nil {
		t.Errorf("with unsafe_admin_listen: %v", err)
	}

	// At start: TLS is served, the admin socket is not, and the log says
	// why (admin_listen, also set, is not bound instead).
	unused := freeAddr(t)
	a := startActivated(t, wide, nil, func(c *config.Config) { c.AdminListen = unused })
	c, err := tls.Dial("tcp", a.tls.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS with a refused admin socket: %v", err)
	}
	c.Close()
	if line := `level=ERROR msg="admin endpoint not served: ` + strings.ReplaceAll(want, `"`, `\"`) + ` (then restart the service)"`; !strings.Contains(a.stderr.String(), line) {
		t.Errorf("no line %s:\n%s", line, a.stderr)
	}
	if strings.Contains(a.stderr.String(), "admin endpoint listening") {
		t.Errorf("an admin endpoint serves:\n%s", a.stderr)
	}
	_, port, _ := net.SplitHostPort(wide.Addr().String())
	h := &http.Client{Timeout: 300 * time.Millisecond}
	if resp, err := h.Get("http://127.0.0.1:" + port + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("the refused admin socket answers: %s", resp.Status)
	}
	if c, err := net.Dial("tcp", unused); err == nil {
		c.Close()
		t.Errorf("admin_listen %s was bound in place of the refused socket", unused)
	}
}

// With unsafe_admin_listen a wide admin socket serves, with a warning.
func TestUnsafeAdminListenWarns(t *testing.T) {
	wide, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	a := startActivated(t, wide, nil, func(c *config.Config) { c.UnsafeAdminListen = true })
	_, port, _ := net.SplitHostPort(wide.Addr().String())
	waitReadyz(t, "127.0.0.1:"+port, 503, regexp.MustCompile(`\[-\]backend failed`))
	if !strings.Contains(a.stderr.String(), `level=WARN msg="unsafe_admin_listen is set: the admin endpoint, plain HTTP without authentication, may be reachable from other hosts"`) {
		t.Errorf("no warning:\n%s", a.stderr)
	}
}

// An admin_listen address that cannot be bound fails the start, as
// listen does; under socket activation the TLS socket is served all the
// same, with the error in the log.
func TestAdminListenTaken(t *testing.T) {
	taken := loopbackListener(t)
	defer taken.Close()
	addr := taken.Addr().String()
	want := "admin_listen: listen tcp " + addr + ": bind: address already in use"

	dir, listenAddr := devPKI(t), freeAddr(t)
	load := func() (*config.Config, error) {
		cfg := config.Default()
		cfg.Listen, cfg.Target, cfg.AdminListen = listenAddr, "127.0.0.1:9", addr
		cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey)}}
		return cfg, nil
	}
	if err := Run(context.Background(), load, io.Discard, "test"); err == nil || err.Error() != want {
		t.Errorf("Run: %v, want %s", err, want)
	}
	if c, err := net.Dial("tcp", listenAddr); err == nil {
		c.Close()
		t.Errorf("%s still listens after the failed start", listenAddr)
	}

	a := startActivated(t, nil, nil, func(c *config.Config) { c.AdminListen = addr })
	c, err := tls.Dial("tcp", a.tls.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS under socket activation with admin_listen taken: %v", err)
	}
	c.Close()
	if line := `level=ERROR msg="admin endpoint not served: ` + want + `"`; !strings.Contains(a.stderr.String(), line) {
		t.Errorf("no line %s:\n%s", line, a.stderr)
	}
}
