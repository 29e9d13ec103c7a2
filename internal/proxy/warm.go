package proxy

import (
	"sync/atomic"
	"time"
)

// Handshakes run on warm goroutines.
//
// A post-quantum handshake grows its goroutine's stack from the
// runtime's starting size to tens of KiB (ML-DSA signing, ML-KEM), one
// doubling and copy at a time: runtime.morestack took 4.4% of the
// proxy's CPU under the ML-DSA handshake load (perf). A goroutine that
// has just run a handshake keeps its grown stack, so rather than exit it
// waits a while for the next connection whose first flight has arrived
// and runs that handshake on the stack it has. The new connection's own
// goroutine, which waited for the first flight on the smallest stack
// (see [Proxy.serve]), hands the handshake over and exits.
//
// At most warmMax goroutines linger so, each for warmLinger after its
// last handshake; a proxy without new connections holds none after that.
// The runtime halves a parked goroutine's stack at a collection when it
// uses under a quarter of it, so under load a lingering goroutine grows
// back once per collection at most, not once per handshake.
const (
	warmMax    = 16
	warmLinger = time.Second
)

type warmPool struct {
	work    chan func() // unbuffered: a send succeeds only into a lingering goroutine
	waiting atomic.Int32
}

func newWarmPool() *warmPool { return &warmPool{work: make(chan func())} }

// run runs f on a lingering goroutine if one waits; else it runs f on
// this goroutine, which then lingers.
func (w *warmPool) run(f func()) {
	select {
	case w.work <- f:
		return
	default:
	}
	f()
	w.linger()
}

// linger runs handshakes handed over until none came for warmLinger, or
// returns at once when warmMax goroutines linger already.
func (w *warmPool) linger() {
	if w.waiting.Add(1) > warmMax {
		w.waiting.Add(-1)
		return
	}
	defer w.waiting.Add(-1)
	t := time.NewTimer(warmLinger)
	defer t.Stop()
	for {
		select {
		case f := <-w.work:
			f()
			t.Reset(warmLinger)
		case <-t.C:
			return
		}
	}
}
