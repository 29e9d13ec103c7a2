package integration

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Under socket activation a configuration that does not load costs
// neither the socket nor the process: each connection is reset (after a
// fresh attempt to load it, within about a second), STATUS= names the
// problem, the journal has it once, SIGHUP tries again, and the first
// connection after the file is fixed is served, with no other step.
func TestSocketActivationWaitsForValidConfig(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		need(t, "systemd-socket-activate", "apt-get install systemd (Debian's systemd package has it)")
	}
	notify := newNotifySocket(t)
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	good := jsonConfig(echoBackend(t), "")
	writeConfig(t, cfgPath, strings.Replace(good, `"target"`, `"tagret"`, 1))
	addr := freePort(t)
	p := startProc(t, exec.Command(activate, "-l", addr, "--fdname=https", "-E", "NOTIFY_SOCKET="+notify.path,
		binary, "--config-file", cfgPath, "--log-format", "json"))

	// The connection that starts the proxy is reset; so is every next one,
	// by the same process.
	wantReset(t, addr, true)
	problem := "STATUS=configuration error: " + cfgPath + ": tagret: unknown key"
	if lines := notify.expect(t, "READY=1", "STATUS="); !strings.HasPrefix(lines[1], problem) ||
		!strings.HasSuffix(lines[1], "; 0 connections reset until it loads") {
		t.Errorf("status while broken: %q, want it to start %q", lines[1], problem)
	}
	for range 3 {
		wantReset(t, addr, false)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	notify.expect(t, "RELOADING=1", "MONOTONIC_USEC=")
	if lines := notify.expect(t, "READY=1", "STATUS="); !strings.HasPrefix(lines[1], problem) ||
		!strings.HasSuffix(lines[1], "; 4 connections reset until it loads") {
		t.Errorf("status after a reload that still fails: %q", lines[1])
	}
	// Five failed attempts, one distinct failure: logged once.
	if n := logsContaining(p, "tagret: unknown key"); n != 1 {
		t.Errorf("the problem was logged %d times, want once", n)
	}

	// Fixed: the very next connection is served, PQ, through to the backend.
	writeConfig(t, cfgPath, good)
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("the first connection after the fix: %v", err)
	}
	if g := c.ConnectionState().CurveID; g != tls.X25519MLKEM768 {
		t.Errorf("negotiated %s", g)
	}
	io.WriteString(c, "after the fix\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); line != "after the fix\n" {
		t.Errorf("echo: %q, %v", line, err)
	}
	c.Close()
	if rec := p.wait(t, "configuration loaded: serving"); rec["reset"] != 4.0 || rec["level"] != "NOTICE" {
		t.Errorf("end of the wait: %v", rec)
	}
	if rec := p.wait(t, "listening"); rec["listener"] != "https" || rec["systemd"] != true {
		t.Errorf("listening: %v", rec)
	}
	if lines := notify.expect(t, "READY=1", "STATUS="); !strings.Contains(lines[1], "configuration loaded ") ||
		!strings.Contains(lines[1], "after 4 connections were reset") {
		t.Errorf("status once serving: %q", lines[1])
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	notify.expect(t, "STOPPING=1", "STATUS=draining")
	if code := exitCode(t, p); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// While it waits for a valid configuration the proxy pets the watchdog,
// and SIGTERM ends the wait at once, with exit status 0: a stop asked for
// is never a failure.
func TestWaitForConfigPetsWatchdogAndStops(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		need(t, "systemd-socket-activate", "apt-get install systemd (Debian's systemd package has it)")
	}
	notify := newNotifySocket(t)
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	writeConfig(t, cfgPath, `{"target": `)
	addr := freePort(t)
	p := startProc(t, exec.Command(activate, "-l", addr, "--fdname=https", "-E", "NOTIFY_SOCKET="+notify.path,
		"-E", "WATCHDOG_USEC=400000", binary, "--config-file", cfgPath))
	wantReset(t, addr, true)
	notify.expect(t, "READY=1", "STATUS=configuration error: ")
	for range 2 {
		notify.expect(t, "WATCHDOG=1", "STATUS=configuration error: ")
	}
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	lines := notify.next(t)
	for ; lines[0] == "WATCHDOG=1"; lines = notify.next(t) {
	}
	if want := []string{"STOPPING=1", "STATUS=stopping; no valid configuration was loaded"}; !slices.Equal(lines, want) {
		t.Errorf("datagram %q, want %q", lines, want)
	}
	if code := exitCode(t, p); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("SIGTERM while waiting took %v to exit", took)
	}
}

// wantReset connects to addr as a TLS client and wants the connection
// reset: no handshake, no clean end, no hang. first retries the TCP
// connect while systemd-socket-activate comes up.
func wantReset(t *testing.T, addr string, first bool) {
	t.Helper()
	start := time.Now()
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	for i := 0; err != nil && first && i < 50; i++ {
		time.Sleep(100 * time.Millisecond)
		raw, err = net.DialTimeout("tcp", addr, 5*time.Second)
	}
	if err != nil {
		t.Fatalf("connect: %v (the socket is gone)", err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	err = tls.Client(raw, &tls.Config{InsecureSkipVerify: true}).Handshake()
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("handshake while the configuration is broken: %v, want a reset", err)
	}
	// An attempt to load the configuration runs at most once a second.
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the reset took %v", took)
	}
}

// logsContaining counts the proxy's log lines, JSON or not, that
// contain s.
func logsContaining(p *proxyProc, s string) int {
	n := 0
	for _, l := range p.snapshot() {
		if msg, _ := l["msg"].(string); strings.Contains(msg, s) {
			n++
		}
	}
	return n
}
