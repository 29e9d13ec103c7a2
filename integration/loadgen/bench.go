package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// bench is one run: the binaries, the PKI, and the client side.
type bench struct {
	o          *options
	tmp        string
	naive      string // the built naive proxy
	pkiDir     string
	roots      *x509.CertPool
	clientCert tls.Certificate // client-mldsa: ML-DSA-65 key, ML-DSA root
	// mldsaCert and mldsaKey are the ML-DSA workloads' chain (writeMLDSALeaf).
	mldsaCert, mldsaKey string
	impls               []string // those that run here
	notes               []string // what was left out, and why
	haproxyVer          string
	// settle is how long the idle workload waits before reading the RSS.
	settle time.Duration
	// busy is the share of its CPU the server used in the last timed
	// measurement: near 1 when the load saturates it.
	busy float64
}

// results[workload][impl] holds one value list per round.
type results map[string]map[string][][]float64

func newBench(o *options, tmp string) (*bench, error) {
	b := &bench{o: o, tmp: tmp, pkiDir: o.pkiDir, settle: 2 * time.Second}
	if o.smoke {
		b.settle = 0
	}
	if b.pkiDir == "" {
		b.pkiDir = filepath.Join(tmp, "pki")
		if out, err := exec.Command(o.bin, "certs", "init", "--dir", b.pkiDir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s certs init: %v\n%s", o.bin, err, out)
		}
	}
	ca, err := os.ReadFile(b.pki("ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("-pki: %v (a directory written by `quantum-safe-proxy certs init`)", err)
	}
	if b.roots, err = loadRoots(ca); err != nil {
		return nil, fmt.Errorf("%s: %v", b.pki("ca.crt"), err)
	}
	if b.clientCert, err = tls.LoadX509KeyPair(b.pki("client-mldsa.crt"), b.pki("client-mldsa.key")); err != nil {
		return nil, fmt.Errorf("-pki: client-mldsa: %v", err)
	}
	if b.mldsaCert, b.mldsaKey, err = writeMLDSALeaf(b.pkiDir, tmp); err != nil {
		return nil, err
	}
	for _, impl := range o.impls {
		switch impl {
		case "proxy", "before":
		case "naive":
			b.naive = filepath.Join(tmp, "naive-proxy")
			// The toolchain this program runs on builds the baseline too,
			// whatever GOTOOLCHAIN the environment says.
			build := exec.Command("go", "build", "-o", b.naive, "./"+filepath.Clean(o.naiveSrc))
			build.Env = append(os.Environ(), "GOTOOLCHAIN="+runtime.Version())
			if out, err := build.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("building the naive proxy from %s: %v\n%s", o.naiveSrc, err, out)
			}
		case "haproxy":
			if err := b.findHAProxy(); err != nil {
				b.notes = append(b.notes, "HAProxy left out: "+err.Error())
				fmt.Fprintln(os.Stderr, "loadgen: warning: HAProxy left out:", err)
				continue
			}
		}
		b.impls = append(b.impls, impl)
	}
	return b, nil
}

// findHAProxy runs `haproxy -vv` (which fetches Debian 13's HAProxy once,
// see integration/tools/haproxy30) and notes its version and OpenSSL's.
func (b *bench) findHAProxy() error {
	if b.o.haproxy == "" {
		return fmt.Errorf("-haproxy is empty")
	}
	path, err := exec.LookPath(b.o.haproxy)
	if err != nil {
		return err
	}
	b.o.haproxy, _ = filepath.Abs(path)
	out, err := exec.Command(b.o.haproxy, "-vv").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s -vv: %v: %s", b.o.haproxy, err, lastLine(string(out)))
	}
	var version, ssl string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "HAProxy version "); ok {
			version, _, _ = strings.Cut(v, " ")
		}
		if v, ok := strings.CutPrefix(line, "Running on OpenSSL version : "); ok {
			ssl = v
		}
	}
	if !hasPQOpenSSL(ssl) {
		return fmt.Errorf("%s runs on %q; X25519MLKEM768 and ML-DSA need OpenSSL 3.5 or later", b.o.haproxy, ssl)
	}
	b.haproxyVer = fmt.Sprintf("HAProxy %s on %s", version, ssl)
	return nil
}

// hasPQOpenSSL reports whether ssl, as `haproxy -vv` names the OpenSSL it
// runs on ("OpenSSL 3.5.9 29 Sep 2026"), is 3.5 or later, the first with
// X25519MLKEM768 and ML-DSA. Versions compare as numbers: 3.10 and 4.0
// are later than 3.5.
func hasPQOpenSSL(ssl string) bool {
	v, ok := strings.CutPrefix(ssl, "OpenSSL ")
	if !ok {
		return false
	}
	v, _, _ = strings.Cut(v, " ")
	major, rest, _ := strings.Cut(v, ".")
	minor, _, _ := strings.Cut(rest, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > 3 || ma == 3 && mi >= 5
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func (b *bench) pki(name string) string { return filepath.Join(b.pkiDir, name) }

// measure runs every round: in each, every workload on every
// implementation in turn, so that drift of the machine spreads over all.
func (b *bench) measure() (results, error) {
	res := results{}
	for round := 1; round <= b.o.rounds; round++ {
		for _, name := range b.o.workloads {
			w := workloadByName(name)
			if res[name] == nil {
				res[name] = map[string][][]float64{}
			}
			for _, impl := range b.impls {
				b.busy = 0
				v, err := b.runOne(w, impl)
				if err != nil {
					return nil, fmt.Errorf("%s on %s (round %d): %w", name, impl, round, err)
				}
				res[name][impl] = append(res[name][impl], v)
				busy := ""
				if b.busy > 0 {
					busy = fmt.Sprintf(" (its CPU %.0f %% busy)", 100*b.busy)
				}
				fmt.Fprintf(os.Stderr, "round %d/%d %-10s %-7s %s%s\n", round, b.o.rounds, name, impl, formatValues(v, w), busy)
			}
		}
	}
	return res, nil
}

func workloadByName(name string) *workload {
	for _, w := range workloads {
		if w.name == name {
			return w
		}
	}
	panic("unknown workload " + name)
}

// backend is the plain service behind the proxy, in this process (on the
// load CPU): it echoes, discards (counting) or sends without end.
type backend struct {
	ln       net.Listener
	kind     kind
	received atomic.Int64
	mu       sync.Mutex
	conns    map[net.Conn]bool
}

func newBackend(k kind) (*backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	be := &backend{ln: ln, kind: k, conns: map[net.Conn]bool{}}
	go be.accept()
	return be, nil
}

func (be *backend) addr() string { return be.ln.Addr().String() }

func (be *backend) accept() {
	for {
		c, err := be.ln.Accept()
		if err != nil {
			return
		}
		be.mu.Lock()
		be.conns[c] = true
		be.mu.Unlock()
		go be.serve(c)
	}
}

// serve handles one connection. The echo buffer is small: the idle
// workload holds thousands of these, and the echoes are short.
func (be *backend) serve(c net.Conn) {
	defer func() {
		c.Close()
		be.mu.Lock()
		delete(be.conns, c)
		be.mu.Unlock()
	}()
	// Every client starts with a one-byte echo (client.dial).
	one := []byte{0}
	if _, err := io.ReadFull(c, one); err != nil {
		return
	}
	if _, err := c.Write(one); err != nil {
		return
	}
	switch be.kind {
	case upload:
		buf := make([]byte, bulkChunk)
		for {
			n, err := c.Read(buf)
			be.received.Add(int64(n))
			if err != nil {
				return
			}
		}
	case download:
		buf := make([]byte, bulkChunk)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	default:
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

// close stops accepting and closes every connection still open.
func (be *backend) close() {
	be.ln.Close()
	be.mu.Lock()
	defer be.mu.Unlock()
	for c := range be.conns {
		c.Close()
	}
}
