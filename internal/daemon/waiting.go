package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/listen"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/logging"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/proxy"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/sdnotify"
)

// retryInterval is the least time between two attempts to load a broken
// configuration at connections. A load reads every file and checks each
// key against its certificate, a few milliseconds; one a second keeps a
// flood of clients from becoming a flood of loads and of journal lines,
// and a client waits at most this long for its reset.
const retryInterval = time.Second

// maxHeld bounds the connections held for the next attempt; more are
// reset at once. 4096 is the shipped socket units' Backlog=: no more than
// the kernel would have queued for the process anyway.
const maxHeld = 4096

// held is a connection accepted while the configuration is broken.
type held struct {
	conn     net.Conn
	listener string
}

// waiter is the wait for a valid configuration (see [daemon.awaitConfig]).
// Its fields belong to the goroutine running awaitConfig, but for those
// the accept loops share, as marked.
type waiter struct {
	d     *daemon
	conns chan held     // accepted, from the accept loops
	stop  chan struct{} // closed to end the accept loops
	loops sync.WaitGroup
	mu    sync.Mutex
	left  []held // accepted by a loop after stop was closed; under mu

	held    []held    // accepted, waiting for the next attempt
	last    time.Time // when the last attempt began
	since   time.Time // when the wait began
	failure string    // the last failure logged: each distinct one is logged once
	first   string    // its first problem, for STATUS=
	more    int       // how many problems it has besides the first
	resets  int       // connections reset
	sent    string    // the last STATUS= line sent

	reloaded bool // the configuration loaded at a SIGHUP, whose outcome is to be recorded

	cfg  *config.Config // the configuration that loaded at last
	snap *proxy.Snapshot
}

// awaitConfig is the start under socket activation with a configuration
// that does not load (err says why): the process keeps systemd's sockets
// and waits for the file to be fixed, instead of exiting.
//
// An exit (78, EX_CONFIG) would leave the connection that started the
// service in the socket's backlog, so systemd would start it again at
// once, until the start limit (5 starts in 10 s, systemd.unit(5)) fails
// the socket unit with service-start-limit-hit: the port closes, and
// stays closed after the fix until `systemctl reset-failed`.
//
// Instead, systemd hears READY=1 with a STATUS= that names the first
// problem (`systemctl status` shows it; every problem is in the journal,
// at ERROR, once for each distinct failure). Without READY=1 the start of
// this Type=notify service would time out after TimeoutStartSec= and
// count as a failure, and `systemctl restart` would hang until then.
//
// Every connection is accepted and reset (SO_LINGER 0), so a client or a
// load balancer learns at once that it is not served and no client hangs
// in the backlog. Refusing the TCP handshake instead would take closing
// the socket, which is exactly the failure this avoids. Before the reset,
// the configuration is loaded again: each connection is answered by an
// attempt that began after it was accepted, so the first connection
// after the file is fixed is served: that very connection, not the next.
// Attempts are at most one a second ([retryInterval]): connections
// accepted meanwhile wait for the next one. SIGHUP (`systemctl reload`)
// tries at once; SIGTERM and SIGINT stop the wait, with exit status 0.
//
// awaitConfig returns when a configuration loads (then w.cfg is set, and
// [waiter.handOver] gives the proxy the connections held for it) or when
// a stop was asked for (w.cfg is nil).
func (d *daemon) awaitConfig(ctx context.Context, sigs <-chan os.Signal, err error) *waiter {
	// The log format and level are those that could be read (a flag, a
	// variable with --from-env, the part of the file that loaded), so that
	// every line has the format a log collector expects; else text on
	// stderr at info. Under systemd the journal's native format is used
	// anyway (logging.New).
	format, level := "text", "info"
	var ce *config.Error
	if errors.As(err, &ce) {
		format, level = cmp.Or(ce.LogFormat, format), cmp.Or(ce.LogLevel, level)
	}
	d.level.Set(logging.ParseLevel(level))
	d.log = logging.New(d.stderr, format, d.level)
	d.openState()
	now := time.Now()
	w := &waiter{d: d, conns: make(chan held), stop: make(chan struct{}), since: now, last: now}
	w.failed(err)
	d.serveAdminWhileWaiting()
	for _, l := range d.set.Serve {
		w.loops.Add(1)
		go w.accept(l)
	}
	sdnotify.Ready(w.sentStatus())
	stopped := w.wait(ctx, sigs)
	w.endAccepting(stopped != "")
	if stopped != "" {
		for _, h := range w.held {
			w.reset(h)
		}
		d.log.Info("stopped before a valid configuration loaded", "cause", stopped, "reset", w.resets)
	}
	return w
}

// wait runs until a configuration loads or a stop is asked for; it
// returns what asked for the stop, "" if a configuration loaded.
func (w *waiter) wait(ctx context.Context, sigs <-chan os.Signal) string {
	var pet, tick <-chan time.Time
	if interval := sdnotify.WatchdogInterval(); interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		pet = t.C
	}
	if sdnotify.Enabled() {
		t := time.NewTicker(statusPoll) // as daemon.updateStatus
		defer t.Stop()
		tick = t.C
	}
	var lastStatus time.Time
	var due <-chan time.Time // the next attempt, while connections are held
	for {
		select {
		case h := <-w.conns:
			if len(w.held) >= maxHeld {
				w.reset(h)
				continue
			}
			w.held = append(w.held, h)
			if due == nil {
				due = time.After(time.Until(w.last.Add(retryInterval)))
			}
		case <-due:
			due = nil
			if w.attempt() {
				return ""
			}
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				sdnotify.Stopping("stopping; no valid configuration was loaded")
				return sig.String()
			}
			sdnotify.Reloading()
			w.d.published(w.d.outcome.Begin())
			if w.attempt() {
				w.reloaded = true
				return "" // Run says READY=1 once it serves, then records the outcome
			}
			due = nil
			sdnotify.Ready(w.sentStatus())
			w.d.published(w.d.outcome.Failed(failureReason(w.first, w.more, "connections are reset until a configuration loads")))
		case <-ctx.Done():
			sdnotify.Stopping("stopping; no valid configuration was loaded")
			return "context done"
		case <-pet:
			sdnotify.Watchdog(w.sentStatus())
		case now := <-tick:
			if statusDue(now, lastStatus) && w.status() != w.sent {
				sdnotify.Status(w.sentStatus())
				lastStatus = now
			}
		}
	}
}

// attempt loads the configuration. If it fails, the connections held
// for it are reset: it began after each was accepted.
func (w *waiter) attempt() bool {
	w.last = time.Now()
	cfg, snap, err := w.d.loadSnapshot()
	if err == nil {
		w.cfg, w.snap = cfg, snap
		return true
	}
	w.failed(err)
	for _, h := range w.held {
		w.reset(h)
	}
	w.held = nil
	return false
}

// failed logs every problem of err at ERROR, unless they are those of
// the last failure logged: a broken file is logged once, not at every
// connection.
func (w *waiter) failed(err error) {
	if err.Error() == w.failure {
		return
	}
	w.failure = err.Error()
	problems := []error{err}
	var warnings []string
	var ce *config.Error
	if errors.As(err, &ce) && len(ce.Problems) > 0 {
		problems, warnings = ce.Problems, ce.Warnings
	}
	for _, p := range problems {
		w.d.log.Error(p.Error())
	}
	for _, s := range warnings {
		w.d.log.Warn(s)
	}
	w.d.log.Error("configuration error: connections are reset until the configuration loads; it is read again at the next connection (at most once a second) and at systemctl reload",
		"problems", len(problems))
	// STATUS= is one line of the sd_notify datagram, whose lines are
	// its assignments (sd_notify(3)).
	w.first, w.more = firstProblem(err)
	w.d.state.notLoaded(w.first, w.more)
}

// status is the STATUS= line while the configuration is broken.
func (w *waiter) status() string {
	line := "configuration error: " + w.first
	if w.more > 0 {
		line += fmt.Sprintf(" (and %d more in the journal)", w.more)
	}
	return line + "; " + count(w.resets, "connection", "connections") + " reset until it loads"
}

func (w *waiter) sentStatus() string {
	w.sent = w.status()
	return w.sent
}

// reset closes h's connection with a reset (SO_LINGER 0), as the proxy's
// other aborts do: the client reads ECONNRESET, never a clean end it
// could take for an empty answer.
func (w *waiter) reset(h held) {
	if l, ok := h.conn.(interface{ SetLinger(int) error }); ok {
		l.SetLinger(0)
	}
	h.conn.Close()
	w.resets++
}

// accept is the accept loop of one listener while the configuration is
// broken: it hands each connection to the waiter's goroutine.
func (w *waiter) accept(l listen.Listener) {
	defer w.loops.Done()
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			select {
			case <-w.stop:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// As proxy.Serve does: EMFILE and the like pass.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			w.d.log.Warn("accept failed; retrying", "listener", l.Name, "error", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		select {
		case w.conns <- held{c, l.Name}:
		case <-w.stop:
			w.mu.Lock()
			w.left = append(w.left, held{c, l.Name})
			w.mu.Unlock()
			return
		}
	}
}

// deadliner is what every listener systemd passes is: net.FileListener
// makes a *net.TCPListener or *net.UnixListener of a stream socket.
type deadliner interface{ SetDeadline(time.Time) error }

// endAccepting stops the accept loops and adds what they accepted last
// to w.held. For a stop it closes the sockets (systemd keeps its own);
// otherwise it wakes each loop's Accept with a deadline in the past and
// clears it, leaving the sockets to proxy.Serve.
func (w *waiter) endAccepting(closing bool) {
	close(w.stop)
	if closing {
		w.d.set.Close()
	}
	for _, l := range w.d.set.Serve {
		if dl, ok := l.Listener.(deadliner); ok && !closing {
			dl.SetDeadline(time.Unix(1, 0))
		}
	}
	w.loops.Wait()
	for _, l := range w.d.set.Serve {
		if dl, ok := l.Listener.(deadliner); ok && !closing {
			dl.SetDeadline(time.Time{})
		}
	}
	w.held = append(w.held, w.left...)
}

// handOver serves the connections held for the configuration that
// loaded, logs the end of the wait at NOTICE (seen at every log_level)
// and notes it for STATUS=.
func (w *waiter) handOver() {
	d := w.d
	for _, h := range w.held {
		d.proxy.ServeConn(h.conn, h.listener)
	}
	d.log.Log(context.Background(), logging.LevelNotice, "configuration loaded: serving",
		"waited", time.Since(w.since).Round(time.Second).String(), "reset", w.resets, "held", len(w.held))
	d.setReload("configuration loaded " + w.last.Format(time.TimeOnly) + " after " + count(w.resets, "connection was", "connections were") + " reset")
}
