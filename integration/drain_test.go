package integration

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func exitCode(t *testing.T, p *proxyProc) int {
	t.Helper()
	waited := make(chan error, 1)
	go func() { <-p.done; waited <- p.cmd.Wait() }()
	select {
	case err := <-waited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(20 * time.Second):
		t.Fatal("proxy did not exit")
	}
	return -1
}

// SIGTERM while a client is still sending: the listener closes at once,
// the open connection's data arrives whole, then the proxy exits 0.
func TestSIGTERMDrainsOpenConnections(t *testing.T) {
	p := startProxy(t, servingBothChains(echoBackend(t), "--drain-timeout", "20s")...)
	c, err := tls.Dial("tcp", p.addr, goClient(t, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "before SIGTERM;")
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, "stopping: draining open connections")
	if nc, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
		nc.Close()
		t.Error("the listener still accepts after SIGTERM")
	}
	time.Sleep(200 * time.Millisecond)
	io.WriteString(c, "after SIGTERM")
	c.CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "before SIGTERM;after SIGTERM" {
		t.Fatalf("got %q, %v", got, err)
	}
	if code := exitCode(t, p); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

// Past the drain timeout, a stuck connection is closed, the log says how
// many were cut, and the exit status is 3 (listed in the units'
// SuccessExitStatus=, so the stop does not mark them failed).
func TestDrainTimeoutClosesStuckConnections(t *testing.T) {
	p := startProxy(t, servingBothChains(echoBackend(t), "--drain-timeout", "300ms")...)
	c, err := tls.Dial("tcp", p.addr, goClient(t, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCode(t, p); code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	var closed, stopped map[string]any
	for _, l := range p.snapshot() {
		switch l["msg"] {
		case "connection closed":
			closed = l
		case "stopped: connections still open at drain_timeout were cut":
			stopped = l
		}
	}
	if stopped == nil || stopped["cut"] != 1.0 || stopped["level"] != "WARN" {
		t.Errorf("last line: %v, want the number cut (1)", stopped)
	}
	if closed == nil || closed["close_reason"] != "drain_timeout" {
		t.Errorf("closing line: %v", closed)
	}
	if _, err := c.Read(make([]byte, 1)); !isReset(err) {
		t.Errorf("client read after forced close: %v, want a connection reset", err)
	}
}

// A backend that never reads while the client uploads leaves the proxy
// blocked writing to it; SIGTERM with a 1 s drain timeout still ends the
// process within about 2 s, and the log says how many connections were
// cut.
func TestDrainTimeoutCutsBlockedUpload(t *testing.T) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	addr := backend(t, func(c *net.TCPConn) { <-stop })
	p := startProxy(t, servingBothChains(addr, "--drain-timeout", "1s")...)
	c, err := tls.Dial("tcp", p.addr, goClient(t, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	uploaded := make(chan error, 1)
	go func() {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := c.Write(chunk); err != nil {
				uploaded <- err
				return
			}
		}
	}()
	// Let every buffer on the way fill, so that the proxy is blocked
	// writing to the backend when the signal comes.
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	exitCode(t, p)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the proxy took %v to stop, want about the 1s drain timeout", d)
	}
	cut := p.wait(t, "drain timeout: cut open connections")
	if n, _ := cut["connections"].(float64); n != 1 {
		t.Errorf("drain timeout line %v, want connections=1", cut)
	}
	if r := closeReason(t, p); r != "drain_timeout" {
		t.Errorf("close_reason %q, want drain_timeout", r)
	}
	select {
	case err := <-uploaded:
		if !isReset(err) {
			t.Errorf("client upload ended with %v, want a connection reset", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the client's upload was never cut")
	}
}
