package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/logging"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/proxy"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/sdnotify"
)

// reloadConfig reads the configuration file and environment again, builds
// a whole new snapshot (certificates, CA pool, target, client_cert_mode,
// pqc_mode) and swaps it in only if all of it is valid. Open connections
// keep the snapshot they started with. systemd hears RELOADING=1 first and
// READY=1 last (sd_notify(3)), whatever the outcome; then the outcome is
// recorded for `quantum-safe-proxy reload` (see package reloadstate),
// after READY=1 so that systemd has both notifications queued before the
// command exits and ends the reload job.
func (d *daemon) reloadConfig() {
	sdnotify.Reloading()
	d.published(d.outcome.Begin())
	at := time.Now().Format(time.TimeOnly)
	cfg, snap, err := d.loadSnapshot()
	if err == nil && cfg.Mode != d.cfg.Mode {
		err = modeChanged(d.cfg.Mode, cfg.Mode)
	}
	if err == nil {
		err = checkClientListeners(cfg, d.set)
	}
	if err == nil {
		err = checkAdminSocket(cfg, d.adminSocket)
	}
	if err != nil {
		d.reloadFailed(err, at)
		first, more := firstProblem(err)
		d.published(d.outcome.Failed(failureReason(first, more, "the previous configuration serves on")))
		return
	}
	var kept []string
	for _, change := range d.restartOnly(cfg) {
		d.log.Warn("reload: " + change + " changes only with a restart; keeping the current value")
		kept = append(kept, change+" changes only with a restart; the current value is kept")
	}
	cfg.Listen, cfg.MaxConnections, cfg.LogFormat = d.cfg.Listen, d.cfg.MaxConnections, d.cfg.LogFormat
	cfg.MaxHandshakes, cfg.AdminListen = d.cfg.MaxHandshakes, d.cfg.AdminListen
	d.swap(cfg, snap, at, "reloaded")
	d.published(d.outcome.Succeeded(kept))
}

// reloadFiles rebuilds the snapshot from the configuration in force, so
// that the certificates, keys, CA bundle and CRLs it names are read again, and
// swaps it in only if all of it is valid. The configuration file and the
// environment are not read: an edit to them not yet applied by
// systemctl reload (a target, a client_cert_mode, half a change) must
// not take effect because a certificate was rotated. Only the chains,
// client CAs and CRLs can differ, and the outcome line says what
// triggered it.
func (d *daemon) reloadFiles() {
	sdnotify.Reloading()
	at := time.Now().Format(time.TimeOnly)
	snap, err := NewSnapshot(d.cfg)
	if err != nil {
		d.reloadFailed(err, at)
		return
	}
	d.swap(d.cfg, snap, at, "reloaded: configured files changed")
}

// swap puts cfg and snap in force: it logs what changed, the snapshot and
// the outcome (as msg), notes it for STATUS= and tells systemd READY=1.
func (d *daemon) swap(cfg *config.Config, snap *proxy.Snapshot, at, msg string) {
	changes := diff(d.cfg, d.snap, cfg, snap)
	d.level.Set(logging.ParseLevel(cfg.LogLevel))
	applyClient(snap)
	d.proxy.Swap(snap)
	d.state.reloaded(snap)
	d.cfg, d.snap = cfg, snap
	for _, c := range changes {
		d.log.Debug("reload: changed", "setting", c.setting, "was", c.was, "now", c.now)
	}
	d.logSnapshot(cfg, snap)
	d.metrics.SetFiles(metricsFiles(cfg, snap))
	d.metrics.Reloaded(true, time.Now())
	// The outcome is logged at NOTICE, which every log_level shows: an
	// operator who keeps log_level warn still sees that a reload took.
	d.log.Log(context.Background(), logging.LevelNotice, msg, "changed", changedKeys(changes),
		"target", cfg.Target, "pqc_mode", string(cfg.PQCMode), "client_cert_mode", string(cfg.ClientCertMode))
	d.setReload("reload " + at + " ok (" + changedSummary(changes) + ")")
	sdnotify.Ready(d.sentStatus())
}

// reloadFailed logs why a reload failed, notes it for STATUS= and tells
// systemd READY=1: the previous configuration is still served.
func (d *daemon) reloadFailed(err error, at string) {
	d.logReloadFailure(err)
	d.metrics.Reloaded(false, time.Time{})
	d.state.reloadFailed(err, at)
	d.setReload("reload " + at + " failed, previous configuration kept")
	sdnotify.Ready(d.sentStatus())
}

// changedSummary is the STATUS= note on what a reload changed, short
// enough for the one line `systemctl status` shows.
func changedSummary(cs []change) string {
	switch len(cs) {
	case 0:
		return "nothing changed"
	case 1, 2, 3:
		return "changed " + changedKeys(cs)
	}
	return fmt.Sprintf("%d changes", len(cs))
}

func (d *daemon) logReloadFailure(err error) {
	var ce *config.Error
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			d.log.Error("reload: " + p.Error())
		}
	} else {
		d.log.Error("reload: " + err.Error())
	}
	d.log.Error("reload failed: still serving the previous configuration")
}

func (d *daemon) setReload(s string) {
	d.mu.Lock()
	d.reload = s
	d.mu.Unlock()
}

// restartOnly names the settings that changed but take effect only when
// the process restarts: sockets and process-wide machinery.
func (d *daemon) restartOnly(cfg *config.Config) []string {
	var out []string
	if cfg.Listen != d.cfg.Listen && !d.set.Activated {
		out = append(out, "listen")
	}
	if cfg.MaxConnections != d.cfg.MaxConnections {
		out = append(out, "max_connections")
	}
	if cfg.MaxHandshakes != d.cfg.MaxHandshakes {
		out = append(out, "max_handshakes")
	}
	if cfg.LogFormat != d.cfg.LogFormat {
		out = append(out, "log_format")
	}
	if cfg.AdminListen != d.cfg.AdminListen {
		out = append(out, "admin_listen")
	}
	return out
}
