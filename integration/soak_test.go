package integration

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	be "encoding/binary"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The soak: 1,000 concurrent clients (Go's, session cache on) send and
// receive random amounts through the proxy, each half-closing when it has
// sent all, and check every byte both ways by SHA-256, while SIGHUP lands
// every 100 ms and the served certificate is replaced on disk by a fresh
// one from the same CA every second. Nothing may fail or be lost.
// QSP_SOAK_TIME sets how long it runs (default 15s; `make soak` runs it
// for minutes) and QSP_SOAK_CONNS how many clients (default 1000).
func TestSoak(t *testing.T) {
	length := envDuration(t, "QSP_SOAK_TIME", 15*time.Second)
	clients := envInt(t, "QSP_SOAK_CONNS", 1000)
	raiseNoFile(t, uint64(2*clients+1000))

	ca := newSoakCA(t)
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	ca.rotate(t, certPath, keyPath)
	backend := soakBackend(t)
	// The soak checks that nothing fails or is lost, not latency: on a
	// shared, saturated CPU a full handshake may wait longer than the
	// default 10 s, so both ends allow a minute.
	p := startProxy(t, "--target", backend, "--cert", certPath, "--key", keyPath, "--handshake-timeout", "60s")

	var s soakStats
	stop := make(chan struct{})
	var chores sync.WaitGroup
	chores.Go(func() { s.reloads = every(stop, 100*time.Millisecond, func() { p.cmd.Process.Signal(syscall.SIGHUP) }) })
	chores.Go(func() { s.rotations = every(stop, time.Second, func() { ca.rotate(t, certPath, keyPath) }) })

	cfg := &tls.Config{RootCAs: ca.pool, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(clients)}
	end := time.Now().Add(length)
	var workers sync.WaitGroup
	for range clients {
		workers.Go(func() {
			for time.Now().Before(end) {
				s.one(t, p.addr, cfg)
			}
		})
	}
	workers.Wait()
	close(stop)
	chores.Wait()

	// A reload that reads the files between the key's rename and the
	// certificate's finds a key that does not match; it is refused and
	// the chain in force stays, which is what must happen.
	refused, cut, reloadFailed, halfWritten := 0, 0, 0, 0
	for _, l := range p.snapshot() {
		switch {
		case l["msg"] == "handshake refused":
			refused++
		case l["msg"] == "connection closed" && l["close_reason"] != "client_closed" && l["close_reason"] != "backend_closed":
			cut++
		case l["msg"] == "reload failed: still serving the previous configuration":
			reloadFailed++
		case l["level"] == "ERROR" && strings.Contains(l["msg"].(string), "does not match"):
			halfWritten++
		case l["level"] == "ERROR":
			t.Errorf("proxy error: %v", l["msg"])
		}
	}
	t.Logf("soak %v, %d concurrent clients: %d connections (%d resumed), %d bytes up, %d bytes down, %d SIGHUPs (%d reloads refused, all for a rotation half-written), %d certificate rotations (%d served leaves seen); %d failed, %d corrupted, %d refused and %d cut by the proxy",
		length, clients, s.conns.Load(), s.resumed.Load(), s.up.Load(), s.down.Load(), s.reloads, reloadFailed, s.rotations,
		s.leaves(), s.failed.Load(), s.corrupt.Load(), refused, cut)
	if s.failed.Load()+s.corrupt.Load() > 0 || refused+cut > 0 {
		t.Errorf("%d connections failed, %d corrupted; the proxy refused %d and cut %d", s.failed.Load(), s.corrupt.Load(), refused, cut)
	}
	if reloadFailed != halfWritten {
		t.Errorf("%d reloads failed, %d of them for a rotation half-written", reloadFailed, halfWritten)
	}
	if s.leaves() < 2 {
		t.Errorf("clients saw %d served certificates: the rotations never took effect", s.leaves())
	}
}

type soakStats struct {
	conns, resumed, up, down, failed, corrupt atomic.Int64
	reloads, rotations                        int

	mu     sync.Mutex
	serial map[string]bool // served leaf serial numbers seen
	errs   int
}

func (s *soakStats) leaves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.serial)
}

// one runs one connection: a 16-byte header (how much the backend is to
// send, and the seed of those bytes), then up random bytes and a
// half-close; it reads the backend's bytes, then the SHA-256 of what the
// backend received, and checks both.
func (s *soakStats) one(t *testing.T, addr string, cfg *tls.Config) {
	up, down := soakSize(), soakSize()
	seed := mrand.Uint64()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Minute}, "tcp", addr, cfg)
	if err != nil {
		s.fail(t, "handshake", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	cs := c.ConnectionState()
	s.mu.Lock()
	if s.serial == nil {
		s.serial = map[string]bool{}
	}
	if len(cs.PeerCertificates) > 0 {
		s.serial[cs.PeerCertificates[0].SerialNumber.String()] = true
	}
	s.mu.Unlock()
	if cs.DidResume {
		s.resumed.Add(1)
	}
	sent := make(chan []byte, 1)
	go func() {
		h := sha256.New()
		hdr := be.BigEndian.AppendUint64(be.BigEndian.AppendUint64(nil, uint64(down)), seed)
		if _, err := c.Write(hdr); err != nil {
			sent <- nil
			return
		}
		buf := make([]byte, 32<<10)
		for left := up; left > 0; {
			n := min(left, len(buf))
			rand.Read(buf[:n])
			h.Write(buf[:n])
			if _, err := c.Write(buf[:n]); err != nil {
				sent <- nil
				return
			}
			left -= n
		}
		c.CloseWrite()
		sent <- h.Sum(nil)
	}()
	got := sha256.New()
	n, err := io.CopyN(got, c, int64(down))
	var trailer [sha256.Size]byte
	if err == nil {
		_, err = io.ReadFull(c, trailer[:])
	}
	if err == nil {
		// After the trailer the backend closed: a clean close_notify.
		if extra, rerr := c.Read(make([]byte, 1)); rerr != io.EOF {
			err = fmt.Errorf("after the reply: %d more bytes, %v (want a clean EOF)", extra, rerr)
		}
	}
	upHash := <-sent
	if err != nil || upHash == nil {
		s.fail(t, fmt.Sprintf("transfer (%d of %d bytes down)", n, down), err)
		return
	}
	want := sha256.New()
	io.CopyN(want, mrand.NewChaCha8(seedBytes(seed)), int64(down))
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) || !bytes.Equal(trailer[:], upHash) {
		s.corrupt.Add(1)
		return
	}
	s.conns.Add(1)
	s.up.Add(int64(up))
	s.down.Add(int64(down))
}

func (s *soakStats) fail(t *testing.T, what string, err error) {
	s.failed.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errs++; s.errs <= 10 {
		t.Logf("%s: %v", what, err)
	}
}

// soakSize is mostly small, sometimes large: a half of the connections
// carry under 4 KiB, a few up to 1 MiB.
func soakSize() int {
	switch mrand.IntN(8) {
	case 0:
		return mrand.IntN(1 << 20)
	case 1, 2, 3:
		return mrand.IntN(64 << 10)
	}
	return mrand.IntN(4 << 10)
}

func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	be.BigEndian.PutUint64(b[:], seed)
	return b
}

// soakBackend reads the header, sends the bytes it asks for while it
// reads the rest, then the SHA-256 of what it read, and closes.
func soakBackend(t *testing.T) string {
	return serveEach(t, serveSoak)
}

func serveSoak(c net.Conn) {
	defer c.Close()
	var hdr [16]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return
	}
	down, seed := be.BigEndian.Uint64(hdr[:8]), be.BigEndian.Uint64(hdr[8:])
	wrote := make(chan error, 1)
	go func() {
		_, err := io.CopyN(c, mrand.NewChaCha8(seedBytes(seed)), int64(down))
		wrote <- err
	}()
	h := sha256.New()
	if _, err := io.Copy(h, c); err != nil {
		return
	}
	if <-wrote != nil {
		return
	}
	c.Write(h.Sum(nil))
}

// every runs f every d until stop closes, and says how often it ran.
func every(stop chan struct{}, d time.Duration, f func()) int {
	tick := time.NewTicker(d)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-stop:
			return n
		case <-tick.C:
			f()
			n++
		}
	}
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}
