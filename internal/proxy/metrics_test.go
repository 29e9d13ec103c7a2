package proxy

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/metrics"
)

// observed is a proxy for cfg whose metrics are m, with m's bytes read
// from the proxy as the daemon wires them.
func observed(t *testing.T, cfg *config.Config, handler func(net.Conn)) (*harness, *metrics.Metrics) {
	t.Helper()
	m := metrics.New("test")
	h := startObserved(t, cfg, handler, m)
	m.SetTraffic(func() metrics.Traffic {
		tr := h.proxy.Traffic()
		return metrics.Traffic{PQ: metrics.Bytes(tr.PQ), Classical: metrics.Bytes(tr.Classical)}
	})
	return h, m
}

// A scripted sequence of connections moves every connection metric by
// exactly what it should: a post-quantum client, the same client
// resuming, a classical (X25519-only) client, a client speaking
// something else than TLS, a post-quantum client while the backend is
// down, and, in pqc_mode strict, a classical client.
func TestMetricsScriptedSequence(t *testing.T) {
	h, m := observed(t, baseConfig(), nil)
	g := m.Gatherer()
	const msg = len("post-quantum hello\n") // exchange's line, echoed

	pqClient := clientConfig(t) // with its session cache, as clients come
	for i, resumed := range []bool{false, true} {
		cs, err := exchange(h.addr, pqClient)
		if err != nil || cs.CurveID != tls.X25519MLKEM768 || cs.DidResume != resumed {
			t.Fatalf("PQ connection %d: %v, resumed %v, %v", i+1, cs.CurveID, cs.DidResume, err)
		}
	}
	classical := clientConfig(t)
	classical.CurvePreferences = []tls.CurveID{tls.X25519}
	if cs, err := exchange(h.addr, classical); err != nil || cs.CurveID != tls.X25519 {
		t.Fatalf("classical connection: %v, %v", cs.CurveID, err)
	}
	notTLS(t, h.addr)
	waitClosed(t, g, 4)

	h.backend.Close()
	if _, err := exchange(h.addr, clientConfig(t)); err == nil {
		t.Fatal("a connection while the backend is down was answered")
	}
	waitClosed(t, g, 5)

	strict := baseConfig()
	strict.PQCMode = config.PQCStrict
	reload(t, h, strict)
	if _, err := exchange(h.addr, classical); err == nil || !strings.Contains(err.Error(), "handshake failure") {
		t.Fatalf("pqc_mode strict answered a classical client: %v", err)
	}
	waitClosed(t, g, 6)

	want := fmt.Sprintf(`
# HELP quantum_safe_proxy_connections_accepted_total Connections accepted.
# TYPE quantum_safe_proxy_connections_accepted_total counter
quantum_safe_proxy_connections_accepted_total 6
# HELP quantum_safe_proxy_connections_active Connections open: accepted and not yet closed, in handshake, dialing or forwarding.
# TYPE quantum_safe_proxy_connections_active gauge
quantum_safe_proxy_connections_active 0
# HELP quantum_safe_proxy_handshakes_total TLS handshakes completed, by TLS version, key exchange group, whether that group is post-quantum, the key algorithm of the certificate that authenticated the server, and whether the session resumed.
# TYPE quantum_safe_proxy_handshakes_total counter
quantum_safe_proxy_handshakes_total{cert_alg="ML-DSA-65",group="X25519",pq="false",resumed="false",tls_version="TLS 1.3"} 1
quantum_safe_proxy_handshakes_total{cert_alg="ML-DSA-65",group="X25519MLKEM768",pq="true",resumed="false",tls_version="TLS 1.3"} 2
quantum_safe_proxy_handshakes_total{cert_alg="ML-DSA-65",group="X25519MLKEM768",pq="true",resumed="true",tls_version="TLS 1.3"} 1
# HELP quantum_safe_proxy_bytes_total Plaintext bytes forwarded, by direction (from the accepted connection to the dialed one, and back) and by whether the connection's key exchange was post-quantum: pq="false" is what a recording could give up to a future quantum computer. Counted as the bytes move.
# TYPE quantum_safe_proxy_bytes_total counter
quantum_safe_proxy_bytes_total{direction="backend_to_client",pq="false"} %[1]d
quantum_safe_proxy_bytes_total{direction="backend_to_client",pq="true"} %[2]d
quantum_safe_proxy_bytes_total{direction="client_to_backend",pq="false"} %[1]d
quantum_safe_proxy_bytes_total{direction="client_to_backend",pq="true"} %[2]d
# HELP quantum_safe_proxy_backend_dial_failures_total Dials to the backend (client mode: to the remote target) that failed.
# TYPE quantum_safe_proxy_backend_dial_failures_total counter
quantum_safe_proxy_backend_dial_failures_total 1
`, msg, 2*msg)
	if err := testutil.GatherAndCompare(g, strings.NewReader(want),
		"quantum_safe_proxy_connections_accepted_total", "quantum_safe_proxy_connections_active",
		"quantum_safe_proxy_handshakes_total", "quantum_safe_proxy_bytes_total",
		"quantum_safe_proxy_backend_dial_failures_total"); err != nil {
		t.Error(err)
	}
	// Reasons: every series exists; those not listed here are 0.
	checkSeries(t, g, "quantum_safe_proxy_connections_closed_total", map[string]float64{
		`reason="client_closed"`: 3, `reason="backend_unreachable"`: 1, `reason="handshake_refused"`: 2})
	checkSeries(t, g, "quantum_safe_proxy_handshakes_refused_total", map[string]float64{
		`reason="not_tls"`: 1, `reason="no_pq_group"`: 1})
	// Durations: three full handshakes and one resumed; three dials
	// connected.
	checkSeries(t, g, "quantum_safe_proxy_handshake_duration_seconds", map[string]float64{
		`resumed="false"`: 3, `resumed="true"`: 1})
	checkSeries(t, g, "quantum_safe_proxy_backend_dial_duration_seconds", map[string]float64{"": 3})
	checkInvariant(t, g)
}

// notTLS sends a line of HTTP where a ClientHello should be and waits for
// the proxy to close.
func notTLS(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := io.Copy(io.Discard, c); err != nil && n > 0 {
		t.Fatalf("the proxy answered HTTP: %d bytes, %v", n, err)
	}
}

// checkInvariant checks that every connection accepted is open or was
// closed once: accepted = active + the sum of closed over reasons.
func checkInvariant(t *testing.T, g prometheus.Gatherer) {
	t.Helper()
	accepted := sum(t, g, "quantum_safe_proxy_connections_accepted_total")
	active := sum(t, g, "quantum_safe_proxy_connections_active")
	closed := sum(t, g, "quantum_safe_proxy_connections_closed_total")
	if accepted != active+closed {
		t.Errorf("accepted %v != active %v + closed %v", accepted, active, closed)
	}
}

// waitClosed waits until n connections have closed and none is open.
func waitClosed(t *testing.T, g prometheus.Gatherer, n float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for sum(t, g, "quantum_safe_proxy_connections_closed_total") < n || sum(t, g, "quantum_safe_proxy_connections_active") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%v connections closed, %v open; want %v closed, none open", sum(t, g, "quantum_safe_proxy_connections_closed_total"),
				sum(t, g, "quantum_safe_proxy_connections_active"), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// series gives the values of family name by their labels (see
// metrics.Series).
func series(t *testing.T, g prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	out, err := metrics.Series(g, name)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sum(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	var n float64
	for _, v := range series(t, g, name) {
		n += v
	}
	return n
}

// checkSeries checks that the series of family name that are not 0 are
// exactly want.
func checkSeries(t *testing.T, g prometheus.Gatherer, name string, want map[string]float64) {
	t.Helper()
	got := series(t, g, name)
	for k, v := range got {
		if v == 0 {
			delete(got, k)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: %v; want %v", name, got, want)
	}
}

// Bytes are counted as they move: a scrape while a connection is open
// shows what it has forwarded so far, each way, under pq="true".
func TestMetricsCountBytesLive(t *testing.T) {
	h, m := observed(t, baseConfig(), nil)
	c, err := tls.Dial("tcp", h.addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, n := range []int{100000, 300000} {
		done := make(chan error, 1)
		go func() {
			_, err := c.Write(make([]byte, n))
			done <- err
		}()
		if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// The echo is back; the proxy adds each write's bytes right after
		// it, so they show at the latest a moment later.
		total := 100000 * (1 + 3*i)
		want := map[string]float64{
			`direction="backend_to_client",pq="false"`: 0, `direction="backend_to_client",pq="true"`: float64(total),
			`direction="client_to_backend",pq="false"`: 0, `direction="client_to_backend",pq="true"`: float64(total)}
		deadline := time.Now().Add(5 * time.Second)
		for fmt.Sprint(series(t, m.Gatherer(), "quantum_safe_proxy_bytes_total")) != fmt.Sprint(want) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := series(t, m.Gatherer(), "quantum_safe_proxy_bytes_total"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after %d bytes each way on an open connection: %v; want %v", total, got, want)
		}
		if open := sum(t, m.Gatherer(), "quantum_safe_proxy_connections_active"); open != 1 {
			t.Fatalf("%v connections open; want the one still open", open)
		}
	}
	c.Close()
	waitClosed(t, m.Gatherer(), 1)
	// Closing moves the connection's bytes to the totals, unchanged.
	if got := sum(t, m.Gatherer(), "quantum_safe_proxy_bytes_total"); got != 2*400000 {
		t.Errorf("bytes after close: %v; want %v", got, 2*400000)
	}
}

// In client mode the handshake metrics describe the remote server, and
// the directions are named from the proxy's side: client_to_backend is
// what the local client sent.
func TestMetricsClientMode(t *testing.T) {
	server := start(t, baseConfig(), func(c net.Conn) {
		io.ReadFull(c, make([]byte, 3))
		io.WriteString(c, "goodbye\n")
		c.Close()
	})
	cfg := clientModeConfig(t, server.addr)
	m := metrics.New("test")
	client := startClientModeObserved(t, cfg, m)
	m.SetTraffic(func() metrics.Traffic {
		tr := client.proxy.Traffic()
		return metrics.Traffic{PQ: metrics.Bytes(tr.PQ), Classical: metrics.Bytes(tr.Classical)}
	})
	c, err := net.Dial("tcp", client.addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "hi\n")
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(got) != "goodbye\n" {
		t.Fatalf("%q, %v", got, err)
	}
	waitClosed(t, m.Gatherer(), 1)
	// Client mode's session cache outlives this test's proxies (its key
	// is the configuration's policy): whether this handshake resumed is
	// what the server saw.
	resumed := server.log.wait(t, "connection closed")["resumed"]
	want := `
# HELP quantum_safe_proxy_handshakes_total TLS handshakes completed, by TLS version, key exchange group, whether that group is post-quantum, the key algorithm of the certificate that authenticated the server, and whether the session resumed.
# TYPE quantum_safe_proxy_handshakes_total counter
quantum_safe_proxy_handshakes_total{cert_alg="ML-DSA-65",group="X25519MLKEM768",pq="true",resumed="` + resumed + `",tls_version="TLS 1.3"} 1
# HELP quantum_safe_proxy_bytes_total Plaintext bytes forwarded, by direction (from the accepted connection to the dialed one, and back) and by whether the connection's key exchange was post-quantum: pq="false" is what a recording could give up to a future quantum computer. Counted as the bytes move.
# TYPE quantum_safe_proxy_bytes_total counter
quantum_safe_proxy_bytes_total{direction="backend_to_client",pq="false"} 0
quantum_safe_proxy_bytes_total{direction="backend_to_client",pq="true"} 8
quantum_safe_proxy_bytes_total{direction="client_to_backend",pq="false"} 0
quantum_safe_proxy_bytes_total{direction="client_to_backend",pq="true"} 3
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want), "quantum_safe_proxy_handshakes_total", "quantum_safe_proxy_bytes_total"); err != nil {
		t.Error(err)
	}
	checkSeries(t, m.Gatherer(), "quantum_safe_proxy_connections_closed_total", map[string]float64{`reason="server_closed"`: 1})
	checkSeries(t, m.Gatherer(), "quantum_safe_proxy_backend_dial_duration_seconds", map[string]float64{"": 1})
	checkInvariant(t, m.Gatherer())
}
