package proxy

import (
	"errors"
	"log/slog"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// errListener fails Accept a number of times, then reports itself closed.
type errListener struct {
	net.Listener
	fails int
}

func (l *errListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, errors.New("accept: too many open files")
	}
	return nil, net.ErrClosed
}

// Accept errors back off from 5 ms, doubling, as net/http does; the loop
// does not spin, and a failed accept gives its slot under the cap back (a
// cap of 1 would otherwise deadlock, which synctest reports).
func TestAcceptBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &records{ch: make(chan struct{}, 1)}
		p := New(Options{Logger: slog.New(rec), MaxConnections: 1}, &Snapshot{})
		start := time.Now()
		if err := p.Serve(&errListener{fails: 4}, "test"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != (5+10+20+40)*time.Millisecond {
			t.Errorf("backed off %v in all, want 75ms", d)
		}
		var waits []string
		for _, r := range rec.recs {
			waits = append(waits, r["retry_in"])
		}
		if want := []string{"5ms", "10ms", "20ms", "40ms"}; len(waits) != 4 || waits[0] != want[0] || waits[3] != want[3] {
			t.Errorf("retry_in %v, want %v", waits, want)
		}
	})
}
