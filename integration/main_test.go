// Package integration runs the built quantum-safe-proxy binary against
// peers this project did not write: OpenSSL 3.5 (s_client), headless
// Chromium, and Go's TLS client. It needs:
//
//   - OpenSSL 3.5 or later: QSP_OPENSSL if set, else tools/openssl35
//     (the system's openssl when recent enough, else Debian 13's,
//     fetched once into a cache);
//   - chromium and certutil (Debian packages chromium, libnss3-tools) for
//     the browser test.
//
// Under CI (CI=true) a missing peer fails the test; elsewhere it skips
// with the reason.
package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binary string // the built quantum-safe-proxy
	pkiDir string // a development PKI made by `certs init`
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "qsp-integration")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "quantum-safe-proxy")
	build := exec.Command("go", "build", "-o", binary, "../cmd/quantum-safe-proxy")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binary:", err)
		os.Exit(1)
	}
	pkiDir = filepath.Join(dir, "pki")
	if out, err := exec.Command(binary, "certs", "init", "--dir", pkiDir).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "certs init: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need fails under CI and skips elsewhere when a peer is missing.
func need(t testing.TB, what, why string) {
	t.Helper()
	if ci := os.Getenv("CI"); ci != "" && ci != "0" && ci != "false" { // as testreport reads it
		t.Fatalf("%s is required under CI: %s", what, why)
	}
	t.Skipf("%s not available: %s", what, why)
}

func pki(name string) string { return filepath.Join(pkiDir, name) }

// echoBackend listens on loopback and echoes every connection.
func echoBackend(t testing.TB) string { return namedBackend(t, "") }

// namedBackend greets every connection with its name (unless empty), then
// echoes.
func namedBackend(t testing.TB, name string) string {
	t.Helper()
	return serveEach(t, func(c net.Conn) {
		if name != "" {
			io.WriteString(c, name+"\n")
		}
		io.Copy(c, c)
		c.Close()
	})
}

// serveEach listens on loopback and runs serve on its own goroutine for
// every connection, until the test ends.
func serveEach(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	return serveEachOn(t, "127.0.0.1:0", serve)
}

// serveEachOn is serveEach on addr.
func serveEachOn(t testing.TB, addr string, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

// proxyProc is a running proxy binary with its JSON log.
type proxyProc struct {
	addr string
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs []map[string]any
	more chan struct{}
	done chan struct{}
	// panics are the proxy's recovered-panic lines and any crash output;
	// each fails the test: a recovered panic is still a bug.
	panics []string
}

// panicMessage is the proxy's log line for a recovered panic
// (proxy.PanicMessage); "panic: " starts the runtime's crash report.
const panicMessage = "panic serving connection"

// startProxy runs the binary with args (plus --listen 127.0.0.1:0 and JSON
// logs) and waits until it listens.
func startProxy(t testing.TB, args ...string) *proxyProc {
	t.Helper()
	args = append([]string{"--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug"}, args...)
	p := startProc(t, exec.Command(binary, args...))
	rec := p.wait(t, "listening")
	p.addr = rec["address"].(string)
	return p
}

// startProc starts cmd, whose stderr is the proxy's JSON log.
func startProc(t testing.TB, cmd *exec.Cmd) *proxyProc {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proxyProc{cmd: cmd, more: make(chan struct{}, 1), done: make(chan struct{})}
	go p.readLogs(stderr)
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		cmd.Wait()
		p.mu.Lock()
		for _, m := range p.panics {
			t.Errorf("the proxy panicked (a bug even when recovered): %s", m)
		}
		p.mu.Unlock()
		if t.Failed() {
			for _, l := range p.snapshot() {
				t.Logf("proxy log: %v", l)
			}
		}
	})
	return p
}

func (p *proxyProc) readLogs(r io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			m = map[string]any{"msg": "(not JSON) " + sc.Text()}
		}
		p.mu.Lock()
		if m["msg"] == panicMessage {
			p.panics = append(p.panics, fmt.Sprintf("%v\n%v", m["panic"], m["stack"]))
		}
		if strings.HasPrefix(sc.Text(), "panic: ") || strings.HasPrefix(sc.Text(), "fatal error: ") {
			p.panics = append(p.panics, sc.Text())
		}
		p.logs = append(p.logs, m)
		p.mu.Unlock()
		select {
		case p.more <- struct{}{}:
		default:
		}
	}
}

func (p *proxyProc) snapshot() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any{}, p.logs...)
}

// wait returns the n-th log record (counting from 1, default the first)
// whose message is msg.
func (p *proxyProc) wait(t testing.TB, msg string, nth ...int) map[string]any {
	t.Helper()
	want := 1
	if len(nth) > 0 {
		want = nth[0]
	}
	deadline := time.After(20 * time.Second)
	for {
		seen := 0
		for _, l := range p.snapshot() {
			if l["msg"] == msg {
				if seen++; seen == want {
					return l
				}
			}
		}
		select {
		case <-p.more:
		case <-p.done:
			t.Fatalf("proxy exited before logging %q", msg)
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("proxy never logged %q", msg)
		}
	}
}

// openssl returns the OpenSSL >= 3.5 command, or fails (CI) or skips.
func openssl(t testing.TB) string {
	t.Helper()
	peerOpenSSL.once.Do(resolveOpenSSL)
	if peerOpenSSL.err != nil {
		need(t, "OpenSSL 3.5", peerOpenSSL.err.Error())
	}
	return peerOpenSSL.path
}

var peerOpenSSL struct {
	once sync.Once
	path string
	err  error
}

// resolveOpenSSL finds OpenSSL 3.5 or later once per run: QSP_OPENSSL if
// set, else the project's tools/openssl35, which runs the system openssl
// when it is 3.5 or later and otherwise Debian 13's, fetched once into a
// cache. The peer it found is printed for the test summary.
func resolveOpenSSL() {
	p := &peerOpenSSL
	p.path = os.Getenv("QSP_OPENSSL")
	how := "QSP_OPENSSL"
	if p.path == "" {
		p.path, _ = filepath.Abs("tools/openssl35")
		how = "integration/tools/openssl35"
	}
	fix := "unset QSP_OPENSSL to let integration/tools/openssl35 provide one, or point it at an openssl 3.5 or later"
	if how != "QSP_OPENSSL" {
		fix = "or set QSP_OPENSSL to an openssl 3.5 or later"
	}
	cmd := exec.Command(p.path, "version")
	var stderr strings.Builder
	cmd.Stderr = io.MultiWriter(os.Stderr, &stderr) // the helper says when it fetches
	out, err := cmd.Output()
	if err != nil {
		// What the helper said is the reason; the skip or failure names it.
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		err = fmt.Errorf("%v: %s", err, strings.Join(lines[max(0, len(lines)-3):], " / "))
	}
	version, _, _ := strings.Cut(strings.TrimSpace(string(out)), " (")
	switch {
	case err != nil:
		p.err = fmt.Errorf("%s=%s: %v; %s", how, p.path, err, fix)
	case !atLeast35(version):
		p.err = fmt.Errorf("%s=%s is %q, not 3.5 or later; %s", how, p.path, version, fix)
	default:
		if how != "QSP_OPENSSL" {
			if which, err := exec.Command(p.path, "--which").Output(); err == nil {
				how += ": " + strings.TrimSpace(string(which))
			}
		}
		fmt.Printf("peer: %s (%s)\n", version, how)
	}
}

var (
	colours       = regexp.MustCompile("\x1b\\[[0-9;]*m")
	versionNumber = regexp.MustCompile(`\d+\.\d+`)
)

// peerVersion prints the first line of a peer's version output that has
// a version number in it, for the test summary.
func peerVersion(command string, args ...string) {
	out, _ := exec.Command(command, args...).Output()
	text := colours.ReplaceAllString(string(out), "") // testssl.sh's
	for _, line := range strings.Split(text, "\n") {
		if line = strings.Join(strings.Fields(line), " "); versionNumber.MatchString(line) {
			fmt.Printf("peer: %s (%s)\n", line, command)
			return
		}
	}
}

// atLeast35 reads `openssl version`: "OpenSSL 3.5.9 29 Sep 2026".
func atLeast35(version string) bool {
	f := strings.Fields(version)
	if len(f) < 2 || f[0] != "OpenSSL" {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(f[1], "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 3 || major == 3 && minor >= 5
}

// sclient is the outcome of one `openssl s_client` session.
type sclient struct {
	out      string // everything s_client printed
	group    string // "Negotiated TLS1.3 group" or "Peer Temp Key"
	peerSig  string // "Peer signature type"
	verified bool   // "Verify return code: 0 (ok)"
	echoed   bool   // the line sent came back
	err      error
}

// runSClient connects with s_client and extra args, sends a line and
// waits for it to come back, then closes.
func runSClient(t *testing.T, addr string, args ...string) sclient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	line := fmt.Sprintf("ping-%d", time.Now().UnixNano())
	cmd := exec.CommandContext(ctx, openssl(t), append([]string{"s_client", "-connect", addr, "-servername", "localhost"}, args...)...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	var r sclient
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, line+"\n")
	var b strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		text := sc.Text()
		b.WriteString(text + "\n")
		// OpenSSL 3.5 names a hybrid group on one line and a classical
		// one ("X25519, 253 bits") on another.
		if v, ok := strings.CutPrefix(text, "Negotiated TLS1.3 group: "); ok {
			r.group = v
		}
		if v, ok := strings.CutPrefix(text, "Peer Temp Key: "); ok && r.group == "" {
			r.group, _, _ = strings.Cut(v, ",")
		}
		if v, ok := strings.CutPrefix(text, "Peer signature type: "); ok {
			r.peerSig = v
		}
		if strings.Contains(text, "Verify return code: 0 (ok)") {
			r.verified = true
		}
		// s_client may print the echo right after a hex dump of the
		// session ticket, on the same line.
		if strings.HasSuffix(text, line) {
			r.echoed = true
			stdin.Close()
		}
	}
	r.err = cmd.Wait()
	r.out = b.String()
	return r
}
