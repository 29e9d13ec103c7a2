package watch

import (
	"slices"
	"time"
)

// readEvents reads inotify events until Close, and records each change to
// an entry a configured file depends on.
func (w *Watcher) readEvents() {
	defer w.wg.Done()
	buf := make([]byte, bufSize)
	for {
		evs, err := w.in.read(buf)
		if err != nil {
			return // closed; any other error would repeat forever
		}
		if w.note(evs) {
			select {
			case w.kick <- struct{}{}:
			default:
			}
		}
	}
}

// note records the configured files that evs touch, and reports whether
// there were any.
func (w *Watcher) note(evs []event) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := false
	for _, e := range evs {
		var files []string
		switch names := w.watched[e.wd]; {
		case e.overflowed():
			files = w.files // events were lost: assume everything changed
		case names == nil:
			continue // a watch removed by arm, or its IN_IGNORED
		case e.selfGone():
			for _, f := range names {
				files = append(files, f...)
			}
		default:
			files = names[e.name]
		}
		for _, f := range files {
			w.pending[f] = true
			changed = true
		}
	}
	return changed
}

// loop turns kicks into bursts: a burst ends Quiet after its last kick or
// Max after its first, then every path is resolved and watched again and
// the changed files are offered on Changes until taken (later kicks add
// to what is offered).
func (w *Watcher) loop() {
	defer w.wg.Done()
	quiet, limit := stoppedTimer(), stoppedTimer()
	inBurst := false
	var ready []string
	for {
		var out chan []string
		if ready != nil {
			out = w.changes
		}
		select {
		case <-w.done:
			quiet.Stop()
			limit.Stop()
			return
		case <-w.kick:
			if !inBurst {
				inBurst = true
				limit.Reset(w.opts.Max)
			}
			quiet.Reset(w.opts.Quiet)
		case <-quiet.C:
			limit.Stop()
			inBurst = false
			ready = w.endBurst(ready)
		case <-limit.C:
			quiet.Stop()
			inBurst = false
			ready = w.endBurst(ready)
		case out <- ready:
			ready = nil
		}
	}
}

// endBurst re-arms and adds the burst's files to those not yet taken.
func (w *Watcher) endBurst(ready []string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.arm()
	for f := range w.pending {
		if !slices.Contains(ready, f) {
			ready = append(ready, f)
		}
	}
	clear(w.pending)
	slices.Sort(ready)
	return ready
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}
