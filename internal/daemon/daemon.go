// Package daemon is the one package that wires the others into a running
// process: logging, the TLS snapshot, listeners, signals, drain and exit.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/forward"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/proxy"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// NewLogger returns the logger the configuration asks for, on w.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// NewSnapshot loads certificates and builds everything a connection needs.
func NewSnapshot(cfg *config.Config) (*proxy.Snapshot, error) {
	srv, err := tlsconf.New(cfg)
	if err != nil {
		return nil, err
	}
	return &proxy.Snapshot{
		TLS:              srv,
		Target:           cfg.Target,
		HandshakeTimeout: cfg.HandshakeTimeout,
		DialTimeout:      cfg.DialTimeout,
		Forward:          forward.Options{IdleTimeout: cfg.IdleTimeout, CloseTimeout: cfg.CloseTimeout},
	}, nil
}

// LogSnapshot logs each served chain and every warning, at start.
func LogSnapshot(log *slog.Logger, cfg *config.Config, s *proxy.Snapshot) {
	for i, c := range s.TLS.Chains {
		log.Info("serving certificate", "order", i+1, "subject", c.Leaf().Subject.String(), "key", c.Algorithm(),
			"chain_length", len(c.TLS.Certificate), "expires", c.Leaf().NotAfter.UTC().Format(time.RFC3339), "file", c.CertPath)
	}
	for _, w := range s.TLS.Warnings() {
		log.Warn(w)
	}
	if cfg.UnsafeTarget {
		log.Warn("unsafe_target is set: plain text to the backend may leave this host", "target", cfg.Target)
	}
}

// Run serves until SIGTERM or SIGINT (or ctx ends), then drains. It
// returns nil after a clean drain, [proxy.ErrDrainTimeout] when connections
// had to be cut, and a *[config.Error] for bad configuration.
func Run(ctx context.Context, cfg *config.Config, stderr io.Writer) error {
	log := NewLogger(cfg, stderr)
	snap, err := NewSnapshot(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	if cfg.Environment != "" {
		log.Info("environment", "name", cfg.Environment)
	}
	LogSnapshot(log, cfg, snap)
	p := proxy.New(proxy.Options{Logger: log, MaxConnections: cfg.MaxConnections}, snap)

	stop := make(chan os.Signal, 2)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(stop)

	served := make(chan error, 1)
	go func() { served <- p.Serve(ln, ln.Addr().String()) }()
	log.Info("listening", "address", ln.Addr().String(), "target", cfg.Target, "pqc_mode", string(cfg.PQCMode), "client_cert_mode", string(cfg.ClientCertMode))

	select {
	case sig := <-stop:
		log.Info("stopping: draining open connections", "signal", sig.String(), "drain_timeout", cfg.DrainTimeout, "open", p.Stats.Active.Load())
	case <-ctx.Done():
		log.Info("stopping: draining open connections", "drain_timeout", cfg.DrainTimeout, "open", p.Stats.Active.Load())
	case err := <-served:
		return err
	}
	ln.Close()
	<-served
	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
	defer cancel()
	go func() {
		// A second signal cuts the drain short.
		select {
		case <-stop:
			cancel()
		case <-drainCtx.Done():
		}
	}()
	if err := p.Shutdown(drainCtx); err != nil {
		return err
	}
	log.Info("stopped", "connections", p.Stats.Accepted.Load(), "pq", p.Stats.PQ.Load())
	return nil
}

// IsConfigError reports whether err is bad configuration (exit 78).
func IsConfigError(err error) bool {
	var ce *config.Error
	return errors.As(err, &ce)
}
