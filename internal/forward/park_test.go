package forward

import (
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// After bytes moved both ways, each direction of an idle connection waits
// on a goroutine that has only waited, which the forwarding loop started
// as it handed the wait on, not on the goroutine whose stack forwarding
// grew (started by Start).
func TestIdleWaitsOnFreshGoroutines(t *testing.T) {
	f := forward(t, Options{})
	go f.client.Write(make([]byte, maxRecord))
	if _, err := io.ReadFull(f.backend, make([]byte, maxRecord)); err != nil {
		t.Fatal(err)
	}
	f.backend.Write(make([]byte, maxRecord))
	if _, err := io.ReadFull(f.client, make([]byte, maxRecord)); err != nil {
		t.Fatal(err)
	}
	var waiting []string
	for i := 0; len(waiting) < 2 && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
		buf := make([]byte, 1<<20)
		waiting = waiting[:0]
		for g := range strings.SplitSeq(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "forward.(*pipe).fillClient") || strings.Contains(g, "forward.(*pipe).readBackend") {
				waiting = append(waiting, g)
			}
		}
	}
	if len(waiting) != 2 {
		t.Fatalf("%d goroutines wait for the peers, want 2", len(waiting))
	}
	for _, g := range waiting {
		_, creator, _ := strings.Cut(g, "created by ")
		if !strings.HasPrefix(creator, "github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward.(*pipe).clientToBackend") &&
			!strings.HasPrefix(creator, "github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward.(*pipe).backendToClient") {
			t.Errorf("an idle direction waits on the goroutine that forwarded:\n%s", g)
		}
	}
	f.client.Close()
	f.backend.Close()
	f.wait(t)
}
