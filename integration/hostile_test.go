package integration

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stalledClients is how many clients connect and send nothing.
const stalledClients = 10000

// Ten thousand clients that connect and stall, at the default limits, are
// each cut at the handshake deadline; meanwhile a real client's handshake
// completes promptly. The test reports what a stalled handshake costs.
func TestStalledHandshakes(t *testing.T) {
	raiseNoFile(t, stalledClients+1000)
	const timeout = 4 * time.Second
	p := startProxy(t, "--target", echoBackend(t), "--cert", pki("server-mldsa.crt"), "--key", pki("server-mldsa.key"),
		"--handshake-timeout", timeout.String())
	pid := p.cmd.Process.Pid
	client := cachedClient(t)
	for range 3 { // warm up: the handshake code and its memory in place
		echoLine(t, p.addr, client)
	}
	base := procStatus(t, pid, "VmRSS")

	conns := make([]net.Conn, stalledClients)
	dialed := make([]time.Time, stalledClients)
	dialAll(t, p.addr, conns, dialed)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	waitFDs(t, pid, stalledClients)
	peak := procStatus(t, pid, "VmRSS")

	// Were handshakes counted against max_connections (10000), this
	// client would wait in the kernel's backlog for the deadline.
	begin := time.Now()
	echoLine(t, p.addr, client)
	served := time.Since(begin)
	if served > time.Second {
		t.Errorf("a real client's handshake and echo behind %d stalled ones took %v, want < 1s", stalledClients, served)
	}

	// Every stalled client sees its socket end at about the deadline.
	var early, late, open int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			c.SetReadDeadline(dialed[i].Add(timeout + 5*time.Second))
			_, err := c.Read(make([]byte, 1))
			at := time.Since(dialed[i])
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				open++
			case at < timeout:
				early++
			case at > timeout+2*time.Second:
				late++
			}
		})
	}
	wg.Wait()
	if early+late+open > 0 {
		t.Errorf("of %d stalled clients, %d were cut early, %d late (> 2 s past the deadline), %d never", stalledClients, early, late, open)
	}
	n := countReason(t, p, "handshake_timeout", stalledClients)
	hwm := procStatus(t, pid, "VmHWM")
	t.Logf("real client served in %v; %d stalled handshakes: %d cut with reason handshake_timeout; proxy RSS %d KiB before, %d KiB with all of them open (peak VmHWM %d KiB): %.1f KiB per stalled handshake",
		served, stalledClients, n, base, peak, hwm, float64(peak-base)/stalledClients)
	if per := float64(peak-base) / stalledClients; per >= 10 {
		t.Errorf("a stalled handshake costs %.1f KiB of RSS, want < 10 KiB", per)
	}
}

// dialAll opens len(conns) connections to addr, from a few goroutines,
// noting when each dial began.
func dialAll(t *testing.T, addr string, conns []net.Conn, at []time.Time) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	const dialers = 8
	for w := range dialers {
		wg.Go(func() {
			for i := w; i < len(conns); i += dialers {
				// Taken before dialing: the proxy's deadline starts at
				// its accept, which cannot come before.
				at[i] = time.Now()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					errs <- fmt.Errorf("dial %d: %w", i, err)
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// waitFDs waits until the process holds at least n open descriptors,
// that is, until it has accepted the stalled clients.
func waitFDs(t *testing.T, pid, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			t.Fatal(err)
		}
		if len(fds) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy holds %d descriptors, want >= %d", len(fds), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countReason waits until the proxy logged want refusals for reason.
func countReason(t *testing.T, p *proxyProc, reason string, want int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		for _, l := range p.snapshot() {
			if l["msg"] == "handshake refused" && l["reason"] == reason {
				n++
			}
		}
		if n >= want || time.Now().After(deadline) {
			if n != want {
				t.Errorf("%d handshakes refused with reason %s, want %d", n, reason, want)
			}
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// procStatus returns a "kB" field of /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// raiseNoFile raises this process's descriptor limit to at least n (the
// stalled clients' sockets are ours too).
func raiseNoFile(t *testing.T, n uint64) {
	t.Helper()
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	if l.Cur < n {
		l.Cur = min(n, l.Max)
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	if l.Cur < n {
		need(t, fmt.Sprintf("%d file descriptors", n), fmt.Sprintf("the RLIMIT_NOFILE hard limit is %d; raise it (ulimit -Hn)", l.Max))
	}
}

// cachedClient is a Go client as it ships, with a session cache, that
// trusts the test PKI.
func cachedClient(t testing.TB) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(pki("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: poolFrom(pem), ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(64)}
}

// echoLine handshakes, echoes one line and closes.
func echoLine(t testing.TB, addr string, cfg *tls.Config) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "ping\n")
	b := make([]byte, 5)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "ping\n" {
		t.Fatalf("echo: %q, %v", b, err)
	}
}

// No handshake deadline only with the option that says it is unsafe: an
// error naming the fix without it, a warning at start with it.
func TestNoHandshakeTimeoutNeedsUnsafe(t *testing.T) {
	cert := []string{"--cert", pki("server-mldsa.crt"), "--key", pki("server-mldsa.key")}
	_, stderr, code := runBinary(t, append([]string{"check", "--handshake-timeout", "0"}, cert...)...)
	want := "quantum-safe-proxy: error: --handshake-timeout: 0 removes the handshake deadline, so a client that connects and stalls holds its socket forever; set a duration such as 10s, or set unsafe_no_handshake_timeout (--unsafe-no-handshake-timeout) if you mean it\n"
	if code != 78 || stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
	}
	p := startProxy(t, append([]string{"--target", echoBackend(t), "--handshake-timeout", "0", "--unsafe-no-handshake-timeout"}, cert...)...)
	rec := p.wait(t, "unsafe_no_handshake_timeout is set and handshake_timeout is 0: handshakes have no deadline; only max_handshakes bounds clients that stall")
	if rec["level"] != "WARN" {
		t.Errorf("warning logged at %v", rec["level"])
	}
	echoLine(t, p.addr, cachedClient(t))
}
