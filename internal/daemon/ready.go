package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/admin"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/proxy"
)

// readyState is what /readyz reads of the daemon. The admin server's
// goroutines read it while the daemon's goroutine changes it, so each
// part is atomic; the daemon's own fields (cfg, snap) are not read.
type readyState struct {
	proxy     atomic.Pointer[proxy.Proxy]    // nil until a configuration loads
	snap      atomic.Pointer[proxy.Snapshot] // the snapshot in force; nil until then
	listeners atomic.Int32                   // how many accept loops serve
	waiting   atomic.Pointer[string]         // while no configuration loads: why
	reload    atomic.Pointer[string]         // why the last reload failed; nil if it did not
	draining  atomic.Bool                    // the proxy stopped accepting
}

// checks are the conditions of readiness, in the order /readyz lists
// them.
func (s *readyState) checks() []admin.Check {
	return []admin.Check{
		{Name: "configuration", Run: s.configuration},
		{Name: "certificates", Run: s.certificates},
		{Name: "listeners", Run: s.listening},
		{Name: "reload", Run: s.lastReload},
		{Name: "backend", Run: s.backend},
	}
}

// serving notes that p serves snap on n listeners.
func (s *readyState) serving(p *proxy.Proxy, snap *proxy.Snapshot, n int) {
	s.snap.Store(snap)
	s.listeners.Store(int32(n))
	s.proxy.Store(p)
	s.waiting.Store(nil)
}

// notLoaded notes, while the daemon waits for a valid configuration,
// the first of its problems and how many more there are.
func (s *readyState) notLoaded(first string, more int) {
	if more > 0 {
		first += fmt.Sprintf(" (and %d more in the journal)", more)
	}
	s.waiting.Store(&first)
}

// reloaded notes a reload that put snap in force.
func (s *readyState) reloaded(snap *proxy.Snapshot) {
	s.snap.Store(snap)
	s.reload.Store(nil)
}

// reloadFailed notes a reload, begun at at, that failed with err.
func (s *readyState) reloadFailed(err error, at string) {
	why := err.Error()
	var ce *config.Error
	if errors.As(err, &ce) && len(ce.Problems) > 0 {
		why = ce.Problems[0].Error()
		if len(ce.Problems) > 1 {
			why += fmt.Sprintf(" (and %d more in the journal)", len(ce.Problems)-1)
		}
	}
	why = "the reload at " + at + " failed, the previous configuration is still served: " + why
	s.reload.Store(&why)
}

func (s *readyState) configuration(context.Context) error {
	if why := s.waiting.Load(); why != nil {
		return errors.New("not loaded: " + *why)
	}
	if s.snap.Load() == nil {
		return errors.New("not loaded")
	}
	return nil
}

// certificates holds when a snapshot is in force and none of its
// chains (served ones, or client mode's client certificates) is outside
// its validity period: loading only warns of one, which every client
// then refuses.
func (s *readyState) certificates(context.Context) error {
	snap := s.snap.Load()
	if snap == nil {
		return errors.New("not loaded")
	}
	var chains []*certs.Chain
	switch {
	case snap.TLS != nil:
		chains = snap.TLS.Chains
	case snap.Client != nil:
		chains = snap.Client.Chains
	}
	var problems []string
	now := time.Now()
	for _, c := range chains {
		if err := certs.Validity(c.Leaf(), now); err != nil {
			problems = append(problems, c.CertPath+": "+err.Error())
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// listening holds when every accept loop runs and none keeps failing.
func (s *readyState) listening(context.Context) error {
	p := s.proxy.Load()
	switch {
	case p == nil:
		return errors.New("open, but each connection is reset until a configuration loads")
	case s.draining.Load():
		return fmt.Errorf("stopped accepting: draining %s", count(p.Stats.Active.Load(), "connection", "connections"))
	case !p.Healthy(int(s.listeners.Load())):
		return errors.New("a listener is not accepting: its accept loop stopped or keeps failing (the journal says why)")
	}
	return nil
}

func (s *readyState) lastReload(context.Context) error {
	if why := s.reload.Load(); why != nil {
		return errors.New(*why)
	}
	return nil
}

// backend holds when the target accepts a connection, which is closed
// at once, unused; a backend that wants a PROXY header or a request sees
// a client that left, at most once a second. In client mode the target
// is the remote TLS server: the check is the TCP connection only, with
// no handshake to cost the server a signature at every probe.
func (s *readyState) backend(ctx context.Context) error {
	snap := s.snap.Load()
	if snap == nil {
		return errors.New("no configuration loaded")
	}
	d := net.Dialer{Timeout: snap.DialTimeout}
	network, addr := "tcp", snap.Target
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", path
	}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	c.Close()
	return nil
}
