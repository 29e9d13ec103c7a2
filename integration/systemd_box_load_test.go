package integration

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Load across one `systemctl restart`: how many clients, how much each
// sends, and how a slow one paces itself so that it is still in flight
// when the restart's SIGTERM lands.
const (
	restartClients = 1000
	maxPayload     = 128 << 10
	slowEvery      = 5 // every fifth client sends slowly
	slowChunks     = 10
	slowPause      = 250 * time.Millisecond
)

// restartLoad is what the clients saw.
type restartLoad struct {
	ca            *tls.Config
	restartAt     atomic.Int64 // UnixNano when `systemctl restart` began, 0 before
	ok, failed    atomic.Int64
	inFlight      atomic.Int64 // connections established before the restart and finished after it
	resumed       atomic.Int64
	bytes         atomic.Int64
	slowest       atomic.Int64 // nanoseconds, the longest connection
	mu            sync.Mutex
	firstFailures []string
}

// restartUnderLoad runs restartClients Go clients, with one shared session
// cache as a client process would have, each making two connections that
// send a random payload, half-close, and check the SHA-256 of the echo.
// `systemctl restart` runs while the first wave is in flight: systemd
// keeps the socket, the old process drains, and connections made meanwhile
// wait in the backlog for the new one. None may fail or lose a byte.
func restartUnderLoad(t *testing.T, b *systemdBox, ca []byte) {
	l := &restartLoad{ca: &tls.Config{RootCAs: poolFrom(ca), ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(restartClients)}}
	pidBefore := b.exec("systemctl", "show", "-p", "MainPID", "--value", "quantum-safe-proxy.service")
	start := time.Now()
	var wg sync.WaitGroup
	for i := range restartClients {
		wg.Add(1)
		go l.client(&wg, i)
		time.Sleep(time.Second / restartClients) // the first wave arrives over one second
	}
	l.restartAt.Store(time.Now().UnixNano())
	b.exec("systemctl", "restart", "quantum-safe-proxy.service")
	restartTook := time.Since(time.Unix(0, l.restartAt.Load()))
	wg.Wait()
	pidAfter := b.exec("systemctl", "show", "-p", "MainPID", "--value", "quantum-safe-proxy.service")
	if pidAfter == pidBefore {
		t.Errorf("MainPID %s before and after systemctl restart", strings.TrimSpace(pidAfter))
	}
	t.Logf("restart under load: %d clients, %d connections ok, %d failed, %d in flight across the restart, %d resumed, %.1f MiB echoed and SHA-256 checked, restart took %v, slowest connection %v, all in %v",
		restartClients, l.ok.Load(), l.failed.Load(), l.inFlight.Load(), l.resumed.Load(), float64(l.bytes.Load())/(1<<20),
		restartTook.Round(time.Millisecond), time.Duration(l.slowest.Load()).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if l.failed.Load() > 0 || l.ok.Load() != 2*restartClients {
		t.Errorf("%d connections failed, %d of %d ok; first failures:\n%s", l.failed.Load(), l.ok.Load(), 2*restartClients, strings.Join(l.firstFailures, "\n"))
	}
	if l.inFlight.Load() == 0 {
		t.Error("no connection was in flight across the restart; the test did not test the drain")
	}
	checkDrainedClean(t, b)
}

// checkDrainedClean reads the old process's last words from the journal:
// it had connections open when SIGTERM came, and they all finished
// within drain_timeout (a plain "stopped", nothing cut).
func checkDrainedClean(t *testing.T, b *systemdBox) {
	var open, stopped []string
	out := b.exec("journalctl", "--no-pager", "-o", "json", "-u", "quantum-safe-proxy.service")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		msg, _ := e["MESSAGE"].(string)
		switch {
		case strings.HasPrefix(msg, "stopping: draining open connections"):
			o, _ := e["QSP_OPEN"].(string)
			open = append(open, o)
		case strings.HasPrefix(msg, "stopped"):
			stopped = append(stopped, msg)
		}
	}
	if len(open) != 1 || open[0] == "0" || len(stopped) != 1 || !strings.HasPrefix(stopped[0], "stopped connections=") {
		t.Errorf("the restart's drain: open at SIGTERM %q, last lines %q; want one drain of open connections, none cut", open, stopped)
		return
	}
	t.Logf("the old process had %s connections open at SIGTERM and drained them all: %s", open[0], stopped[0])
}

// client makes two connections, the second after the first ends.
func (l *restartLoad) client(wg *sync.WaitGroup, i int) {
	defer wg.Done()
	for n := range 2 {
		if err := l.connection(i%slowEvery == 0 && n == 0); err != nil {
			l.failed.Add(1)
			l.mu.Lock()
			if len(l.firstFailures) < 10 {
				l.firstFailures = append(l.firstFailures, fmt.Sprintf("client %d connection %d: %v", i, n+1, err))
			}
			l.mu.Unlock()
			return
		}
		l.ok.Add(1)
	}
}

// connection sends a random payload (slowly if asked), half-closes, and
// checks that the backend's echo has the same SHA-256 and ends cleanly.
func (l *restartLoad) connection(slow bool) error {
	began := time.Now()
	c, err := tls.Dial("tcp", "127.0.0.1:8443", l.ca)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	established := time.Now()
	if c.ConnectionState().DidResume {
		l.resumed.Add(1)
	}
	rd := bufio.NewReader(c)
	if greet, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(greet, "hello from the backend") {
		return fmt.Errorf("greeting %q: %v", greet, err)
	}
	payload := make([]byte, mrand.IntN(maxPayload+1))
	rand.Read(payload)
	sent := sha256.Sum256(payload)
	got := make(chan error, 1)
	h := sha256.New()
	go func() {
		n, err := io.Copy(h, rd) // a clean end is io.EOF, which Copy reports as nil
		l.bytes.Add(n)
		got <- err
	}()
	chunk := len(payload)
	if slow {
		chunk = len(payload)/slowChunks + 1
	}
	for off := 0; off < len(payload); off += chunk {
		if _, err := c.Write(payload[off:min(off+chunk, len(payload))]); err != nil {
			return fmt.Errorf("write after %d of %d bytes: %v", off, len(payload), err)
		}
		if slow {
			time.Sleep(slowPause)
		}
	}
	if err := c.CloseWrite(); err != nil {
		return err
	}
	if err := <-got; err != nil {
		return fmt.Errorf("reading the echo of %d bytes: %v", len(payload), err)
	}
	if echoed := h.Sum(nil); !bytes.Equal(echoed, sent[:]) {
		return fmt.Errorf("the echo of %d bytes has another SHA-256", len(payload))
	}
	if at := l.restartAt.Load(); at != 0 && established.UnixNano() < at && time.Now().UnixNano() > at {
		l.inFlight.Add(1)
	}
	for d := int64(time.Since(began)); ; {
		s := l.slowest.Load()
		if d <= s || l.slowest.CompareAndSwap(s, d) {
			break
		}
	}
	return nil
}
