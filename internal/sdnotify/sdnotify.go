// Package sdnotify tells systemd about the service's state (sd_notify(3)):
// READY, RELOADING, STOPPING, STATUS and WATCHDOG. Without NOTIFY_SOCKET
// every call does nothing.
package sdnotify

import (
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Enabled reports whether systemd listens (NOTIFY_SOCKET is set).
func Enabled() bool { return os.Getenv("NOTIFY_SOCKET") != "" }

func send(lines ...string) error {
	_, err := daemon.SdNotify(false, strings.Join(lines, "\n"))
	return err
}

// Ready says the service is up, with a status line.
func Ready(status string) error { return send(daemon.SdNotifyReady, "STATUS="+status) }

// Reloading says a reload has started. MONOTONIC_USEC lets systemd 253+
// (Type=notify-reload) match it to the reload it asked for; systemd 252
// ignores it (systemd.service(5), Type=notify-reload).
func Reloading() error {
	return send(daemon.SdNotifyReloading, strings.TrimSuffix(daemon.SdNotifyMonotonicUsec(), "\n"))
}

// Stopping says the service is shutting down.
func Stopping(status string) error { return send(daemon.SdNotifyStopping, "STATUS="+status) }

// Status updates the status line.
func Status(status string) error { return send("STATUS=" + status) }

// Watchdog pets the watchdog and refreshes the status line.
func Watchdog(status string) error { return send(daemon.SdNotifyWatchdog, "STATUS="+status) }

// WatchdogInterval is how often to pet the watchdog: half of WatchdogSec=
// (sd_watchdog_enabled(3) recommends half), or 0 when it is off.
func WatchdogInterval() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil || d <= 0 {
		return 0
	}
	return d / 2
}
