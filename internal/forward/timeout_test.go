package forward

import (
	"testing"
	"testing/synctest"
	"time"
)

// The timers count from the last progress either way, switch from the
// idle to the close timeout at the first half-close, and never expire
// when neither is set.
func TestInactivityTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &pipe{opts: Options{IdleTimeout: time.Second, CloseTimeout: 2 * time.Second}, start: time.Now(), client: &Conn{}, backend: &Conn{}}
		expect := func(when string, want error) {
			t.Helper()
			if got := p.expired(); got != want {
				t.Errorf("%s: expired() = %v, want %v", when, got, want)
			}
		}
		time.Sleep(999 * time.Millisecond)
		expect("999ms without progress, idle timeout 1s", nil)
		p.progressed()
		time.Sleep(999 * time.Millisecond)
		expect("999ms after the last progress", nil)
		if d, _ := p.deadline(); !d.Equal(p.start.Add(1999 * time.Millisecond)) {
			t.Errorf("deadline %v after start, want 1.999s: the last progress plus the idle timeout", d.Sub(p.start))
		}
		time.Sleep(time.Millisecond)
		expect("1s after the last progress", errIdle)

		p.progressed()
		p.half.Store(true) // one direction ended: the close timeout rules
		time.Sleep(1500 * time.Millisecond)
		expect("1.5s after the half-close, close timeout 2s", nil)
		p.progressed()
		time.Sleep(1999 * time.Millisecond)
		expect("1.999s after the last progress, close timeout 2s", nil)
		time.Sleep(time.Millisecond)
		expect("2s after the last progress, close timeout 2s", errCloseTimeout)
	})
}

func TestNoTimeoutsNeverExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &pipe{start: time.Now(), client: &Conn{}, backend: &Conn{}}
		time.Sleep(24 * time.Hour)
		if _, ok := p.deadline(); ok || p.expired() != nil {
			t.Error("a connection without idle or close timeout expired")
		}
		p.half.Store(true)
		time.Sleep(24 * time.Hour)
		if _, ok := p.deadline(); ok || p.expired() != nil {
			t.Error("a half-closed connection without close timeout expired")
		}
	})
}
