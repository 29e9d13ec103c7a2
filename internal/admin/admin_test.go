package admin

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// serve runs s on a loopback port until the test ends and returns its
// base URL.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Shutdown()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// answer is what a client reads of one request.
type answer struct {
	code  int
	body  string
	allow string
	ctype string
}

func do(t *testing.T, method, url string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(body), resp.Header.Get("Allow"), resp.Header.Get("Content-Type")}
}

// Each path answers GET and HEAD, 405 with Allow for other methods, and
// anything else is 404.
func TestEndpoints(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "qsp_test 1\n") })
	url := serve(t, New(Options{Metrics: metrics}))
	for _, tc := range []struct {
		method, path string
		want         answer
	}{
		{"GET", "/healthz", answer{code: 200, body: "ok\n", ctype: "text/plain; charset=utf-8"}},
		{"HEAD", "/healthz", answer{code: 200, ctype: "text/plain; charset=utf-8"}},
		{"GET", "/readyz", answer{code: 200, body: "ready\n", ctype: "text/plain; charset=utf-8"}},
		{"HEAD", "/readyz", answer{code: 200, ctype: "text/plain; charset=utf-8"}},
		{"GET", "/metrics", answer{code: 200, body: "qsp_test 1\n", ctype: "text/plain; charset=utf-8"}},
		{"POST", "/healthz", answer{code: 405, body: "Method Not Allowed\n", allow: "GET, HEAD", ctype: "text/plain; charset=utf-8"}},
		{"PUT", "/readyz", answer{code: 405, body: "Method Not Allowed\n", allow: "GET, HEAD", ctype: "text/plain; charset=utf-8"}},
		{"DELETE", "/metrics", answer{code: 405, body: "Method Not Allowed\n", allow: "GET, HEAD", ctype: "text/plain; charset=utf-8"}},
		{"OPTIONS", "/healthz", answer{code: 405, body: "Method Not Allowed\n", allow: "GET, HEAD", ctype: "text/plain; charset=utf-8"}},
		{"GET", "/", answer{code: 404, body: "404 page not found\n", ctype: "text/plain; charset=utf-8"}},
		{"GET", "/healthz/", answer{code: 404, body: "404 page not found\n", ctype: "text/plain; charset=utf-8"}},
		{"GET", "/debug/pprof/", answer{code: 404, body: "404 page not found\n", ctype: "text/plain; charset=utf-8"}},
		{"POST", "/nothing", answer{code: 404, body: "404 page not found\n", ctype: "text/plain; charset=utf-8"}},
	} {
		if got := do(t, tc.method, url+tc.path); got != tc.want {
			t.Errorf("%s %s: %+v, want %+v", tc.method, tc.path, got, tc.want)
		}
	}
	// Without a metrics handler there is no /metrics.
	if got := do(t, "GET", serve(t, New(Options{}))+"/metrics"); got.code != 404 {
		t.Errorf("GET /metrics without a handler: %d", got.code)
	}
}

// OPTIONS * is answered by net/http itself (200) by default; here it
// goes to the mux, which refuses a path without a leading slash (400).
func TestOptionsStar(t *testing.T) {
	url := serve(t, New(Options{}))
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("OPTIONS *: %d, want 400", resp.StatusCode)
	}
}

// /readyz names every check, says why each failed one failed on one
// line, and is 503 when any failed.
func TestReadyzStates(t *testing.T) {
	ok := func(context.Context) error { return nil }
	fail := func(msg string) func(context.Context) error {
		return func(context.Context) error { return errors.New(msg) }
	}
	for _, tc := range []struct {
		name   string
		checks []Check
		code   int
		body   string
	}{
		{"all hold", []Check{{"configuration", ok}, {"backend", ok}}, 200,
			"[+]configuration ok\n[+]backend ok\nready\n"},
		{"backend down", []Check{{"configuration", ok}, {"backend", fail("dial tcp 127.0.0.1:6000: connect: connection refused")}}, 503,
			"[+]configuration ok\n[-]backend failed: dial tcp 127.0.0.1:6000: connect: connection refused\nnot ready\n"},
		{"waiting for a configuration", []Check{{"configuration", fail("not loaded: config.json: tagret: unknown key")}, {"listeners", fail("connections are reset until a configuration loads")}}, 503,
			"[-]configuration failed: not loaded: config.json: tagret: unknown key\n[-]listeners failed: connections are reset until a configuration loads\nnot ready\n"},
		{"a reason on two lines", []Check{{"reload", fail("first\nsecond")}}, 503,
			"[-]reload failed: first; second\nnot ready\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := do(t, "GET", serve(t, New(Options{Checks: tc.checks}))+"/readyz")
			if got.code != tc.code || got.body != tc.body {
				t.Errorf("%d\n%s\nwant %d\n%s", got.code, got.body, tc.code, tc.body)
			}
		})
	}
}

// get asks s's handler for path, in the test's goroutine or a bubble's.
func get(s *Server, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.http.Handler.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

// Probes that come together share one evaluation of the checks, and a
// result answers for a second: however many probes come, the checks
// (the backend's dial) run at most once a second.
func TestReadyzCachedAndShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int32
		var down atomic.Bool
		slow := func(ctx context.Context) error {
			runs.Add(1)
			time.Sleep(100 * time.Millisecond) // a dial that takes a while
			if down.Load() {
				return errors.New("refused")
			}
			return nil
		}
		s := New(Options{Checks: []Check{{"backend", slow}}})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if rec := get(s, "/readyz"); rec.Code != 200 {
					t.Errorf("a concurrent probe: %d", rec.Code)
				}
			})
		}
		wg.Wait()
		if n := runs.Load(); n != 1 {
			t.Fatalf("20 concurrent probes ran the checks %d times, want once", n)
		}
		// Within the second after the result, it answers; the backend
		// going down is not seen yet.
		down.Store(true)
		time.Sleep(readyTTL - time.Millisecond)
		if rec := get(s, "/readyz"); rec.Code != 200 || runs.Load() != 1 {
			t.Fatalf("just under a second later: %d after %d runs", rec.Code, runs.Load())
		}
		time.Sleep(time.Millisecond)
		if rec := get(s, "/readyz"); rec.Code != 503 || runs.Load() != 2 {
			t.Fatalf("a second later: %d after %d runs, want 503 after 2", rec.Code, runs.Load())
		}
		// A probe every 10 ms for 5 s: 5 more runs, not 500.
		for range 500 {
			get(s, "/readyz")
			time.Sleep(10 * time.Millisecond)
		}
		if n := runs.Load(); n < 6 || n > 7 {
			t.Errorf("500 probes over 5 s ran the checks %d times in all, want 6 or 7", n)
		}
	})
}

// A probe that gives up does not cancel the evaluation that others wait
// for, and every check shares one deadline, checkTimeout.
func TestReadyzClientLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var deadline time.Time
		hang := func(ctx context.Context) error {
			deadline, _ = ctx.Deadline()
			<-ctx.Done()
			return ctx.Err()
		}
		s := New(Options{Checks: []Check{{"backend", hang}}})
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		leaving := make(chan int)
		go func() {
			rec := httptest.NewRecorder()
			s.http.Handler.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/readyz", nil))
			leaving <- rec.Code
		}()
		synctest.Wait()
		cancel()
		<-leaving
		rec := get(s, "/readyz")
		if rec.Code != 503 || rec.Body.String() != "[-]backend failed: context deadline exceeded\nnot ready\n" {
			t.Errorf("%d %q", rec.Code, rec.Body)
		}
		if got := deadline.Sub(start); got != checkTimeout {
			t.Errorf("the checks' deadline was %v after the probe, want %v", got, checkTimeout)
		}
	})
}

// At the cap, a further client waits until a connection closes: clients
// that hold connections cannot make the process take more.
func TestConnectionLimit(t *testing.T) {
	url := serve(t, New(Options{MaxConnections: 2}))
	addr := strings.TrimPrefix(url, "http://")
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	client := &http.Client{Timeout: 300 * time.Millisecond}
	if resp, err := client.Get(url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a third connection was served while two were open")
	}
	held[0].Close()
	client.Timeout = 5 * time.Second
	resp, err := client.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("after one of the two closed: %v", err)
	}
	resp.Body.Close()
}

// Headers beyond the limit are refused with 431, and the server has a
// deadline for every phase of a request.
func TestRequestLimits(t *testing.T) {
	s := New(Options{})
	url := serve(t, s)
	req, _ := http.NewRequest("GET", url+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 16<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB of headers: %d, want 431", resp.StatusCode)
	}
	h := s.http
	if h.ReadHeaderTimeout == 0 || h.ReadTimeout == 0 || h.WriteTimeout == 0 || h.IdleTimeout == 0 || h.MaxHeaderBytes == 0 {
		t.Errorf("a limit is unset: %+v", h)
	}
}
