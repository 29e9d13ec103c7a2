package admin

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Check is one condition of readiness.
type Check struct {
	// Name names it in /readyz's answer: "backend", "certificates".
	Name string
	// Run returns nil when the condition holds, else why not. It must
	// return by ctx's deadline.
	Run func(ctx context.Context) error
}

// readyTTL is how long a readiness result answers /readyz. Probes come
// every few seconds (Kubernetes' periodSeconds defaults to 10, HAProxy's
// inter to 2 s); a result a second old is fresh enough for them, and
// however many probes come, the backend sees at most one connection a
// second from the checks.
const readyTTL = time.Second

// checkTimeout bounds one evaluation of every check. Kubernetes' probes
// give up after timeoutSeconds, 1 s by default: within that the prober
// reads the reason in our 503 rather than its own timeout.
const checkTimeout = 800 * time.Millisecond

// result is one evaluation of the checks.
type result struct {
	ready bool
	// body has one line per check, "[+]NAME ok" or "[-]NAME failed:
	// REASON" as Kubernetes' own /readyz?verbose writes them, then
	// "ready" or "not ready".
	body string
}

// readiness evaluates the checks at most once every [readyTTL]:
// a request finds a result less than that old and takes it, or waits
// for the evaluation in progress, or starts one. Requests that come
// together therefore share one evaluation, and no request can make the
// checks run more often.
type readiness struct {
	checks []Check

	mu      sync.Mutex
	last    *result
	at      time.Time     // when last was made
	running chan struct{} // closed when the evaluation in progress ends; nil if none
}

// get returns a result at most [readyTTL] old, or ctx's error if ctx
// ends while it waits for one.
func (r *readiness) get(ctx context.Context) (*result, error) {
	r.mu.Lock()
	if r.last != nil && time.Since(r.at) < readyTTL {
		res := r.last
		r.mu.Unlock()
		return res, nil
	}
	if r.running == nil {
		// The evaluation runs apart from the request, so that a client
		// that leaves does not cancel it for those waiting with it.
		r.running = make(chan struct{})
		go r.evaluate(r.running)
	}
	done := r.running
	r.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, nil
}

// evaluate runs every check, in order, under one [checkTimeout], stores
// the result and closes done.
func (r *readiness) evaluate(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	res := &result{ready: true}
	var b strings.Builder
	for _, c := range r.checks {
		if err := c.Run(ctx); err != nil {
			res.ready = false
			// One line per check: a reason that spans lines (an error
			// joined from several) is folded.
			b.WriteString("[-]" + c.Name + " failed: " + strings.ReplaceAll(err.Error(), "\n", "; ") + "\n")
			continue
		}
		b.WriteString("[+]" + c.Name + " ok\n")
	}
	if res.ready {
		b.WriteString("ready\n")
	} else {
		b.WriteString("not ready\n")
	}
	res.body = b.String()
	r.mu.Lock()
	r.last, r.at, r.running = res, time.Now(), nil
	r.mu.Unlock()
	close(done)
}
