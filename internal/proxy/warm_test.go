package proxy

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// A handshake handed over runs on the goroutine that lingers after the
// last one, and the goroutine that handed it over returns at once.
func TestWarmGoroutineRunsTheNextHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWarmPool()
		first := make(chan struct{})
		go w.run(func() { close(first) }) // runs here, then lingers
		<-first
		synctest.Wait()
		if n := w.waiting.Load(); n != 1 {
			t.Fatalf("%d goroutines linger after a handshake, want 1", n)
		}
		var ran sync.WaitGroup
		ran.Add(1)
		returned := make(chan struct{})
		block := make(chan struct{})
		go func() {
			w.run(func() { <-block; ran.Done() })
			close(returned)
		}()
		synctest.Wait()
		select {
		case <-returned: // handed over: the handshake runs elsewhere, still blocked
		default:
			t.Fatal("run did not hand the handshake to the lingering goroutine")
		}
		close(block)
		ran.Wait()
		// Unused for warmLinger, it goes.
		time.Sleep(warmLinger + time.Millisecond)
		synctest.Wait()
		if n := w.waiting.Load(); n != 0 {
			t.Errorf("%d goroutines linger %v after the last handshake, want 0", n, warmLinger)
		}
	})
}

// No more than warmMax goroutines linger, however many handshakes ran at
// once.
func TestWarmGoroutinesAreCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWarmPool()
		release := make(chan struct{})
		for range 3 * warmMax {
			go w.run(func() { <-release })
		}
		synctest.Wait()
		close(release)
		synctest.Wait()
		if n := w.waiting.Load(); n != warmMax {
			t.Errorf("%d goroutines linger, want %d", n, warmMax)
		}
		time.Sleep(warmLinger + time.Millisecond)
		synctest.Wait()
		if n := w.waiting.Load(); n != 0 {
			t.Errorf("%d goroutines linger after warmLinger, want 0", n)
		}
	})
}
