package daemon

import (
	"fmt"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/sdnotify"
)

// status is the one-line STATUS= summary: "12 connections, 92% PQ, 3
// open, 1 refused; reload 10:03:41 ok (changed chain 1)".
func (d *daemon) status() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &d.proxy.Stats
	line := count(s.Accepted.Load(), "connection", "connections")
	if share := pqShare(s.PQ.Load(), s.Classical.Load()); share != "" {
		line += ", " + share
	}
	line += fmt.Sprintf(", %d open, %d refused", s.Active.Load(), s.Refused.Load())
	if d.reload != "" {
		line += "; " + d.reload
	}
	return line
}

// pqShare is the share of the connections served whose key exchange was
// post-quantum: how far the move to PQ has gone. Refused connections
// (scanners, a load balancer's TCP checks, classical clients in strict
// mode) have their own count in the line, and would otherwise dilute it.
// Whole percent, rounded down, so that 100% means every one and a single
// classical connection shows; "<1%" when some were PQ but fewer than one
// in a hundred; "" before any was served.
func pqShare(pq, classical int64) string {
	served := pq + classical
	switch {
	case served == 0:
		return ""
	case pq > 0 && pq*100 < served:
		return "<1% PQ"
	}
	return fmt.Sprintf("%d%% PQ", pq*100/served)
}

// count is n with the noun that agrees with it: "1 connection", "2
// connections", "0 connections".
func count[N int | int64](n N, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// sentStatus is the STATUS= line, noted as the last one sent.
func (d *daemon) sentStatus() string {
	line := d.status()
	d.mu.Lock()
	d.sent = line
	d.mu.Unlock()
	return line
}

// statusInterval is how often STATUS= may change: `systemctl status` is
// at most this stale, and systemd gets at most one datagram a second for
// it however busy the proxy is (each costs PID 1 a wakeup and a parse).
const statusInterval = time.Second

// statusPoll is how often the line is compared with the one sent. A
// change is sent at the first look after it, unless a STATUS= went less
// than statusInterval ago: then at the first look after that. Looking
// only every statusInterval would delay every change by up to a whole
// interval, and by all of it when the change follows READY= closely, as
// when the connections held through a wait for a valid configuration
// are served (the ticker starts at READY=1, so their end always waited
// for the full second).
const statusPoll = 100 * time.Millisecond

// statusDue reports whether a changed line may be sent at now, the last
// STATUS= of the loop having gone at last.
func statusDue(now, last time.Time) bool { return now.Sub(last) >= statusInterval }

// statusUpdates sends STATUS= within about statusPoll of a change in the
// counters or the reload outcome, at most once every statusInterval,
// and only when the line changed. With no NOTIFY_SOCKET it does nothing.
func (d *daemon) statusUpdates() (stop func()) {
	if !sdnotify.Enabled() {
		return func() {}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go d.updateStatus(done, exited)
	return func() {
		close(done)
		<-exited
	}
}

func (d *daemon) updateStatus(done <-chan struct{}, exited chan<- struct{}) {
	defer close(exited)
	t := time.NewTicker(statusPoll)
	defer t.Stop()
	var last time.Time // when this loop last sent STATUS=
	for {
		select {
		case now := <-t.C:
			if !statusDue(now, last) {
				continue
			}
			line := d.status()
			d.mu.Lock()
			changed := line != d.sent
			d.mu.Unlock()
			if changed {
				sdnotify.Status(d.sentStatus())
				last = now
			}
		case <-done:
			return
		}
	}
}

// watchdog pets systemd's watchdog at half of WatchdogSec= while every
// accept loop runs and accepts without persistent errors; a wedged proxy
// stops petting and systemd restarts it.
func (d *daemon) watchdog() (stop func()) {
	interval := sdnotify.WatchdogInterval()
	if interval == 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if d.proxy.Healthy(len(d.set.Serve)) {
					sdnotify.Watchdog(d.sentStatus())
				} else {
					d.log.Error("accept loop unhealthy: not petting the watchdog")
				}
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}
