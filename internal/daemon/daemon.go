// Package daemon is the one package that wires the others into a running
// process: logging, listeners, the TLS snapshot, signals, reload, systemd
// notifications in their order, drain and exit.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/admin"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/listen"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/logging"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/metrics"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/proxy"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/reloadstate"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/sdnotify"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/watch"
)

// NewSnapshot loads certificates and builds everything a connection needs.
// In client mode the TLS policy is the client's (CA bundle, client
// chains, peer checks) and the target is the remote server.
func NewSnapshot(cfg *config.Config) (*proxy.Snapshot, error) {
	s := &proxy.Snapshot{
		Target:           cfg.Target,
		HandshakeTimeout: cfg.HandshakeTimeout,
		DialTimeout:      cfg.DialTimeout,
		Forward:          forward.Options{IdleTimeout: cfg.IdleTimeout, CloseTimeout: cfg.CloseTimeout},
		ProxyV2:          cfg.ProxyProtocol == "v2",
	}
	var err error
	if cfg.Mode == config.ModeClient {
		s.Client, err = tlsconf.NewClient(cfg)
	} else {
		s.TLS, err = tlsconf.New(cfg)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// logSnapshot logs each served chain, at start and on every reload, and
// the configuration's warnings when they are new (see [daemon.logWarnings]).
func (d *daemon) logSnapshot(cfg *config.Config, s *proxy.Snapshot) {
	if s.Client != nil {
		d.logClient(cfg, s)
		d.logWarnings(configWarnings(cfg, s))
		return
	}
	for i, c := range s.TLS.Chains {
		d.log.Info("serving certificate", "order", i+1, "subject", c.Leaf().Subject.String(), "key", c.Algorithm(), "signer", c.Signer(),
			"chain_length", len(c.TLS.Certificate), "expires", c.Leaf().NotAfter.UTC().Format(time.RFC3339), "file", c.CertPath)
	}
	d.logWarnings(configWarnings(cfg, s))
}

// warning is one line about a configuration that works but will fail
// some clients or gives up some protection.
type warning struct {
	msg  string
	args []any
}

// key tells warnings apart, arguments included.
func (w warning) key() string { return fmt.Sprint(w.msg, w.args) }

// configWarnings lists the warnings about cfg and its snapshot s.
func configWarnings(cfg *config.Config, s *proxy.Snapshot) []warning {
	var out []warning
	for _, w := range cfg.Warnings {
		out = append(out, warning{msg: w})
	}
	for _, w := range tlsWarnings(s) {
		out = append(out, warning{msg: w})
	}
	if cfg.UnsafeNoHandshakeTimeout && cfg.HandshakeTimeout == 0 {
		out = append(out, warning{msg: "unsafe_no_handshake_timeout is set and handshake_timeout is 0: handshakes have no deadline; only max_handshakes bounds clients that stall"})
	}
	if cfg.UnsafeTarget {
		out = append(out, warning{msg: "unsafe_target is set: plain text to the backend may leave this host", args: []any{"target", cfg.Target}})
	}
	return out
}

// logWarnings logs at WARN each warning that the configuration in force
// before did not have: every warning once at start, and on a reload
// only those it brings. A reload that changes no warning (every
// certificate rotation, typically hourly) would otherwise repeat the
// same lines each time and bury the journal in them; at debug it says
// how many still hold.
func (d *daemon) logWarnings(ws []warning) {
	keys := make([]string, len(ws))
	for i, w := range ws {
		keys[i] = w.key()
	}
	added, gone := 0, 0
	for i, w := range ws {
		if !slices.Contains(d.warned, keys[i]) {
			d.log.Warn(w.msg, w.args...)
			added++
		}
	}
	for _, k := range d.warned {
		if !slices.Contains(keys, k) {
			gone++
		}
	}
	if gone > 0 {
		d.log.Info("configuration warnings no longer apply", "count", gone)
	}
	if d.warned != nil && added == 0 && gone == 0 && len(keys) > 0 {
		d.log.Debug("configuration warnings unchanged: logged before, not repeated", "count", len(keys))
	}
	d.warned = keys
}

// Loader reads the whole configuration afresh: at start and on SIGHUP.
type Loader func() (*config.Config, error)

type daemon struct {
	load   Loader
	passed func() (*listen.Set, error) // the sockets systemd passed: listen.Passed
	stderr io.Writer
	cfg    *config.Config // the configuration in force
	log    *slog.Logger
	level  *slog.LevelVar
	set    *listen.Set
	proxy  *proxy.Proxy
	snap   *proxy.Snapshot // the snapshot in force
	warned []string        // the keys of its warnings, each logged once
	mu     sync.Mutex
	reload string // the last reload's outcome, for STATUS=
	sent   string // the last STATUS= line sent

	version string // the program's, for build_info
	// metrics live as long as the process, across reloads; the admin
	// endpoint serves them (metrics.Handler). run makes them unless a
	// test has.
	metrics *metrics.Metrics
	// The admin endpoint (admin.go): nil if none; the socket systemd
	// passed for it, if that is what it serves on; what /readyz reads.
	admin       *admin.Server
	adminDone   chan struct{} // closed when admin.Serve has returned
	adminSocket *listen.Listener
	state       readyState
	outcome     *reloadstate.Publisher // the record `quantum-safe-proxy reload` reads; nil writes none
}

// Run serves until SIGTERM or SIGINT (or ctx ends), reloading on SIGHUP
// and when a certificate, key or CA file it reads changes, then drains.
// It returns nil after a clean drain, an error that is
// [proxy.ErrDrainTimeout] when connections open at drain_timeout (or at a
// second SIGTERM) had to be cut, and a *[config.Error] for bad
// configuration. Either way the stop was asked for: the command maps the
// cut drain to its own exit status, which the units list in
// SuccessExitStatus=.
//
// A configuration that does not load is returned as an error, except
// under socket activation: then Run waits for a valid one, resetting
// connections meanwhile (see [daemon.awaitConfig]), and returns nil if
// stopped before one loads. version is the program's, for the metrics.
func Run(ctx context.Context, load Loader, stderr io.Writer, version string) error {
	// Signals are caught before anything else: a SIGHUP that systemd
	// sends early must not kill the process (signal(7): SIGHUP
	// terminates), in the wait for a valid configuration either.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	d := &daemon{load: load, level: new(slog.LevelVar), stderr: stderr, passed: listen.Passed, version: version}
	err := d.run(ctx, sigs)
	d.outcome.Close() // where /tmp is not the unit's own, it would stay
	return err
}

// run is Run once signals are caught.
func (d *daemon) run(ctx context.Context, sigs <-chan os.Signal) error {
	if d.metrics == nil {
		d.metrics = metrics.New(d.version)
	}
	defer d.stopAdmin()
	w, err := d.start(ctx, sigs)
	if err != nil || d.cfg == nil {
		return err // nil when stopped while waiting for a configuration
	}
	cfg, snap := d.cfg, d.snap
	d.metrics.Loaded(time.Now())
	if err := checkClientListeners(cfg, d.set); err != nil {
		d.set.Close()
		return err
	}
	adminLn, err := d.openAdmin(cfg)
	if err != nil {
		d.set.Close()
		return err
	}
	// The files are watched from here on. A rotation in the milliseconds
	// between their first read and this is seen at the next change or
	// SIGHUP.
	files := d.watchFiles(cfg)
	defer files.Close()
	if cfg.Environment != "" {
		d.log.Info("environment", "name", cfg.Environment)
	}
	d.logSnapshot(cfg, snap)
	d.metrics.SetFiles(metricsFiles(cfg, snap))
	applyClient(snap)
	d.proxy = proxy.New(proxy.Options{Logger: d.log, MaxConnections: cfg.MaxConnections, MaxHandshakes: cfg.MaxHandshakes, Observer: d.metrics}, snap)
	d.metrics.SetTraffic(traffic(d.proxy))
	d.state.serving(d.proxy, snap, len(d.set.Serve))
	if w != nil {
		w.handOver()
	}

	var serving sync.WaitGroup
	for _, l := range d.set.Serve {
		serving.Add(1)
		go func() {
			defer serving.Done()
			d.proxy.Serve(l, l.Name)
		}()
		d.log.Info("listening", listening(cfg, l, d.set.Activated)...)
	}
	if cfg.UnsafeAdminListen {
		d.log.Warn("unsafe_admin_listen is set: the admin endpoint, plain HTTP without authentication, may be reachable from other hosts")
	}
	if adminLn != nil {
		d.startAdmin(adminLn)
	}
	sdnotify.Ready(d.sentStatus())
	if w != nil && w.reloaded {
		d.published(d.outcome.Succeeded(nil)) // after READY=1, as every outcome
	}
	stopWatchdog := d.watchdog()
	defer stopWatchdog()
	stopStatus := d.statusUpdates()

	why := d.serveUntilStop(ctx, sigs, files)
	stopStatus() // no STATUS= after STOPPING=1 but STOPPING's own
	sdnotify.Stopping("draining " + count(d.proxy.Stats.Active.Load(), "connection", "connections"))
	// Closing our descriptors leaves systemd's sockets open: clients that
	// connect now wait in the backlog for the next process.
	d.proxy.StopAccepting()
	d.state.draining.Store(true)
	d.set.Close()
	serving.Wait()
	d.log.Info("stopping: draining open connections", "cause", why, "drain_timeout", d.cfg.DrainTimeout, "open", d.proxy.Stats.Active.Load())
	return d.drain(sigs)
}

// start loads the configuration, or waits for a valid one under socket
// activation (then the waiter holds the connections to serve first),
// makes the logger it asks for and opens the listeners. d.cfg stays nil
// if a stop came while waiting.
func (d *daemon) start(ctx context.Context, sigs <-chan os.Signal) (*waiter, error) {
	cfg, snap, err := d.loadSnapshot()
	var w *waiter
	if err != nil {
		if errors.Is(err, config.ErrHelp) {
			return nil, err
		}
		// Only the sockets systemd passed are taken here: without them
		// (a shell, a test) the error ends the start, exit 78. With them,
		// a bad socket is the lesser news; the configuration error is
		// the one reported.
		if d.set, _ = d.passed(); d.set == nil {
			return nil, err
		}
		if w = d.awaitConfig(ctx, sigs, err); w.cfg == nil {
			return w, nil
		}
		cfg, snap = w.cfg, w.snap
	}
	d.cfg, d.snap = cfg, snap
	d.level.Set(logging.ParseLevel(cfg.LogLevel))
	d.log = logging.New(d.stderr, cfg.LogFormat, d.level)
	d.openState()
	if d.set == nil {
		d.set, err = listen.Open(cfg.Listen, cfg.RequireSystemdSocket)
		if errors.Is(err, listen.ErrNoSystemdSocket) {
			// Exit 78 like a configuration error: restarting the service
			// cannot help, restarting its socket unit does.
			return nil, &config.Error{Problems: []error{err}, Warnings: cfg.Warnings}
		}
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	return w, nil
}

// loadSnapshot loads the configuration and builds its snapshot.
func (d *daemon) loadSnapshot() (*config.Config, *proxy.Snapshot, error) {
	cfg, err := d.load()
	if err != nil {
		return nil, nil, err
	}
	snap, err := NewSnapshot(cfg)
	if err != nil {
		// The configuration loaded, its files did not: its log settings
		// are known, for the wait for valid files (awaitConfig).
		var ce *config.Error
		if errors.As(err, &ce) {
			ce.LogFormat, ce.LogLevel = cfg.LogFormat, cfg.LogLevel
		}
		return nil, nil, err
	}
	return cfg, snap, nil
}

// serveUntilStop reloads on SIGHUP and when the watched files change,
// until SIGTERM or SIGINT arrives or ctx ends, and says which.
func (d *daemon) serveUntilStop(ctx context.Context, sigs <-chan os.Signal, files *watch.Watcher) string {
	for {
		select {
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				return sig.String()
			}
			d.reloadConfig()
			files.Set(rotatedFiles(d.cfg))
		case changed := <-files.Changes():
			d.reloadChanged(files, changed)
		case <-ctx.Done():
			return "context done"
		}
	}
}

// IsConfigError reports whether err is bad configuration (exit 78).
func IsConfigError(err error) bool {
	var ce *config.Error
	return errors.As(err, &ce)
}
