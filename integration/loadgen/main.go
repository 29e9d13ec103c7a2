// Command loadgen measures the built quantum-safe-proxy side by side with
// a naive Go TLS proxy (crypto/tls listener + two io.Copy, built from
// integration/testdata/naive-proxy) and, when it runs here, HAProxy 3.0
// on OpenSSL 3.5 (integration/tools/haproxy30), for every target of the
// performance issue: full ML-DSA-65, ML-DSA mTLS and ECDSA handshakes
// (all X25519MLKEM768), resumed handshakes, bulk upload and download, the
// 64-byte echo round trip and the memory of idle PQ connections.
//
// Each implementation under test runs pinned to one CPU (-proxy-cpu) and
// this program to another (-load-cpu); rounds are interleaved (proxy,
// naive, haproxy, proxy, ...) and the table gives each one's median and
// the ratios. Every handshake is checked: the chain verifies against the
// test CA, the group is X25519MLKEM768 and the leaf key is the one the
// workload serves; a mismatch ends the run with exit status 1, naming
// the check.
//
// Run it from the repository root after `make build`:
//
//	go run ./integration/loadgen -duration 500ms         # quick (make bench): about 2 minutes
//	go run ./integration/loadgen -rounds 5 -duration 3s  # full (make bench-full): about 10
//	go run ./integration/loadgen -workloads mldsa,resumed -impls proxy,naive
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command line.
type options struct {
	bin       string // the quantum-safe-proxy binary
	before    string // an earlier build of it, measured beside bin ("" for none)
	naiveSrc  string // the naive proxy's package directory
	haproxy   string // the haproxy command ("" for none)
	pkiDir    string // an existing `certs init` PKI, or "" to make one
	rounds    int
	duration  time.Duration
	conns     int // connections in flight for handshakes and bulk
	idleConns int
	workloads []string
	impls     []string
	proxyCPU  int
	loadCPU   int
	smoke     bool
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: error:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	if err := pinSelf(o.loadCPU); err != nil {
		return err
	}
	if err := raiseNoFile(2*o.idleConns + 1024); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "qsp-loadgen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b, err := newBench(o, tmp)
	if err != nil {
		return err
	}
	res, err := b.measure()
	if err != nil {
		return err
	}
	printReport(os.Stdout, b, res)
	return nil
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	o := &options{}
	fs.StringVar(&o.bin, "bin", "bin/quantum-safe-proxy", "the quantum-safe-proxy binary under test (make build)")
	fs.StringVar(&o.before, "before", "", "an earlier quantum-safe-proxy build to measure beside -bin as implementation \"before\" (what a change saved, in one run)")
	fs.StringVar(&o.naiveSrc, "naive", "integration/testdata/naive-proxy", "package directory of the naive baseline, built with go build")
	fs.StringVar(&o.haproxy, "haproxy", "integration/tools/haproxy30", "command that runs HAProxy 3.0 with OpenSSL 3.5; \"\" leaves HAProxy out")
	fs.StringVar(&o.pkiDir, "pki", "", "directory of a PKI written by `quantum-safe-proxy certs init` (default: a new one in a temporary directory)")
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds; the table gives medians")
	fs.DurationVar(&o.duration, "duration", time.Second, "length of each timed measurement")
	fs.IntVar(&o.conns, "conns", 8, "connections in flight (handshakes, bulk), enough to keep the proxy's core busy")
	fs.IntVar(&o.idleConns, "idle-conns", 5000, "idle PQ connections held open for the memory measurement")
	workloads := fs.String("workloads", strings.Join(workloadNames(), ","), "comma-separated workloads to run")
	impls := fs.String("impls", "proxy,naive,haproxy", "comma-separated implementations to compare (proxy first)")
	fs.IntVar(&o.proxyCPU, "proxy-cpu", 1, "CPU the implementation under test is pinned to")
	fs.IntVar(&o.loadCPU, "load-cpu", 0, "CPU this load generator (clients and backends) is pinned to")
	fs.BoolVar(&o.smoke, "smoke", false, "a few seconds' run that exercises every check (tests); its numbers mean nothing")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.smoke {
		o.rounds, o.duration, o.conns, o.idleConns = 1, 150*time.Millisecond, 2, 20
	}
	o.workloads = strings.Split(*workloads, ",")
	for _, w := range o.workloads {
		if !slices.Contains(workloadNames(), w) {
			return nil, fmt.Errorf("-workloads: %q is not one of %s", w, strings.Join(workloadNames(), ", "))
		}
	}
	o.impls = strings.Split(*impls, ",")
	if o.before != "" {
		abs, err := filepath.Abs(o.before)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			return nil, fmt.Errorf("-before: %v", err)
		}
		o.before = abs
	}
	if o.before != "" && !slices.Contains(o.impls, "before") {
		o.impls = slices.Insert(o.impls, min(1, len(o.impls)), "before")
	}
	for _, i := range o.impls {
		if !slices.Contains([]string{"proxy", "before", "naive", "haproxy"}, i) {
			return nil, fmt.Errorf("-impls: %q is not one of proxy, before, naive, haproxy", i)
		}
		if i == "before" && o.before == "" {
			return nil, fmt.Errorf("-impls: before needs -before BINARY, the earlier build to measure")
		}
	}
	if o.impls[0] != "proxy" {
		return nil, fmt.Errorf("-impls: the list starts with proxy, the one the ratios are about")
	}
	if o.rounds < 1 || o.duration <= 0 || o.conns < 1 || o.idleConns < 1 {
		return nil, fmt.Errorf("-rounds, -duration, -conns and -idle-conns must be positive")
	}
	if o.proxyCPU == o.loadCPU {
		return nil, fmt.Errorf("-proxy-cpu and -load-cpu are both %d: the proxy and the load need a CPU each", o.proxyCPU)
	}
	var err error
	if o.bin, err = filepath.Abs(o.bin); err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.bin); err != nil {
		return nil, fmt.Errorf("-bin: %v (run make build first)", err)
	}
	return o, nil
}

// pinnedEnv marks a load generator that has already pinned itself.
const pinnedEnv = "QSP_LOADGEN_PINNED"

// pinSelf runs this program again under `taskset -c cpu`, so that every
// thread of the load (the Go runtime starts threads before main) stays off
// the proxy's CPU; the runtime then also sizes GOMAXPROCS to that one CPU.
func pinSelf(cpu int) error {
	if os.Getenv(pinnedEnv) != "" {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return fmt.Errorf("taskset (Debian package util-linux) is needed to pin the proxy and the load to CPUs of their own")
	}
	args := append([]string{taskset, "-c", strconv.Itoa(cpu), self}, os.Args[1:]...)
	env := append(os.Environ(), pinnedEnv+"=1")
	return syscall.Exec(taskset, args, env) // returns only on failure
}

// raiseNoFile lifts RLIMIT_NOFILE to at least n (the idle measurement
// holds a client and a backend descriptor per connection here, and the
// proxy two of its own); the soft limit goes up to the hard one. Setting it explicitly also makes os/exec pass the
// raised limit to the proxies it starts, instead of the original one.
func raiseNoFile(n int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	want := uint64(n)
	if lim.Max < want {
		lim.Max = want // root may; otherwise the error below says what to do
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raising the open-file limit to %d: %v (ulimit -Hn %d as root, or a smaller -idle-conns)", want, err, want)
	}
	return nil
}
