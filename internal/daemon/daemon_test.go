package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// syncBuffer is stderr shared by the daemon's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// notifications is a NOTIFY_SOCKET owned by the test.
type notifications struct {
	got chan string
}

func listenNotify(t *testing.T) *notifications {
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	n := &notifications{got: make(chan string, 64)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n.got <- string(buf[:k])
		}
	}()
	return n
}

// next returns the next datagram that starts with prefix, skipping others.
func (n *notifications) next(t *testing.T, prefix string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	var skipped []string
	for {
		select {
		case d := <-n.got:
			if strings.HasPrefix(d, prefix) {
				return d
			}
			skipped = append(skipped, d)
		case <-deadline:
			t.Fatalf("no datagram starting %q within %v; skipped %q", prefix, within, skipped)
		}
	}
}

// nextLine returns the next datagram with a line (an assignment) that
// starts with prefix, skipping others.
func (n *notifications) nextLine(t *testing.T, prefix string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	var skipped []string
	for {
		select {
		case d := <-n.got:
			for _, line := range strings.Split(d, "\n") {
				if strings.HasPrefix(line, prefix) {
					return d
				}
			}
			skipped = append(skipped, d)
		case <-deadline:
			t.Fatalf("no datagram with a line starting %q within %v; skipped %q", prefix, within, skipped)
		}
	}
}

// running is a daemon serving the development chains at log_level warn;
// load hands it the configuration or error set in next.
type running struct {
	addr   string
	dir    string // the chains' files
	stderr *syncBuffer
	mu     sync.Mutex
	next   func(*config.Config) error
	done   chan error
}

func startDaemon(t *testing.T) *running { return startDaemonWith(t, nil) }

// startDaemonWith starts a daemon whose first load already applies next.
func startDaemonWith(t *testing.T, next func(*config.Config) error) *running {
	dir, ln := devPKI(t), loopbackListener(t)
	addr := ln.Addr().String()
	ln.Close()
	r := &running{addr: addr, dir: dir, stderr: new(syncBuffer), next: next, done: make(chan error, 1)}
	load := func() (*config.Config, error) {
		cfg := config.Default()
		cfg.Listen, cfg.Target, cfg.LogLevel = addr, "127.0.0.1:9", "warn"
		cfg.Certificates = []config.CertPair{
			{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey)},
			{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey)},
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.next != nil {
			if err := r.next(cfg); err != nil {
				return nil, err
			}
		}
		return cfg, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- Run(ctx, load, r.stderr, "test") }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

func (r *running) reload(t *testing.T, next func(*config.Config) error) {
	r.mu.Lock()
	r.next = next
	r.mu.Unlock()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// At log_level warn a reload's outcome still shows: success at NOTICE,
// with what changed, and failure at ERROR; STATUS= says so too. At debug,
// each change is logged with its old and new value.
func TestReloadOutcomeVisibleAtWarn(t *testing.T) {
	notify := listenNotify(t)
	r := startDaemon(t)
	notify.next(t, "READY=1", 10*time.Second)

	r.reload(t, func(c *config.Config) error { c.Target = "127.0.0.1:10"; return nil })
	if d := notify.next(t, "READY=1", 10*time.Second); !strings.HasSuffix(d, " ok (changed target)") {
		t.Errorf("STATUS after a good reload: %q", d)
	}
	out := r.stderr.String()
	if !strings.Contains(out, "level=NOTICE msg=reloaded changed=target target=127.0.0.1:10 ") {
		t.Errorf("no NOTICE line for a good reload at log_level warn:\n%s", out)
	}
	if strings.Contains(out, "level=INFO") || strings.Contains(out, "level=DEBUG") {
		t.Errorf("info or debug lines at log_level warn:\n%s", out)
	}

	r.reload(t, func(*config.Config) error {
		return &config.Error{Problems: []error{errors.New("config.json: line 3: unexpected end of JSON input")}}
	})
	if d := notify.next(t, "READY=1", 10*time.Second); !strings.HasSuffix(d, "failed, previous configuration kept") {
		t.Errorf("STATUS after a failed reload: %q", d)
	}
	out = r.stderr.String()
	for _, want := range []string{
		`level=ERROR msg="reload: config.json: line 3: unexpected end of JSON input"`,
		`level=ERROR msg="reload failed: still serving the previous configuration"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q at log_level warn:\n%s", want, out)
		}
	}

	// At debug: the chains swap places and the level changes.
	r.reload(t, func(c *config.Config) error {
		c.Target, c.LogLevel = "127.0.0.1:10", "debug"
		c.Certificates[0], c.Certificates[1] = c.Certificates[1], c.Certificates[0]
		return nil
	})
	if d := notify.next(t, "READY=1", 10*time.Second); !strings.HasSuffix(d, " ok (changed log_level, chain 1, chain 2)") {
		t.Errorf("STATUS after the third reload: %q", d)
	}
	out = r.stderr.String()
	for _, want := range []string{
		`level=DEBUG msg="reload: changed" setting=log_level was=warn now=debug`,
		`level=NOTICE msg=reloaded changed="log_level, chain 1, chain 2"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q:\n%s", want, out)
		}
	}
	chain1 := regexp.MustCompile(`level=DEBUG msg="reload: changed" setting="chain 1" was="\S+/server-mldsa.crt \(CN=localhost,O=quantum-safe-proxy development, ML-DSA-65, expires \S+, sha256 [0-9a-f]{16}\)" now="\S+/server-ecdsa.crt \(CN=localhost,O=quantum-safe-proxy development, ECDSA P-256, `)
	if !chain1.MatchString(out) {
		t.Errorf("no debug line on chain 1 matching %s:\n%s", chain1, out)
	}
}

// STATUS= follows the counters within about a second of a change, and is
// not sent again while nothing changes.
func TestStatusFollowsWithinASecond(t *testing.T) {
	notify := listenNotify(t)
	r := startDaemon(t)
	if d := notify.next(t, "READY=1", 10*time.Second); !strings.HasSuffix(d, "STATUS=0 connections, 0 open, 0 refused") {
		t.Fatalf("READY: %q", d)
	}
	start := time.Now()
	c, err := tls.Dial("tcp", r.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	d := notify.next(t, "STATUS=1 connection, 100% PQ", 3*time.Second)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("STATUS %q came %v after the connection, want within about 1s", d, took)
	}
	// Nothing listens on the backend (127.0.0.1:9): the connection ends
	// at once, and the line settles at 0 open (unless it already had).
	if !strings.HasPrefix(d, "STATUS=1 connection, 100% PQ, 0 open") {
		notify.next(t, "STATUS=1 connection, 100% PQ, 0 open", 3*time.Second)
	}
	select {
	case d := <-notify.got:
		t.Errorf("a datagram while nothing changed: %q", d)
	case <-time.After(2500 * time.Millisecond):
	}
}

// Every setting is compared on reload: a field added to config.Config
// needs its row in settings (diff.go), or reload diffs would miss it.
func TestReloadDiffCoversEveryField(t *testing.T) {
	typ := reflect.TypeFor[config.Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		if !slices.ContainsFunc(settings, func(s setting) bool { return s.field == f.Name }) {
			t.Errorf("config.Config.%s has no row in settings (internal/daemon/diff.go)", f.Name)
		}
	}
}

// With require_systemd_socket and no socket from systemd (LISTEN_FDS
// unset), the daemon does not bind listen: it returns a configuration
// error (exit 78, so Restart=on-failure does not loop) that says to
// restart the socket unit.
func TestRequireSystemdSocketWithoutSockets(t *testing.T) {
	t.Setenv("LISTEN_FDS", "")
	t.Setenv("LISTEN_PID", "")
	dir, ln := devPKI(t), loopbackListener(t)
	addr := ln.Addr().String()
	ln.Close()
	load := func() (*config.Config, error) {
		cfg := config.Default()
		cfg.Listen, cfg.Target, cfg.RequireSystemdSocket = addr, "127.0.0.1:9", true
		cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey)}}
		return cfg, nil
	}
	// Were the address bound, Run would serve until ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var stderr syncBuffer
	err := Run(ctx, load, &stderr, "test")
	if !IsConfigError(err) || !strings.Contains(err.Error(), "systemctl restart quantum-safe-proxy.socket") {
		t.Fatalf("Run: %v, want a configuration error naming systemctl restart quantum-safe-proxy.socket", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("%s accepts connections", addr)
	}
}

// devPKI writes a development PKI into a temporary directory.
func devPKI(t *testing.T) string {
	dir := t.TempDir()
	if _, err := certs.WriteDevPKI(dir, false); err != nil {
		t.Fatal(err)
	}
	return dir
}

// loopbackListener listens on a free loopback port.
func loopbackListener(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// backend is a TCP listener that reports each connection it accepts.
func backend(t *testing.T) (addr string, conns <-chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			got <- struct{}{}
		}
	}()
	return ln.Addr().String(), got
}

// leafOf is the DER of the first certificate in a PEM file.
func leafOf(t *testing.T, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	return b.Bytes
}

// connectVia makes one TLS connection through the proxy, sends a byte so
// that it reaches the backend, and returns the leaf certificate served.
func connectVia(t *testing.T, addr string) []byte {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte{0})
	return c.ConnectionState().PeerCertificates[0].Raw
}

// arrives wants one connection at want and none at other.
func arrives(t *testing.T, when string, want, other <-chan struct{}) {
	t.Helper()
	select {
	case <-want:
	case <-other:
		t.Fatalf("%s: the connection went to the other target", when)
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no connection at the target within 5 s", when)
	}
}

// A rotated certificate is read with the configuration in force: an edit
// to the configuration that no SIGHUP applied yet (here its target) does
// not take effect with the rotation. The next SIGHUP applies it.
func TestRotationKeepsConfigurationInForce(t *testing.T) {
	notify := listenNotify(t)
	a, toA := backend(t)
	b, toB := backend(t)
	r := startDaemonWith(t, func(c *config.Config) error { c.Target = a; return nil })
	notify.next(t, "READY=1", 10*time.Second)

	// The file is edited, and not reloaded.
	edited := func(c *config.Config) error { c.Target = b; return nil }
	r.mu.Lock()
	r.next = edited
	r.mu.Unlock()
	// Both pairs are rotated to a new issue.
	next := t.TempDir()
	if _, err := certs.WriteDevPKI(next, false); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{certs.ServerMLDSAKey, certs.ServerMLDSACert, certs.ServerECDSAKey, certs.ServerECDSACert} {
		data, err := os.ReadFile(filepath.Join(next, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r.dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if d := notify.next(t, "READY=1", 10*time.Second); !strings.HasSuffix(d, " ok (changed chain 1, chain 2)") {
		t.Errorf("STATUS after the rotation: %q", d)
	}
	leaf := connectVia(t, r.addr)
	if !bytes.Equal(leaf, leafOf(t, filepath.Join(next, certs.ServerMLDSACert))) && !bytes.Equal(leaf, leafOf(t, filepath.Join(next, certs.ServerECDSACert))) {
		t.Error("the rotated chains are not served")
	}
	arrives(t, "after the rotation", toA, toB)
	out := r.stderr.String()
	if want := `level=NOTICE msg="reloaded: configured files changed" changed="chain 1, chain 2" target=` + a + " "; !strings.Contains(out, want) {
		t.Errorf("no %q:\n%s", want, out)
	}

	r.reload(t, edited)
	if d := notify.next(t, "READY=1", 10*time.Second); !strings.HasSuffix(d, " ok (changed target)") {
		t.Errorf("STATUS after SIGHUP: %q", d)
	}
	connectVia(t, r.addr)
	arrives(t, "after SIGHUP", toB, toA)
	if want := "level=NOTICE msg=reloaded changed=target target=" + b + " "; !strings.Contains(r.stderr.String(), want) {
		t.Errorf("no %q:\n%s", want, r.stderr.String())
	}
}

// A configuration warning is logged once, not at every reload (or
// rotation: both end in swap) that keeps it; a reload that brings a new one logs that one.
func TestWarningsLoggedOnceUntilTheyChange(t *testing.T) {
	notify := listenNotify(t)
	r := startDaemon(t) // the ML-DSA chain first, unbound: a warning
	notify.next(t, "READY=1", 10*time.Second)
	const preferred = "an ML-DSA chain is preferred"
	count := func(s string) int { return strings.Count(r.stderr.String(), s) }
	if n := count(preferred); n != 1 {
		t.Fatalf("at start the warning was logged %d times, want once:\n%s", n, r.stderr)
	}

	for range 2 {
		r.reload(t, func(*config.Config) error { return nil })
		notify.next(t, "READY=1", 10*time.Second)
	}
	r.reload(t, func(c *config.Config) error { c.PQCMode = config.PQCClassical; return nil })
	notify.next(t, "READY=1", 10*time.Second)
	r.reload(t, func(c *config.Config) error { c.PQCMode = config.PQCClassical; return nil })
	notify.next(t, "READY=1", 10*time.Second)
	if n := count(preferred); n != 1 {
		t.Errorf("after four reloads that keep it, the warning was logged %d times, want once:\n%s", n, r.stderr)
	}
	if n := count("pqc_mode classical: post-quantum key exchange is off"); n != 1 {
		t.Errorf("the warning a reload brought was logged %d times, want once:\n%s", n, r.stderr)
	}
}
