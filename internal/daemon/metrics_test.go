package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/listen"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/metrics"
)

// The daemon's metrics follow it: the start counts as the last good load,
// a connection is counted and its bytes read from the proxy, a reload
// counts by result, and the certificate and CRL gauges describe the files
// in force after each good reload, the series of files no longer
// configured gone.
func TestDaemonMetrics(t *testing.T) {
	dir, ln := devPKI(t), loopbackListener(t)
	addr := ln.Addr().String()
	ln.Close()
	echo := echoBackend(t)
	crl := filepath.Join(dir, "root.crl")
	writeRootCRL(t, dir, crl)
	var mu sync.Mutex
	next := func(*config.Config) error { return nil }
	load := func() (*config.Config, error) {
		cfg := config.Default()
		cfg.Listen, cfg.Target, cfg.LogLevel = addr, echo, "warn"
		cfg.Certificates = []config.CertPair{
			{CertPath: filepath.Join(dir, certs.ServerMLDSACert), KeyPath: filepath.Join(dir, certs.ServerMLDSAKey)},
			{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey)},
		}
		mu.Lock()
		defer mu.Unlock()
		return cfg, next(cfg)
	}
	m := metrics.New("1.2.3")
	g := m.Gatherer()
	d := &daemon{load: load, level: new(slog.LevelVar), stderr: new(syncBuffer), passed: listen.Passed, metrics: m}
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	done := make(chan error, 1)
	before := time.Now()
	go func() { done <- d.run(ctx, sigs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	c := dialUntilUp(t, addr)
	loaded := value(t, g, "quantum_safe_proxy_last_reload_success_timestamp_seconds", "")
	if loaded < float64(before.Unix()) || loaded > float64(time.Now().Unix()+1) {
		t.Errorf("last_reload_success_timestamp_seconds %v at start; want the start, %v", loaded, before.Unix())
	}
	io.WriteString(c, "ping\n")
	io.ReadFull(c, make([]byte, 5))
	c.Close()
	want := `
# HELP quantum_safe_proxy_build_info Always 1; the labels say which build runs.
# TYPE quantum_safe_proxy_build_info gauge
quantum_safe_proxy_build_info{goversion="` + runtime.Version() + `",version="1.2.3"} 1
# HELP quantum_safe_proxy_connections_accepted_total Connections accepted.
# TYPE quantum_safe_proxy_connections_accepted_total counter
quantum_safe_proxy_connections_accepted_total 1
`
	if err := testutil.GatherAndCompare(g, strings.NewReader(want), "quantum_safe_proxy_build_info", "quantum_safe_proxy_connections_accepted_total"); err != nil {
		t.Error(err)
	}
	waitValue(t, g, "quantum_safe_proxy_bytes_total", `direction="backend_to_client",pq="true"`, 5)
	checkCertSeries(t, g, map[string]string{
		"served": filepath.Join(dir, certs.ServerMLDSACert) + " " + filepath.Join(dir, certs.ServerECDSACert),
	}, nil)

	// A good reload: the CA bundle and a CRL come, the ECDSA chain goes.
	reloadWith(t, &mu, &next, sigs, func(cfg *config.Config) error {
		cfg.Certificates = cfg.Certificates[:1]
		cfg.ClientCertMode, cfg.CACertPath, cfg.CRLFiles = config.ClientCertOptional, filepath.Join(dir, certs.CABundle), []string{crl}
		return nil
	})
	waitValue(t, g, "quantum_safe_proxy_reloads_total", `result="ok"`, 1)
	if got := value(t, g, "quantum_safe_proxy_last_reload_success_timestamp_seconds", ""); got < loaded {
		t.Errorf("last_reload_success_timestamp_seconds went back, from %v to %v", loaded, got)
	}
	checkCertSeries(t, g, map[string]string{
		"served":  filepath.Join(dir, certs.ServerMLDSACert),
		"trusted": filepath.Join(dir, certs.CABundle),
	}, []string{crl})

	// A failed reload counts, and changes nothing else.
	atOK := value(t, g, "quantum_safe_proxy_last_reload_success_timestamp_seconds", "")
	reloadWith(t, &mu, &next, sigs, func(*config.Config) error {
		return &config.Error{Problems: []error{fmt.Errorf("config.json: broken")}}
	})
	waitValue(t, g, "quantum_safe_proxy_reloads_total", `result="failed"`, 1)
	if got := value(t, g, "quantum_safe_proxy_last_reload_success_timestamp_seconds", ""); got != atOK {
		t.Errorf("a failed reload moved last_reload_success_timestamp_seconds from %v to %v", atOK, got)
	}
	checkCertSeries(t, g, map[string]string{
		"served":  filepath.Join(dir, certs.ServerMLDSACert),
		"trusted": filepath.Join(dir, certs.CABundle),
	}, []string{crl})
}

// dialUntilUp connects to the daemon's listener once it serves.
func dialUntilUp(t *testing.T, addr string) *tls.Conn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reloadWith makes the next load apply f and sends SIGHUP.
func reloadWith(t *testing.T, mu *sync.Mutex, next *func(*config.Config) error, sigs chan<- os.Signal, f func(*config.Config) error) {
	t.Helper()
	mu.Lock()
	*next = f
	mu.Unlock()
	sigs <- syscall.SIGHUP
}

// checkCertSeries checks that the certificate gauges are exactly one per
// certificate of the files listed by role (space-separated), each at its
// not-after time, and the CRL gauges one per CRL file, at its nextUpdate.
func checkCertSeries(t *testing.T, g prometheus.Gatherer, files map[string]string, crls []string) {
	t.Helper()
	want := map[string]float64{}
	for role, paths := range files {
		for _, path := range strings.Fields(paths) {
			cs, err := certs.LoadCertificates(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				want[fmt.Sprintf("algorithm=%q,file=%q,role=%q,subject=%q", certs.Algorithm(c.PublicKey), path, role, c.Subject.String())] = float64(c.NotAfter.Unix())
			}
		}
	}
	if got := series(t, g, "quantum_safe_proxy_certificate_not_after_timestamp_seconds"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("certificate gauges:\n%v\nwant\n%v", got, want)
	}
	wantCRL := map[string]float64{}
	for _, path := range crls {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(data)
		l, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		wantCRL[fmt.Sprintf("file=%q,issuer=%q", path, l.Issuer.String())] = float64(l.NextUpdate.Unix())
	}
	if got := series(t, g, "quantum_safe_proxy_crl_next_update_timestamp_seconds"); fmt.Sprint(got) != fmt.Sprint(wantCRL) {
		t.Errorf("CRL gauges:\n%v\nwant\n%v", got, wantCRL)
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

// value is the value of the series of name with labels, or -1.
func value(t *testing.T, g prometheus.Gatherer, name, labels string) float64 {
	t.Helper()
	if v, ok := series(t, g, name)[labels]; ok {
		return v
	}
	return -1
}

// waitValue waits up to 10 s for the series to reach want.
func waitValue(t *testing.T, g prometheus.Gatherer, name, labels string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for value(t, g, name, labels) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s{%s} = %v; want %v", name, labels, value(t, g, name, labels), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
