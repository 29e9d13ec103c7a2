package watch

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// burstTimes kicks a watcher without inotify (so time is synctest's) at
// the given offsets and returns when each change was delivered.
func burstTimes(t *testing.T, kicks []time.Duration) []time.Duration {
	var got []time.Duration
	synctest.Test(t, func(t *testing.T) {
		w := newWatcher(nil, Options{}) // the defaults: Quiet, Max
		w.wg.Add(1)
		go w.loop()
		start := time.Now()
		received := make(chan struct{})
		go func() {
			defer close(received)
			for {
				select {
				case <-w.Changes():
					got = append(got, time.Since(start))
				case <-w.done:
					return
				}
			}
		}()
		for _, at := range kicks {
			time.Sleep(at - time.Since(start))
			w.mu.Lock()
			w.pending["/etc/qsp/a.crt"] = true
			w.mu.Unlock()
			select {
			case w.kick <- struct{}{}:
			default:
			}
		}
		time.Sleep(time.Minute)
		w.Close()
		<-received
	})
	return got
}

func every(step, until time.Duration) []time.Duration {
	var out []time.Duration
	for at := time.Duration(0); at <= until; at += step {
		out = append(out, at)
	}
	return out
}

// Changes closer together than Quiet are one burst, delivered Quiet after
// the last; one that never pauses is cut at Max, and the rest is the next
// burst.
func TestBurstDefaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kicks []time.Duration
		want  []time.Duration
	}{
		{"one change", []time.Duration{0}, []time.Duration{500 * time.Millisecond}},
		{"ten within quiet", every(100*time.Millisecond, 900*time.Millisecond), []time.Duration{1400 * time.Millisecond}},
		{"two bursts", []time.Duration{0, 100 * time.Millisecond, 2 * time.Second}, []time.Duration{600 * time.Millisecond, 2500 * time.Millisecond}},
		{"never quiet", every(400*time.Millisecond, 4800*time.Millisecond), []time.Duration{3 * time.Second, 5300 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := burstTimes(t, tc.kicks); !slices.Equal(got, tc.want) {
				t.Errorf("changes delivered at %v, want %v", got, tc.want)
			}
		})
	}
}
