package integration

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkLoad measures the proxy and the naive baseline (crypto/tls
// listener + two io.Copy, testdata/naive-proxy) side by side, each pinned
// to CPU 1 while the load runs on the other core (`make bench` pins it to
// CPU 0), and reports the proxy process's own CPU cost: full ML-DSA-65 +
// X25519MLKEM768 handshakes per proxy CPU-second, and proxy CPU-seconds
// per GiB forwarded each way (DESIGN.md, performance model).
func BenchmarkLoad(b *testing.B) {
	if _, err := exec.LookPath("taskset"); err != nil {
		b.Skip("taskset (util-linux) is needed to pin the proxy")
	}
	impls := []struct{ name, bin string }{{"proxy", binary}, {"naive", buildNaive(b)}}
	if old := os.Getenv("QSP_BENCH_BASELINE"); old != "" {
		// Another build of the proxy (say, of main), measured in the same
		// run for a before/after ratio.
		impls = append(impls, struct{ name, bin string }{"baseline", old})
	}
	for _, impl := range impls {
		b.Run("handshake/"+impl.name, func(b *testing.B) { benchHandshakes(b, impl.bin, "mldsa", false) })
	}
	for _, impl := range impls {
		b.Run("handshake-ecdsa/"+impl.name, func(b *testing.B) { benchHandshakes(b, impl.bin, "ecdsa", false) })
	}
	for _, impl := range impls {
		b.Run("resumed/"+impl.name, func(b *testing.B) { benchHandshakes(b, impl.bin, "mldsa", true) })
	}
	for _, impl := range impls {
		b.Run("echo64/"+impl.name, func(b *testing.B) { benchEcho(b, impl.bin) })
	}
	for _, dir := range []string{"up", "down"} {
		for _, impl := range impls {
			b.Run(dir+"/"+impl.name, func(b *testing.B) { benchBulkCPU(b, impl.bin, dir == "up") })
		}
	}
}

// buildNaive builds the naive baseline proxy.
func buildNaive(b *testing.B) string {
	naive := filepath.Join(b.TempDir(), "naive-proxy")
	if out, err := exec.Command("go", "build", "-o", naive, "./testdata/naive-proxy").CombinedOutput(); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	return naive
}

// pinned starts bin on CPU 1 in front of target.
func pinned(b *testing.B, bin, target string) (*proxyProc, int) {
	return pinnedAlg(b, bin, target, "mldsa")
}

// pinnedAlg is pinned serving the dev PKI's server-<alg> chain.
func pinnedAlg(b *testing.B, bin, target, alg string) (*proxyProc, int) {
	args := []string{"-c", "1", bin, "--listen", "127.0.0.1:0", "--target", target,
		"--cert", pki("server-" + alg + ".crt"), "--key", pki("server-" + alg + ".key")}
	if !strings.Contains(bin, "naive-proxy") {
		args = append(args, "--log-format", "json")
	}
	p := startProc(b, exec.Command("taskset", args...))
	p.addr = p.wait(b, "listening")["address"].(string)
	return p, p.cmd.Process.Pid
}

// cpuSeconds is the user+system CPU time of pid (proc(5), /proc/PID/stat
// fields 14 and 15, in clock ticks of 1/100 s on Linux).
func cpuSeconds(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

// benchHandshakes makes X25519MLKEM768 handshakes with the server's alg
// chain; resumed: with a session cache, every one after the first
// resuming (a TLS 1.3 ticket arrives with the first read, so each
// connection reads the echo of one byte).
func benchHandshakes(b *testing.B, bin, alg string, resumed bool) {
	p, pid := pinnedAlg(b, bin, echoBackend(b), alg)
	cfg := &tls.Config{InsecureSkipVerify: true, CurvePreferences: []tls.CurveID{tls.X25519MLKEM768}}
	if resumed {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	}
	before := cpuSeconds(b, pid)
	n := 0
	var one [1]byte
	for b.Loop() {
		c, err := tls.Dial("tcp", p.addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if resumed {
			if n > 0 && !c.ConnectionState().DidResume {
				b.Fatalf("handshake %d did not resume", n)
			}
			if _, err := c.Write(one[:]); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, one[:]); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
		n++
	}
	if cpu := cpuSeconds(b, pid) - before; cpu > 0 {
		b.ReportMetric(float64(n)/cpu, "hs/proxy-cpu-s")
	}
}

// benchEcho measures 64-byte round trips through one connection to an
// echo backend and reports their 99th percentile.
func benchEcho(b *testing.B, bin string) {
	p, _ := pinned(b, bin, echoBackend(b))
	c, err := tls.Dial("tcp", p.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg, got := make([]byte, 64), make([]byte, 64)
	var rtts []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			b.Fatal(err)
		}
		rtts = append(rtts, time.Since(start))
	}
	slices.Sort(rtts)
	b.ReportMetric(float64(rtts[len(rtts)*99/100].Microseconds()), "p99-µs")
}

const bulkOp = 1 << 20

func benchBulkCPU(b *testing.B, bin string, up bool) {
	chunk := make([]byte, bulkOp)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if up {
			io.Copy(io.Discard, c)
			return
		}
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	p, pid := pinned(b, bin, ln.Addr().String())
	c, err := tls.Dial("tcp", p.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(bulkOp)
	before := cpuSeconds(b, pid)
	var moved float64
	for b.Loop() {
		if up {
			_, err = c.Write(chunk)
		} else {
			_, err = io.ReadFull(c, chunk)
		}
		if err != nil {
			b.Fatal(err)
		}
		moved += bulkOp
	}
	cpu := cpuSeconds(b, pid) - before
	c.Close()
	if moved > 0 && cpu > 0 {
		b.ReportMetric(cpu/(moved/(1<<30)), "proxy-cpu-s/GiB")
	}
}
