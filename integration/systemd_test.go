package integration

import (
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifySocket is a NOTIFY_SOCKET owned by the test: it records every
// datagram the proxy sends, in order.
type notifySocket struct {
	path string
	conn *net.UnixConn
	got  chan string
}

func newNotifySocket(t *testing.T) *notifySocket {
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{path: path, conn: c, got: make(chan string, 64)}
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
	t.Cleanup(func() { c.Close() })
	return n
}

// next returns the next datagram, split into its lines, skipping those
// that only update STATUS=: the proxy sends one within a second of any
// change in its counters, at times no test controls.
func (n *notifySocket) next(t *testing.T) []string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case d := <-n.got:
			if !strings.HasPrefix(d, "STATUS=") || strings.Contains(d, "\n") {
				return strings.Split(d, "\n")
			}
		case <-deadline:
			t.Fatal("no sd_notify datagram")
			return nil
		}
	}
}

// expect checks the next datagram's lines against prefixes, one each.
func (n *notifySocket) expect(t *testing.T, prefixes ...string) []string {
	t.Helper()
	lines := n.next(t)
	if len(lines) != len(prefixes) {
		t.Fatalf("datagram %q, want lines starting %q", lines, prefixes)
	}
	for i, p := range prefixes {
		if !strings.HasPrefix(lines[i], p) {
			t.Fatalf("datagram %q, want lines starting %q", lines, prefixes)
		}
	}
	return lines
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeConfig(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func jsonConfig(target string, extra string) string {
	return `{"target": "` + target + `", "cert_path": "` + pki("server-mldsa.crt") + `", "key_path": "` + pki("server-mldsa.key") + `",
  "certificates": [{"cert_path": "` + pki("server-ecdsa.crt") + `", "key_path": "` + pki("server-ecdsa.key") + `"}]` + extra + `}`
}

// Under systemd-socket-activate the proxy serves a named socket it did not
// bind, and tells NOTIFY_SOCKET exactly this, in this order: READY at
// start; RELOADING (with MONOTONIC_USEC) then READY around a reload, good
// or failed; STOPPING at SIGTERM.
func TestSocketActivationAndNotifyOrder(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		need(t, "systemd-socket-activate", "apt-get install systemd (Debian's systemd package has it)")
	}
	notify := newNotifySocket(t)
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	writeConfig(t, cfgPath, jsonConfig(echoBackend(t), ""))
	addr := freePort(t)
	cmd := exec.Command(activate, "-l", addr, "--fdname=https", "-E", "NOTIFY_SOCKET="+notify.path,
		binary, "--config-file", cfgPath, "--log-format", "json")
	p := startProc(t, cmd)

	// systemd-socket-activate starts the proxy at the first connection.
	c, err := dialRetry(addr)
	if err != nil {
		t.Fatal(err)
	}
	if c.ConnectionState().CurveID != tls.X25519MLKEM768 {
		t.Errorf("negotiated %s", c.ConnectionState().CurveID)
	}
	c.Close()
	rec := p.wait(t, "listening")
	if rec["listener"] != "https" || rec["systemd"] != true || rec["address"] != addr {
		t.Errorf("listening on %v", rec)
	}
	notify.expect(t, "READY=1", "STATUS=")

	writeConfig(t, cfgPath, jsonConfig(echoBackend(t), `, "log_level": "debug"`))
	p.cmd.Process.Signal(syscall.SIGHUP)
	notify.expect(t, "RELOADING=1", "MONOTONIC_USEC=")
	if lines := notify.expect(t, "READY=1", "STATUS="); !strings.Contains(lines[1], " ok") {
		t.Errorf("status after a good reload: %q", lines[1])
	}

	writeConfig(t, cfgPath, `{"target": `)
	p.cmd.Process.Signal(syscall.SIGHUP)
	notify.expect(t, "RELOADING=1", "MONOTONIC_USEC=")
	if lines := notify.expect(t, "READY=1", "STATUS="); !strings.Contains(lines[1], "failed, previous configuration kept") {
		t.Errorf("status after a failed reload: %q", lines[1])
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	notify.expect(t, "STOPPING=1", "STATUS=draining")
	if code := exitCode(t, p); code != 0 {
		t.Errorf("exit code %d", code)
	}
	select {
	case d := <-notify.got: // not even STATUS=: its updates stop first
		t.Errorf("unexpected datagram after STOPPING: %q", d)
	default:
	}
}

func dialRetry(addr string) (*tls.Conn, error) {
	var err error
	for range 50 {
		var c *tls.Conn
		c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			return c, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, err
}

// With WatchdogSec= set (WATCHDOG_USEC), the proxy pets the watchdog at
// half the interval while its accept loop is healthy.
func TestWatchdogPets(t *testing.T) {
	notify := newNotifySocket(t)
	cmd := exec.Command(binary, servingBothChains(echoBackend(t), "--listen", "127.0.0.1:0", "--log-format", "json")...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify.path, "WATCHDOG_USEC=400000")
	p := startProc(t, cmd)
	p.wait(t, "listening")
	notify.expect(t, "READY=1", "STATUS=")
	start := time.Now()
	for range 3 {
		notify.expect(t, "WATCHDOG=1", "STATUS=")
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("3 watchdog pets took %v, want about 600ms (every 200ms)", d)
	}
}

// A descriptor systemd passes that is not a listening stream socket is
// refused with a message that names it.
func TestPassedNonListeningSocketIsAnError(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := udp.(*net.UDPConn).File()
	udp.Close()
	defer f.Close()
	// LISTEN_PID must be the proxy's own PID (sd_listen_fds(3)).
	cmd := exec.Command("sh", append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, binary}, servingBothChains(echoBackend(t))...)...)
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1", "LISTEN_FDNAMES=https")
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.CombinedOutput()
	want := `quantum-safe-proxy: error: listen: socket 1 passed by systemd (fd 3, name "https"): not a stream socket; pass only ListenStream= sockets`
	if err == nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("err %v, output:\n%s\nwant:\n%s", err, out, want)
	}
}
