package daemon

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/listen"
)

// waiting is a daemon waiting for a valid configuration on a listener of
// its own, as if systemd had passed it: load fails with broken until the
// test clears it.
type waiting struct {
	d      *daemon
	ln     net.Listener
	sigs   chan os.Signal
	stderr *syncBuffer
	done   chan *waiter
	mu     sync.Mutex
	broken error
	loads  int
}

func startWaiting(t *testing.T) *waiting {
	dir, ln := devPKI(t), loopbackListener(t)
	w := &waiting{ln: ln, sigs: make(chan os.Signal, 1), stderr: new(syncBuffer), done: make(chan *waiter, 1),
		broken: &config.Error{Problems: []error{errors.New(`config.json: tagret: unknown key; did you mean "target"?`), errors.New("config.json: second problem")}}}
	load := func() (*config.Config, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.loads++
		if w.broken != nil {
			return nil, w.broken
		}
		cfg := config.Default()
		cfg.Target = "127.0.0.1:9"
		cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey)}}
		return cfg, nil
	}
	w.d = &daemon{load: load, level: new(slog.LevelVar), stderr: w.stderr,
		set: &listen.Set{Serve: []listen.Listener{{Listener: ln, Name: "https"}}, Activated: true}}
	_, _, err := w.d.loadSnapshot()
	go func() { w.done <- w.d.awaitConfig(context.Background(), w.sigs, err) }()
	t.Cleanup(func() { ln.Close() })
	return w
}

func (w *waiting) fix() {
	w.mu.Lock()
	w.broken = nil
	w.mu.Unlock()
}

// wantReset connects and wants a reset, within about a second.
func (w *waiting) wantReset(t *testing.T) {
	t.Helper()
	start := time.Now()
	c, err := net.Dial("tcp", w.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("hello"))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read: %v, want a reset", err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("the reset took %v", took)
	}
}

// Each client is reset after an attempt to load that began after it was
// accepted, a failure is logged once, and the first client after the fix
// is held for the proxy; the listener is left accepting.
func TestAwaitConfigHoldsTheFirstClientAfterTheFix(t *testing.T) {
	w := startWaiting(t)
	for range 3 {
		w.wantReset(t)
	}
	out := w.stderr.String()
	if n := strings.Count(out, "tagret: unknown key"); n != 1 {
		t.Errorf("the problem logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, `level=ERROR msg="config.json: second problem"`) {
		t.Errorf("the second problem is not logged:\n%s", out)
	}
	w.fix()
	c, err := net.Dial("tcp", w.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wt := <-w.done
	if wt.cfg == nil || len(wt.held) != 1 || wt.resets != 3 {
		t.Fatalf("after the fix: configuration %v, %d held, %d reset; want one held, 3 reset", wt.cfg != nil, len(wt.held), wt.resets)
	}
	if got, want := wt.held[0].conn.RemoteAddr().String(), c.LocalAddr().String(); got != want {
		t.Errorf("held %s, want the client after the fix, %s", got, want)
	}
	if w.loads != 5 { // the start, three clients, the fix
		t.Errorf("%d loads, want 5", w.loads)
	}
	// No deadline is left on the listener.
	go func() {
		if c, err := net.Dial("tcp", w.ln.Addr().String()); err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	if c, err := w.ln.Accept(); err != nil {
		t.Errorf("accept after the wait: %v", err)
	} else {
		c.Close()
	}
}

// STATUS= names the first problem and how many more there are; SIGHUP
// tries again at once; SIGTERM ends the wait and closes the process's
// copy of the socket.
func TestAwaitConfigStatusReloadAndStop(t *testing.T) {
	notify := listenNotify(t)
	w := startWaiting(t)
	want := `STATUS=configuration error: config.json: tagret: unknown key; did you mean "target"? (and 1 more in the journal); 0 connections reset until it loads`
	if d := notify.next(t, "READY=1", 5*time.Second); d != "READY=1\n"+want {
		t.Errorf("READY: %q, want %q", d, "READY=1\n"+want)
	}
	w.wantReset(t)
	if d := notify.next(t, "STATUS=", 3*time.Second); !strings.HasSuffix(d, "; 1 connection reset until it loads") {
		t.Errorf("STATUS after a reset: %q", d)
	}
	w.sigs <- syscall.SIGHUP
	notify.next(t, "RELOADING=1", 5*time.Second)
	notify.next(t, "READY=1", 5*time.Second)
	w.sigs <- syscall.SIGTERM
	if d := notify.next(t, "STOPPING=1", 5*time.Second); d != "STOPPING=1\nSTATUS=stopping; no valid configuration was loaded" {
		t.Errorf("STOPPING: %q", d)
	}
	if wt := <-w.done; wt.cfg != nil {
		t.Error("a configuration loaded")
	}
	if w.loads != 3 { // the start, the client, SIGHUP
		t.Errorf("%d loads, want 3", w.loads)
	}
	if _, err := w.ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("accept after the stop: %v, want the socket closed", err)
	}
}

// While the configuration does not load, the daemon logs in the
// log_format that could be read: every line is JSON with --log-format
// json, with QUANTUM_SAFE_PROXY_LOG_FORMAT=json and --from-env, and with
// "log_format": "json" in a file whose only fault is a missing key file.
func TestAwaitConfigLogsInTheFormatGiven(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	os.WriteFile(broken, []byte(`{"target": "127.0.0.1:9", "cert_path": `), 0o600)
	noKey := filepath.Join(dir, "nokey.json")
	os.WriteFile(noKey, []byte(`{"target": "127.0.0.1:9", "log_format": "json", "cert_path": "`+filepath.Join(dir, "none.crt")+`", "key_path": "`+filepath.Join(dir, "none.key")+`"}`), 0o600)
	for _, tc := range []struct {
		name    string
		args    []string
		environ []string
	}{
		{"flag", []string{"--config-file", broken, "--log-format", "json"}, nil},
		{"environment", []string{"--config-file", broken, "--from-env"}, []string{"QUANTUM_SAFE_PROXY_LOG_FORMAT=json"}},
		{"file", []string{"--config-file", noKey}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			stderr := new(syncBuffer)
			d := &daemon{load: func() (*config.Config, error) { return config.Load(tc.args, tc.environ) },
				level: new(slog.LevelVar), stderr: stderr,
				set: &listen.Set{Serve: []listen.Listener{{Listener: ln, Name: "https"}}, Activated: true}}
			_, _, err = d.loadSnapshot()
			if err == nil {
				t.Fatal("the configuration loaded")
			}
			sigs, done := make(chan os.Signal, 1), make(chan *waiter, 1)
			go func() { done <- d.awaitConfig(context.Background(), sigs, err) }()
			w := &waiting{ln: ln}
			w.wantReset(t)
			sigs <- syscall.SIGTERM
			<-done
			out := strings.TrimSpace(stderr.String())
			lines := strings.Split(out, "\n")
			if len(lines) < 3 { // the problem, the wait, the stop
				t.Fatalf("%d lines, want at least 3:\n%s", len(lines), out)
			}
			for _, l := range lines {
				if !json.Valid([]byte(l)) {
					t.Errorf("not JSON: %s", l)
				}
			}
		})
	}
}

// After the wait for a valid configuration, STATUS= follows the counters
// as promptly as in a start that never waited: the held client's close
// shows within about statusPoll, not at the next second of a ticker
// started with READY=1.
func TestStatusFollowsAfterTheWait(t *testing.T) {
	notify := listenNotify(t)
	dir, ln := devPKI(t), loopbackListener(t)
	var mu sync.Mutex
	broken := true
	load := func() (*config.Config, error) {
		mu.Lock()
		defer mu.Unlock()
		if broken {
			return nil, &config.Error{Problems: []error{errors.New("config.json: broken")}}
		}
		cfg := config.Default()
		cfg.Target, cfg.LogLevel = "127.0.0.1:9", "warn" // nothing listens: each connection ends at once
		cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey)}}
		return cfg, nil
	}
	set := &listen.Set{Serve: []listen.Listener{{Listener: ln, Name: "https"}}, Activated: true}
	d := &daemon{load: load, level: new(slog.LevelVar), stderr: new(syncBuffer), passed: func() (*listen.Set, error) { return set, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	sigs := make(chan os.Signal, 1)
	go func() { done <- d.run(ctx, sigs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	notify.next(t, "READY=1\nSTATUS=configuration error", 5*time.Second)

	mu.Lock()
	broken = false
	mu.Unlock()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection to a closed backend did not end")
	}
	closed := time.Now()
	// The served connection can end before READY=1 goes out (the
	// handover precedes it), and READY=1 carries the STATUS= line then:
	// either datagram says it.
	d2 := notify.nextLine(t, "STATUS=1 connection, 100% PQ, 0 open", 5*time.Second)
	if took := time.Since(closed); took > 600*time.Millisecond {
		t.Errorf("STATUS %q came %v after the connection ended, want within about statusPoll", d2, took)
	}
}
