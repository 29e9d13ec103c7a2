package integration

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func greeting(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, *bufio.Reader, string) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return c, r, line[:len(line)-1]
}

func roundTrip(t *testing.T, c *tls.Conn, r *bufio.Reader, msg string) {
	t.Helper()
	io.WriteString(c, msg+"\n")
	if got, err := r.ReadString('\n'); err != nil || got != msg+"\n" {
		t.Fatalf("round trip: %q, %v", got, err)
	}
}

// A connection opened before a reload keeps flowing to the old target;
// new connections reach the new one; a broken config file or a
// half-written key leaves the previous state serving.
func TestReloadKeepsOpenConnectionsAndRefusesBrokenState(t *testing.T) {
	dir := t.TempDir()
	a, b := namedBackend(t, "A"), namedBackend(t, "B")
	key := filepath.Join(dir, "server.key")
	data, _ := os.ReadFile(pki("server-mldsa.key"))
	os.WriteFile(key, data, 0o600)
	cfgPath := filepath.Join(dir, "config.json")
	cfg := func(target string) string {
		return `{"target": "` + target + `", "cert_path": "` + pki("server-mldsa.crt") + `", "key_path": "` + key + `"}`
	}
	writeConfig(t, cfgPath, cfg(a))
	p := startProxy(t, "--config-file", cfgPath)

	old, oldR, name := greeting(t, p.addr, goClient(t, "", ""))
	if name != "A" {
		t.Fatalf("first target %q", name)
	}
	writeConfig(t, cfgPath, cfg(b))
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.wait(t, "reloaded")
	roundTrip(t, old, oldR, "still on A")
	expectTarget(t, p.addr, "B", "after reload")
	old.Close()

	writeConfig(t, cfgPath, `{"target": "`+a+`", "cert_path": `) // broken JSON
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.wait(t, "reload failed: still serving the previous configuration", 1)
	expectTarget(t, p.addr, "B", "after a broken config")

	writeConfig(t, cfgPath, cfg(a))
	os.WriteFile(key, data[:len(data)/2], 0o600) // a key caught half-written
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.wait(t, "reload failed: still serving the previous configuration", 2)
	expectTarget(t, p.addr, "B", "after a half-written key")
}

// expectTarget checks that a new connection reaches the backend named want.
func expectTarget(t *testing.T, addr, want, when string) {
	t.Helper()
	c, _, name := greeting(t, addr, goClient(t, "", ""))
	c.Close()
	if name != want {
		t.Errorf("%s: reached backend %q, want %q", when, name, want)
	}
}

// 50 reloads while clients keep connecting and sending: no connection
// fails and every byte arrives, checked by count and SHA-256.
func TestFiftyReloadsUnderTraffic(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	targets := []string{echoBackend(t), echoBackend(t)}
	writeConfig(t, cfgPath, jsonConfig(targets[0], ""))
	p := startProxy(t, "--config-file", cfgPath, "--log-level", "info")

	var stop atomic.Bool
	var conns, sent, failures atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := make([]byte, 64<<10+w)
			for !stop.Load() {
				rand.Read(payload)
				if err := echoOnce(p.addr, payload); err != nil {
					failures.Add(1)
					t.Errorf("connection failed during reloads: %v", err)
					return
				}
				conns.Add(1)
				sent.Add(int64(len(payload)))
			}
		}()
	}
	for i := 1; i <= 50; i++ {
		writeConfig(t, cfgPath, jsonConfig(targets[i%2], ""))
		p.cmd.Process.Signal(syscall.SIGHUP)
		p.wait(t, "reloaded", i)
		// Let traffic complete between every two reloads.
		for before, deadline := conns.Load(), time.Now().Add(10*time.Second); conns.Load() == before && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	stop.Store(true)
	wg.Wait()
	if failures.Load() != 0 || conns.Load() < 50 {
		t.Fatalf("%d connections, %d failures", conns.Load(), failures.Load())
	}
	t.Logf("50 reloads, %d connections, %d bytes each way, all intact", conns.Load(), sent.Load())
}

// echoOnce sends payload, half-closes, and checks the echo by length and hash.
func echoOnce(addr string, payload []byte) error {
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return err
	}
	defer c.Close()
	go func() {
		c.Write(payload)
		c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if len(got) != len(payload) || sha256.Sum256(got) != sha256.Sum256(payload) {
		return fmt.Errorf("got %d bytes (hash match %v), sent %d", len(got), bytes.Equal(got, payload), len(payload))
	}
	return nil
}

// A new listen address needs a restart: the reload reports it and applies
// the rest, and the proxy keeps its socket.
func TestReloadReportsListenChange(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	cfg := func(listen, target string) string {
		return `{"listen": "` + listen + `", "target": "` + target + `", "cert_path": "` + pki("server-mldsa.crt") + `", "key_path": "` + pki("server-mldsa.key") + `"}`
	}
	writeConfig(t, cfgPath, cfg("127.0.0.1:0", namedBackend(t, "A")))
	p := startProc(t, exec.Command(binary, "--config-file", cfgPath, "--log-format", "json"))
	p.addr = p.wait(t, "listening")["address"].(string)
	writeConfig(t, cfgPath, cfg("127.0.0.1:1", namedBackend(t, "B")))
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.wait(t, "reload: listen changes only with a restart; keeping the current value")
	p.wait(t, "reloaded")
	expectTarget(t, p.addr, "B", "after a reload with a new listen address")
}
