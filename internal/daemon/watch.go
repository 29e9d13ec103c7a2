package daemon

import (
	"context"
	"strings"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/logging"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/watch"
)

// watchFiles starts watching the files cfg names, so that a rotated
// certificate, key, CA bundle or CRL is reloaded with nothing sent to the
// process. Without inotify it logs one warning and returns nil (a nil
// *watch.Watcher watches nothing): SIGHUP still reloads.
//
// The configuration file itself is not watched: an edit to it changes
// policy (target, client_cert_mode, pqc_mode), which takes effect when
// the operator says so (systemctl reload), not when an editor saves a
// file halfway through a change.
func (d *daemon) watchFiles(cfg *config.Config) *watch.Watcher {
	w, err := watch.Start(rotatedFiles(cfg), watch.Options{Logger: d.log})
	if err != nil {
		d.log.Warn("not watching certificate files for rotation; changes to them need systemctl reload (SIGHUP)", "error", err.Error())
		return nil
	}
	return w
}

// rotatedFiles are the files a reload reads besides the configuration:
// each certificate chain and key, the client CA bundle and the CRLs (a
// CA publishes a new CRL before the last one's nextUpdate, and a
// revocation should take effect as soon as it lands).
func rotatedFiles(cfg *config.Config) []string {
	var files []string
	for _, c := range cfg.Certificates {
		files = append(files, c.CertPath, c.KeyPath)
	}
	if cfg.CACertPath != "" {
		files = append(files, cfg.CACertPath)
	}
	return append(files, cfg.CRLFiles...)
}

// reloadChanged reloads the files of the configuration in force because
// some changed (see [daemon.reloadFiles]: the configuration file is not
// read again), then resolves the watched files again, as after SIGHUP: a
// rotation may have replaced a symbolic link along their paths.
func (d *daemon) reloadChanged(w *watch.Watcher, files []string) {
	// At NOTICE, as the reload's outcome is: with log_level warn an
	// operator still sees why a reload no one asked for happened.
	d.log.Log(context.Background(), logging.LevelNotice, "reloading: configured files changed", "files", strings.Join(files, " "))
	d.reloadFiles()
	w.Set(rotatedFiles(d.cfg))
}
