package daemon

import (
	"errors"
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
// READY=1 last (sd_notify(3)), whatever the outcome.
func (d *daemon) reloadConfig() {
	sdnotify.Reloading()
	at := time.Now().Format(time.TimeOnly)
	cfg, err := d.load()
	var snap *proxy.Snapshot
	if err == nil {
		snap, err = NewSnapshot(cfg)
	}
	if err != nil {
		d.logReloadFailure(err)
		d.setReload("reload " + at + " failed, previous configuration kept")
		sdnotify.Ready(d.status())
		return
	}
	for _, change := range d.restartOnly(cfg) {
		d.log.Warn("reload: " + change + " changes only with a restart; keeping the current value")
	}
	cfg.Listen, cfg.MaxConnections, cfg.LogFormat = d.cfg.Listen, d.cfg.MaxConnections, d.cfg.LogFormat
	cfg.MaxHandshakes = d.cfg.MaxHandshakes
	d.level.Set(logging.ParseLevel(cfg.LogLevel))
	d.proxy.Swap(snap)
	d.cfg = cfg
	logSnapshot(d.log, cfg, snap)
	d.log.Info("reloaded", "target", cfg.Target, "pqc_mode", string(cfg.PQCMode), "client_cert_mode", string(cfg.ClientCertMode))
	d.setReload("reload " + at + " ok")
	sdnotify.Ready(d.status())
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
	return out
}
