// Package admin serves the admin endpoint: plain HTTP on a listener of
// its own, never the TLS one, with /metrics (the handler it is given),
// /healthz (the process is up) and /readyz (every readiness [Check]
// holds; see [readiness] for the caching). Anything else is 404, and a
// method other than GET or HEAD on a known path is 405.
//
// The endpoint has no authentication: it belongs on loopback or a unix
// socket (package config and package daemon enforce that). It is built
// so that a client of it cannot exhaust the process: few connections at
// once, small request headers, and deadlines on every phase of a request.
package admin

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Limits of the admin server. A Prometheus scrape, a systemd or load
// balancer probe and an operator's curl are each one short request; these
// bound what a client that sends slowly, sends much or never leaves can
// hold.
const (
	// DefaultMaxConnections is how many admin connections may be open at
	// once; the next wait in the kernel's backlog. A few scrapers and
	// probes with keep-alive fit; a flood of clients costs at most this
	// many goroutines and buffers.
	DefaultMaxConnections = 16
	// readHeaderTimeout bounds the wait for a request's headers, which a
	// local client sends in one packet: a client that connects and sends
	// nothing (slowloris) frees its slot after this.
	readHeaderTimeout = 5 * time.Second
	// readTimeout bounds the whole request; GET and HEAD have no body.
	readTimeout = 5 * time.Second
	// writeTimeout bounds a response: 10 s is Prometheus's default
	// scrape_timeout, after which the scraper has given up anyway.
	writeTimeout = 10 * time.Second
	// idleTimeout is how long a kept-alive connection may wait for its
	// next request, holding a slot meanwhile.
	idleTimeout = 30 * time.Second
	// maxHeaderBytes bounds a request's headers: a scrape or probe sends
	// a few hundred bytes. net/http allows 4096 bytes beyond it
	// (http.Server reads at most MaxHeaderBytes+4096) and answers 431
	// past that.
	maxHeaderBytes = 4 << 10
	// shutdownGrace is how long [Server.Shutdown] lets a request in
	// progress finish before it closes the connection.
	shutdownGrace = time.Second
)

// Options configure a [Server].
type Options struct {
	// Metrics serves /metrics. Nil means /metrics is 404.
	Metrics http.Handler
	// Checks are the conditions of readiness, reported by /readyz in
	// this order. None means always ready.
	Checks []Check
	// Logger receives the HTTP server's own errors (an accept that keeps
	// failing, for instance). Nil means they are discarded.
	Logger *slog.Logger
	// MaxConnections caps open admin connections. Zero means
	// [DefaultMaxConnections].
	MaxConnections int
}

// Server is the admin endpoint.
type Server struct {
	http  *http.Server
	ready *readiness
	max   int
}

// New returns a server for opts; [Server.Serve] starts it.
func New(opts Options) *Server {
	s := &Server{ready: &readiness{checks: opts.Checks}, max: opts.MaxConnections}
	if s.max <= 0 {
		s.max = DefaultMaxConnections
	}
	// A "GET" pattern matches HEAD too; on these paths any other method
	// is answered 405 with Allow: GET, HEAD, and every other path 404
	// (net/http.ServeMux).
	mux := http.NewServeMux()
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// OPTIONS * goes to the mux, which refuses it (400), instead
		// of net/http's own 200.
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Serve accepts admin connections on ln, at most the configured number
// at once, until [Server.Shutdown]; it then returns
// [http.ErrServerClosed]. ln is closed when Serve returns.
func (s *Server) Serve(ln net.Listener) error {
	return s.http.Serve(limitListener(ln, s.max))
}

// Shutdown closes the listener, lets requests in progress finish for up
// to a second and then closes every connection.
func (s *Server) Shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		return s.http.Close()
	}
	return nil
}

// plain sets the headers of a plain-text answer meant for a probe: never
// cached by anything in between, never sniffed as something else.
func plain(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// healthz answers 200 while the process runs: it is the liveness probe,
// which says nothing of configuration or backend (those are /readyz).
func healthz(w http.ResponseWriter, _ *http.Request) {
	plain(w)
	io.WriteString(w, "ok\n")
}

// readyz answers 200 when every check holds and 503 when one does not,
// with one line per check; see [readiness] for how often they run.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	res, err := s.ready.get(r.Context())
	if err != nil {
		return // the client went away
	}
	plain(w)
	if !res.ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	io.WriteString(w, res.body)
}
