package main

import (
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// kind is how a workload loads the proxy.
type kind int

const (
	handshakes kind = iota // full handshakes, one connection after another per client
	resumed                // the same, resuming each client's last session
	upload                 // bulk client -> backend
	download               // bulk backend -> client
	echo                   // 64-byte round trips on one connection
	idle                   // many open connections, silent
)

// workload is one row of the table.
type workload struct {
	name  string // for -workloads
	title string // the row
	kind  kind
	leaf  string // the served chain's key: "ML-DSA-65" or "ECDSA P-256"
	mtls  bool   // clients present the ML-DSA client certificate, servers require it
	// units of the measurement's values: one, or two for bulk.
	units []string
}

var workloads = []*workload{
	{name: "mldsa", title: "ML-DSA-65 + X25519MLKEM768 full handshakes per proxy CPU-second", kind: handshakes, leaf: "ML-DSA-65", units: []string{"hs/CPU-s"}},
	{name: "mldsa-mtls", title: "same with ML-DSA client certificates (mTLS)", kind: handshakes, leaf: "ML-DSA-65", mtls: true, units: []string{"hs/CPU-s"}},
	{name: "ecdsa", title: "ECDSA P-256 + X25519MLKEM768 full handshakes per proxy CPU-second", kind: handshakes, leaf: "ECDSA P-256", units: []string{"hs/CPU-s"}},
	{name: "resumed", title: "resumed TLS 1.3 handshakes (PSK + X25519MLKEM768) per proxy CPU-second", kind: resumed, leaf: "ML-DSA-65", units: []string{"hs/CPU-s"}},
	{name: "upload", title: "bulk upload: MB/s, proxy CPU s per GiB", kind: upload, leaf: "ML-DSA-65", units: []string{"MB/s", "CPU-s/GiB"}},
	{name: "download", title: "bulk download: MB/s, proxy CPU s per GiB", kind: download, leaf: "ML-DSA-65", units: []string{"MB/s", "CPU-s/GiB"}},
	{name: "echo", title: "64-byte echo round trip p99, µs", kind: echo, leaf: "ML-DSA-65", units: []string{"µs"}},
	{name: "idle", title: "memory per idle PQ connection, KiB", kind: idle, leaf: "ML-DSA-65", units: []string{"KiB"}},
}

func workloadNames() []string {
	var names []string
	for _, w := range workloads {
		names = append(names, w.name)
	}
	return names
}

// bulkChunk is the size of each write and read of the bulk workloads and
// the backend: large enough that a core's time goes to moving bytes, not
// to calls.
const bulkChunk = 256 << 10

// runOne measures workload w on implementation impl once.
func (b *bench) runOne(w *workload, impl string) ([]float64, error) {
	be, err := newBackend(w.kind)
	if err != nil {
		return nil, err
	}
	defer be.close()
	sv := serve{cert: b.mldsaCert, key: b.mldsaKey, target: be.addr()}
	if w.leaf == "ECDSA P-256" {
		sv.cert, sv.key = b.pki("server-ecdsa.crt"), b.pki("server-ecdsa.key")
	}
	if w.mtls {
		sv.clientCA = b.pki("ca.crt")
	}
	srv, err := b.start(impl, sv)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	if w.mtls {
		if err := b.refusesAnonymous(srv.addr); err != nil {
			return nil, err
		}
	}
	switch w.kind {
	case handshakes, resumed:
		return b.handshakes(w, srv)
	case upload, download:
		return b.bulk(w, srv, be)
	case echo:
		return b.echo(w, srv)
	case idle:
		return b.idle(w, srv)
	}
	panic("unknown workload kind")
}

// timed runs work on n goroutines (each with its own client) while it
// reads the server's CPU time after a warm-up of a quarter of the
// duration and again after the duration; count is read at both points.
// It returns the count and CPU seconds between them and the elapsed time.
func (b *bench) timed(w *workload, srv *server, n int, count *atomic.Int64, work func(c *client, stop *atomic.Bool) error) (float64, float64, time.Duration, error) {
	var stop atomic.Bool
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := work(b.newClient(w), &stop); err != nil {
				errs <- err
				stop.Store(true)
			}
		}()
	}
	var n0, n1 int64
	var cpu0, cpu1 float64
	var start time.Time
	var elapsed time.Duration
	var err error
	if sleepUnless(b.o.duration/4, &stop) {
		n0, start = count.Load(), time.Now()
		cpu0, err = cpuSeconds(srv.pid)
		if err == nil && sleepUnless(b.o.duration, &stop) {
			n1, elapsed = count.Load(), time.Since(start)
			cpu1, err = cpuSeconds(srv.pid)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	if e, ok := <-errs; ok {
		return 0, 0, 0, e
	}
	if err != nil {
		return 0, 0, 0, err
	}
	b.busy = (cpu1 - cpu0) / elapsed.Seconds()
	return float64(n1 - n0), cpu1 - cpu0, elapsed, nil
}

// sleepUnless sleeps for d unless stop is set first (a client failed);
// it reports whether it slept the whole time.
func sleepUnless(d time.Duration, stop *atomic.Bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if stop.Load() {
			return false
		}
	}
	return !stop.Load()
}

// handshakes: each client connects, checks, echoes a byte and closes, over
// and over; the value is connections per proxy CPU-second.
func (b *bench) handshakes(w *workload, srv *server) ([]float64, error) {
	var count atomic.Int64
	n, cpu, _, err := b.timed(w, srv, b.o.conns, &count, func(c *client, stop *atomic.Bool) error {
		for !stop.Load() {
			conn, err := c.dial(srv.addr)
			if err != nil {
				return err
			}
			conn.Close()
			count.Add(1)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return []float64{n / max(cpu, 0.01)}, nil
}

// bulk moves bytes one way through a few connections for the duration;
// the values are MB/s and the proxy's CPU-seconds per GiB. Bytes count
// where they arrive: at the backend for uploads, at the client for
// downloads.
func (b *bench) bulk(w *workload, srv *server, be *backend) ([]float64, error) {
	var got *atomic.Int64 = &be.received
	var received atomic.Int64
	if w.kind == download {
		got = &received
	}
	n, cpu, elapsed, err := b.timed(w, srv, min(b.o.conns, 4), got, func(c *client, stop *atomic.Bool) error {
		conn, err := c.dial(srv.addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		buf := make([]byte, bulkChunk)
		for !stop.Load() {
			if w.kind == upload {
				_, err = conn.Write(buf) // the backend counts what arrives
			} else {
				var n int
				n, err = conn.Read(buf)
				received.Add(int64(n))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return []float64{n / 1e6 / elapsed.Seconds(), cpu / max(n/(1<<30), 1e-9)}, nil
}

// echo sends 64 bytes and waits for them to come back, one round trip at
// a time on one connection; the value is the 99th percentile in µs.
func (b *bench) echo(w *workload, srv *server) ([]float64, error) {
	conn, err := b.newClient(w).dial(srv.addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	msg, got := make([]byte, 64), make([]byte, 64)
	var rtts []time.Duration
	warm := time.Now().Add(b.o.duration / 4)
	for end := warm.Add(b.o.duration); time.Now().Before(end); {
		start := time.Now()
		if _, err := conn.Write(msg); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(conn, got); err != nil {
			return nil, err
		}
		if start.After(warm) {
			rtts = append(rtts, time.Since(start))
		}
	}
	if len(rtts) == 0 {
		return nil, errors.New("echo: no round trip in the measured time")
	}
	slices.Sort(rtts)
	return []float64{float64(rtts[len(rtts)*99/100].Nanoseconds()) / 1e3}, nil
}

// idle opens idleConns connections (each checked and one byte echoed, so
// the proxy has dialed the backend), leaves them silent, lets the proxy's
// memory settle and reports its RSS growth per connection in KiB.
func (b *bench) idle(w *workload, srv *server) ([]float64, error) {
	before, err := rssKiB(srv.pid)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var next atomic.Int64
	errs := make(chan error, b.o.conns)
	var wg sync.WaitGroup
	for range b.o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := b.newClient(w)
			for next.Add(1) <= int64(b.o.idleConns) {
				conn, err := c.dial(srv.addr)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				conns = append(conns, conn)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err, ok := <-errs; ok {
		return nil, err
	}
	// Garbage from the handshakes is collected and returned lazily; give
	// the runtime (or allocator) time, as a long-lived sidecar would have.
	time.Sleep(b.settle)
	after, err := rssKiB(srv.pid)
	if err != nil {
		return nil, err
	}
	return []float64{(after - before) / float64(len(conns))}, nil
}
