package forward

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// An idle connection is small (about 6 KiB of heap and two 2 KiB
// stacks), but the handshakes that opened it left several times that in
// garbage: ML-DSA signing, ML-KEM, the certificate chain. The collector
// frees it only when the heap reaches its goal (twice the live heap at
// GOGC=100), and the runtime's scavenger returns pages to the system
// only above that goal; a proxy that goes quiet after a burst of
// connections would hold the burst's peak for good. With 5,000 idle
// post-quantum connections after such a burst, HeapAlloc was 68.7 MB
// where the live heap was 31 MB (pprof heap, MemStats).
//
// So once connections stop starting for quietAfter, the garbage is
// collected and returned to the system (debug.FreeOSMemory), at most
// every releaseEvery: while connections keep starting nothing runs, so
// handshake throughput pays nothing; a steady trickle pays one collection
// per releaseEvery.
const (
	quietAfter   = time.Second
	releaseEvery = 30 * time.Second
)

var (
	starts      atomic.Int64 // connections Start has begun forwarding
	releaseOnce sync.Once
)

// started counts a connection and starts the releasing goroutine once.
func started() {
	starts.Add(1)
	releaseOnce.Do(func() { go releaseWhenQuiet(quietAfter, releaseEvery, debug.FreeOSMemory) })
}

// releaseWhenQuiet calls release when no connection started for one tick
// after some did, and then waits at least every before the next.
func releaseWhenQuiet(tick, every time.Duration, release func()) {
	seen, released := starts.Load(), starts.Load()
	var last time.Time
	for range time.Tick(tick) {
		n := starts.Load()
		if n == seen && n != released && time.Since(last) >= every {
			release()
			released, last = n, time.Now()
		}
		seen = n
	}
}
