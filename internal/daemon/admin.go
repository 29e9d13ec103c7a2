package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/admin"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/listen"
)

// The admin endpoint (package admin) serves on one socket: the one
// systemd passes named "admin" (FileDescriptorName=admin), else
// admin_listen, else none. systemd's wins, as it does for the TLS
// listeners: the socket unit is what the operator set up for this
// service, and admin_listen may be there for runs without systemd.
//
// It starts as soon as there is something to report. With systemd's
// socket that is before any configuration loads: while the daemon waits
// for a valid one (see [daemon.awaitConfig]) /healthz answers 200 and
// /readyz 503 with the problem, which a load balancer and an operator
// want to see, and probes do not hang in the socket's backlog. With
// admin_listen, which only a loaded configuration names, it starts once
// one loads, before READY=1.
//
// It stops at the end of the drain, not when the proxy stops accepting:
// meanwhile /readyz says 503 (listeners: draining), which tells a load
// balancer to send no more clients, and a scrape still sees the drain's
// connections close. The process exits right after, so it holds the
// socket no longer than the drain does.

// serveAdminWhileWaiting starts the admin endpoint on systemd's admin
// socket during the wait for a valid configuration. unsafe_admin_listen
// is not known then: a socket that is not loopback or unix waits until a
// configuration allows it.
func (d *daemon) serveAdminWhileWaiting() {
	l := d.set.Admin
	if l == nil {
		return
	}
	if !localAddr(l.Addr()) {
		d.log.Warn("socket named admin from systemd is not loopback: it is served once a configuration with unsafe_admin_listen loads", "address", l.Addr().String())
		return
	}
	d.set.Admin, d.adminSocket = nil, l
	d.startAdmin(l.Listener)
}

// openAdmin returns the admin endpoint's listener for cfg, which has
// just loaded at start: systemd's socket (checked against
// unsafe_admin_listen), or admin_listen bound now, or nil for none. It
// returns nil too when the endpoint serves since the wait.
//
// systemd's socket, when unsafe_admin_listen does not allow it, is left
// unserved with an error in the log, and the proxy serves TLS all the
// same. An exit would cost more than the endpoint: under socket
// activation the next client starts the service again, and after five
// starts in ten seconds systemd fails the TLS socket too (see
// [daemon.awaitConfig]). So is admin_listen that cannot be bound under
// socket activation; without it, that is an error, as for listen.
// admin_listen's address itself is checked with the configuration (and
// by `check`).
func (d *daemon) openAdmin(cfg *config.Config) (net.Listener, error) {
	l := d.adminSocket // taken during the wait, if it was served then
	if l == nil && d.set.Admin != nil {
		if err := checkAdminSocket(cfg, d.set.Admin); err != nil {
			d.log.Error("admin endpoint not served: " + err.Error() + " (then restart the service)")
			return nil, nil
		}
		// Out of the set, which closes when the proxy stops accepting:
		// the admin server closes it at the end of the drain.
		l, d.set.Admin, d.adminSocket = d.set.Admin, nil, d.set.Admin
	}
	if l == nil {
		if cfg.AdminListen == "" {
			return nil, nil
		}
		ln, err := listen.Bind(cfg.AdminListen)
		if err != nil {
			err = fmt.Errorf("admin_listen: %w", err)
			if d.set.Activated {
				// As for systemd's socket: TLS is served all the same.
				d.log.Error("admin endpoint not served: " + err.Error())
				return nil, nil
			}
			return nil, err
		}
		return ln, nil
	}
	if cfg.AdminListen != "" {
		d.log.Info("admin endpoint on the socket named admin from systemd; admin_listen is not used", "admin_listen", cfg.AdminListen, "address", l.Addr().String())
	}
	if d.admin != nil {
		return nil, nil
	}
	return l.Listener, nil
}

// startAdmin serves the admin endpoint on ln.
func (d *daemon) startAdmin(ln net.Listener) {
	d.admin = admin.New(admin.Options{Metrics: d.metrics.Handler(), Checks: d.state.checks(), Logger: d.log})
	d.adminDone = make(chan struct{})
	go d.serveAdmin(ln)
	name := ln.Addr().String()
	if ln.Addr().Network() == "unix" {
		name = "unix:" + name
	}
	d.log.Info("admin endpoint listening", "address", name, "systemd", d.adminSocket != nil, "paths", "/metrics /healthz /readyz")
}

// serveAdmin is the admin server's goroutine.
func (d *daemon) serveAdmin(ln net.Listener) {
	defer close(d.adminDone)
	if err := d.admin.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		d.log.Error("admin endpoint stopped", "error", err)
	}
}

// stopAdmin stops the admin endpoint, if it runs: requests in progress
// get a second to finish.
func (d *daemon) stopAdmin() {
	if d.admin == nil {
		return
	}
	d.admin.Shutdown()
	<-d.adminDone
}

// checkAdminSocket applies unsafe_admin_listen to the admin socket
// systemd passed (l, nil if none), which the configuration could not
// see: like admin_listen, it must be a unix socket or on loopback, since
// the endpoint is plain HTTP without authentication.
func checkAdminSocket(cfg *config.Config, l *listen.Listener) error {
	if l == nil || cfg.UnsafeAdminListen || localAddr(l.Addr()) {
		return nil
	}
	return &config.Error{Problems: []error{fmt.Errorf("socket %q from systemd (%s) is not loopback: the admin endpoint is plain HTTP without authentication; set ListenStream= to 127.0.0.1:PORT or a path, or set unsafe_admin_listen if you mean it",
		l.Name, l.Addr())}}
}

// localAddr reports whether a is a unix socket or on loopback.
func localAddr(a net.Addr) bool {
	switch a := a.(type) {
	case *net.UnixAddr:
		return true
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	}
	return false
}
