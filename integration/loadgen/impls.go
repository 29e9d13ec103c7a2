package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// serve is what one measurement asks an implementation to serve.
type serve struct {
	cert, key string // the chain and key, PEM
	clientCA  string // roots client certificates must chain to; "" for no client auth
	target    string // the backend, host:port
}

// server is a running implementation under test, pinned to its CPU.
type server struct {
	addr string
	cmd  *exec.Cmd
	pid  int
	tail *tailBuffer // its last output, for errors
	// exited is closed when the process has ended.
	exited chan struct{}
}

// run starts cmd and watches for its end.
func (s *server) run() error {
	s.exited = make(chan struct{})
	if err := s.cmd.Start(); err != nil {
		return err
	}
	// taskset execs the program (and tools/haproxy30 its loader): one
	// process, whose CPU time and memory are the implementation's.
	s.pid = s.cmd.Process.Pid
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	return nil
}

// stop ends the server and waits for it.
func (s *server) stop() {
	s.cmd.Process.Kill()
	<-s.exited
}

// start runs implementation name for one measurement.
func (b *bench) start(name string, sv serve) (*server, error) {
	switch name {
	case "proxy", "before":
		args := []string{"--listen", "127.0.0.1:0", "--target", sv.target,
			"--cert", sv.cert, "--key", sv.key, "--log-format", "json"}
		if sv.clientCA != "" {
			args = append(args, "--ca-cert", sv.clientCA, "--client-cert-mode", "required")
		}
		bin := b.o.bin
		if name == "before" {
			bin = b.o.before
		}
		return b.startLogged(name, bin, args)
	case "naive":
		args := []string{"-listen", "127.0.0.1:0", "-target", sv.target, "-cert", sv.cert, "-key", sv.key}
		if sv.clientCA != "" {
			args = append(args, "-client-ca", sv.clientCA)
		}
		return b.startLogged(name, b.naive, args)
	case "haproxy":
		return b.startHAProxy(sv)
	}
	panic("unknown implementation " + name)
}

// startLogged starts a Go implementation pinned to the proxy CPU and waits
// for its JSON "listening" line, which gives the address.
func (b *bench) startLogged(name, bin string, args []string) (*server, error) {
	cmd := exec.Command("taskset", append([]string{"-c", strconv.Itoa(b.o.proxyCPU), bin}, args...)...)
	s := &server{cmd: cmd, tail: &tailBuffer{}}
	lw := &listenWatch{out: s.tail, addr: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = s.tail, lw
	if err := s.run(); err != nil {
		return nil, err
	}
	select {
	case s.addr = <-lw.addr:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("%s exited: %s", name, s.tail)
	case <-time.After(30 * time.Second):
	}
	s.stop()
	return nil, fmt.Errorf("%s did not start listening: %s", name, s.tail)
}

// listenWatch passes a Go implementation's log on to out and sends the
// address of its first JSON "listening" line to addr. The per-connection
// lines that follow are read too (and kept only in out's tail), lest the
// proxy block on a full pipe.
type listenWatch struct {
	out     io.Writer
	addr    chan string
	partial []byte
	found   bool
}

func (l *listenWatch) Write(p []byte) (int, error) {
	l.out.Write(p)
	if l.found {
		return len(p), nil
	}
	l.partial = append(l.partial, p...)
	for {
		line, rest, ok := bytes.Cut(l.partial, []byte("\n"))
		if !ok {
			return len(p), nil
		}
		l.partial = rest
		var rec struct{ Msg, Address string }
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
			l.found, l.partial = true, nil
			l.addr <- rec.Address
			return len(p), nil
		}
	}
}

// haproxyConfig is a TLS-terminating TCP proxy, as close to its defaults
// as a configuration gets: one thread (it runs on one CPU), connection
// limit above the idle measurement (it asks for two descriptors per
// connection and more), no logging.
const haproxyConfig = `global
	nbthread 1
	maxconn %d
defaults
	mode tcp
	timeout connect 5s
	timeout client 1h
	timeout server 1h
frontend tls
	bind %s ssl crt %s%s
	default_backend plain
backend plain
	server backend %s
`

// startHAProxy writes a configuration for sv and runs HAProxy on it. Its
// crt is the chain followed by the key, in one file.
func (b *bench) startHAProxy(sv serve) (*server, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	pem := filepath.Join(b.tmp, "haproxy-"+filepath.Base(sv.cert)+".pem")
	var data []byte
	for _, f := range []string{sv.cert, sv.key} {
		d, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		data = append(data, d...)
	}
	if err := os.WriteFile(pem, data, 0o600); err != nil {
		return nil, err
	}
	verify := ""
	if sv.clientCA != "" {
		verify = " ca-file " + sv.clientCA + " verify required"
	}
	cfg := filepath.Join(b.tmp, "haproxy.cfg")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, haproxyConfig, b.o.idleConns+1000, addr, pem, verify, sv.target), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command("taskset", "-c", strconv.Itoa(b.o.proxyCPU), b.o.haproxy, "-f", cfg, "-db")
	s := &server{addr: addr, cmd: cmd, tail: &tailBuffer{}}
	cmd.Stdout, cmd.Stderr = s.tail, s.tail
	if err := s.run(); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("haproxy exited: %s", s.tail)
		default:
		}
	}
	s.stop()
	return nil, fmt.Errorf("haproxy did not start listening on %s: %s", addr, s.tail)
}

// freePort returns a loopback address no one listens on just now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cpuSeconds is the user+system CPU time of pid: /proc/PID/stat fields 14
// and 15 (proc(5)), in clock ticks of 1/100 s (USER_HZ on Linux).
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[i+2:]))
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %v", pid, err)
	}
	return (utime + stime) / 100, nil
}

// rssKiB is the resident set of pid (VmRSS in /proc/PID/status).
func rssKiB(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if n := len(t.buf); n > 4096 {
		t.buf = append(t.buf[:0], t.buf[n-4096:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
