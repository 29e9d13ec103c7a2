package daemon

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/proxy"
)

// drain waits for the open connections to end, up to drain_timeout, and
// cuts what is left then; it logs how the stop ended.
func (d *daemon) drain(sigs <-chan os.Signal) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dr := &drainer{d: d, sigs: sigs, cut: cancel, done: make(chan struct{})}
	go dr.cutAtDeadline()
	err := d.proxy.Shutdown(ctx)
	close(dr.done)
	s := &d.proxy.Stats
	var cut *proxy.DrainTimeoutError
	if errors.As(err, &cut) {
		d.log.Warn("stopped: connections still open at drain_timeout were cut", "cut", cut.Cut,
			"drain_timeout", d.cfg.DrainTimeout, "connections", s.Accepted.Load(), "pq", s.PQ.Load())
		return err
	}
	if err != nil {
		return err
	}
	d.log.Info("stopped", "connections", s.Accepted.Load(), "pq", s.PQ.Load())
	return nil
}

// drainer ends a drain at drain_timeout, or at once on a second SIGTERM
// or SIGINT.
type drainer struct {
	d    *daemon
	sigs <-chan os.Signal
	cut  context.CancelFunc // makes Shutdown close what is left
	done chan struct{}      // closed when Shutdown has returned
}

// cutAtDeadline counts the connections still open before it cancels
// Shutdown's context, so the count is of those Shutdown is about to close.
func (dr *drainer) cutAtDeadline() {
	deadline := time.NewTimer(dr.d.cfg.DrainTimeout)
	defer deadline.Stop()
	for {
		select {
		case sig := <-dr.sigs:
			if sig == syscall.SIGHUP {
				continue
			}
		case <-deadline.C:
		case <-dr.done:
			return
		}
		dr.cut()
		return
	}
}
