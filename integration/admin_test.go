package integration

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// adminGet asks the admin endpoint at addr for path, as a probe or a
// scraper would (Go's HTTP client, defaults kept).
func adminGet(t *testing.T, addr, path string) (code int, body, ctype string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), resp.Header.Get("Content-Type")
}

// waitReadyz asks /readyz until it answers code and body (its result is
// up to a second old).
func waitReadyz(t *testing.T, addr string, code int, body string) {
	t.Helper()
	var got int
	var text string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, text, _ = adminGet(t, addr, "/readyz"); got == code && text == body {
			return
		}
	}
	t.Fatalf("/readyz: %d\n%s\nwant %d\n%s", got, text, code, body)
}

// flakyBackend echoes on a fixed address and can go down and come back.
type flakyBackend struct {
	addr string
	mu   sync.Mutex
	ln   net.Listener
}

func newFlakyBackend(t *testing.T) *flakyBackend {
	b := &flakyBackend{addr: freePort(t)}
	b.up(t)
	t.Cleanup(b.down)
	return b
}

func (b *flakyBackend) up(t *testing.T) {
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.ln = ln
	b.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
}

func (b *flakyBackend) down() {
	b.mu.Lock()
	b.ln.Close()
	b.mu.Unlock()
}

const allReady = "[+]configuration ok\n[+]certificates ok\n[+]listeners ok\n[+]reload ok\n[+]backend ok\nready\n"

// With --admin-listen the built binary serves /healthz, /metrics in
// Prometheus' text format, and a /readyz that goes 503 while the backend
// is down and 200 when it is back; the endpoint closes when it stops.
func TestAdminListenReadiness(t *testing.T) {
	be := newFlakyBackend(t)
	admin := freePort(t)
	p := startProxy(t, servingBothChains(be.addr, "--admin-listen", admin)...)
	if rec := p.wait(t, "admin endpoint listening"); rec["address"] != admin || rec["systemd"] != false {
		t.Errorf("admin endpoint: %v", rec)
	}
	if code, body, _ := adminGet(t, admin, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body, ctype := adminGet(t, admin, "/metrics")
	if code != 200 || !strings.HasPrefix(ctype, "text/plain; version=0.0.4") || !strings.Contains(body, "\n# TYPE ") {
		t.Errorf("/metrics: %d %s, not the Prometheus text format:\n%s", code, ctype, body)
	}
	waitReadyz(t, admin, 200, allReady)

	be.down()
	waitReadyz(t, admin, 503, "[+]configuration ok\n[+]certificates ok\n[+]listeners ok\n[+]reload ok\n"+
		"[-]backend failed: dial tcp "+be.addr+": connect: connection refused\nnot ready\n")
	be.up(t)
	waitReadyz(t, admin, 200, allReady)
	// TLS still flows, through to the backend.
	c, err := tls.Dial("tcp", p.addr, goClient(t, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, bufio.NewReader(c), "through the proxy")
	c.Close()

	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, "stopped")
	<-p.done
	if c, err := net.Dial("tcp", admin); err == nil {
		c.Close()
		t.Error("the admin endpoint still accepts after the proxy stopped")
	}
}

// Under socket activation the socket named admin serves the admin
// endpoint, never TLS, from the start: while the configuration is broken
// /healthz is 200 and /readyz 503 names the problem; once the file is
// fixed and a connection loads it, /readyz is 200.
func TestAdminSocketActivated(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		need(t, "systemd-socket-activate", "apt-get install systemd (Debian's systemd package has it)")
	}
	be := newFlakyBackend(t)
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	good := jsonConfig(be.addr, "")
	writeConfig(t, cfgPath, strings.Replace(good, `"target"`, `"tagret"`, 1))
	https, admin := freePort(t), freePort(t)
	p := startProc(t, exec.Command(activate, "-l", https, "-l", admin, "--fdname=https:admin",
		binary, "--config-file", cfgPath, "--log-format", "json"))

	// The probe itself starts the proxy (systemd-socket-activate runs it
	// at the first connection to either socket).
	var code int
	var body string
	for range 50 {
		if c, err := net.Dial("tcp", admin); err == nil {
			c.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body, _ = adminGet(t, admin, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz while the configuration is broken: %d %q", code, body)
	}
	waitReadyz(t, admin, 503, "[-]configuration failed: not loaded: "+cfgPath+`: tagret: unknown key; did you mean "target"?`+"\n"+
		"[-]certificates failed: not loaded\n"+
		"[-]listeners failed: open, but each connection is reset until a configuration loads\n"+
		"[+]reload ok\n"+
		"[-]backend failed: no configuration loaded\nnot ready\n")
	if rec := p.wait(t, "admin endpoint listening"); rec["address"] != admin || rec["systemd"] != true {
		t.Errorf("admin endpoint: %v", rec)
	}

	writeConfig(t, cfgPath, good)
	c, err := tls.Dial("tcp", https, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("the first connection after the fix: %v", err)
	}
	c.Close()
	waitReadyz(t, admin, 200, allReady)
	if c, err := tls.Dial("tcp", admin, &tls.Config{InsecureSkipVerify: true}); err == nil {
		c.Close()
		t.Error("TLS is served on the admin socket")
	}
	for _, l := range p.snapshot() {
		if l["msg"] == "listening" && l["listener"] == "admin" {
			t.Errorf("TLS served on the admin socket: %v", l)
		}
	}
}
