package metrics

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/mldsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fixedTime is where every time in the golden exposition comes from.
var fixedTime = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// The exposition of a registry fed fixed inputs (Go runtime and process
// metrics aside) is pinned by testdata/metrics.golden: names, help texts,
// types, labels and values. A change to any of them shows in its diff.
func TestExpositionGolden(t *testing.T) {
	m := newMetrics("1.0.0-golden", "go1.27.4")
	feed(t, m)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	got := rec.Body.String()
	path := filepath.Join("testdata", "metrics.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; run go test ./internal/metrics -update and review testdata/metrics.golden", err)
	}
	if got != string(want) {
		t.Errorf("exposition differs from %s; if the change is intended, run go test ./internal/metrics -update and review the diff\n%s", path, lineDiff(string(want), got))
	}
}

// feed reports a fixed history to m: connections of every outcome,
// handshakes of known and unknown kinds, dials, reloads, bytes and files.
func feed(t *testing.T, m *Metrics) {
	for range 6 {
		m.Accepted()
	}
	pq := &tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519MLKEM768}
	m.Handshake(pq, "ML-DSA-65", 900*time.Microsecond)
	m.Handshake(&tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519MLKEM768, DidResume: true}, "ML-DSA-65", 300*time.Microsecond)
	m.Handshake(&tls.ConnectionState{Version: tls.VersionTLS12, CurveID: tls.CurveP256}, "ECDSA P-256", 3*time.Millisecond)
	// What no list holds counts as other.
	m.Handshake(&tls.ConnectionState{Version: 0x0305, CurveID: 0x7777}, "RSA 1536", 2*time.Second)
	m.Refused("no_pq_group")
	m.Refused("client_alert_decode_error")
	m.Refused("server_alert_insufficient_security")
	m.Refused("a reason no one made")
	m.Closed("client_closed")
	m.Closed("client_closed")
	m.Closed("backend_unreachable")
	for range 3 {
		m.Closed("handshake_refused") // one refusal is left uncounted below: a made-up reason
	}
	m.Dialed(150*time.Microsecond, true)
	m.Dialed(2*time.Millisecond, true)
	m.Dialed(time.Second, false)
	m.Loaded(fixedTime)
	m.Reloaded(false, time.Time{})
	m.Reloaded(true, fixedTime.Add(time.Hour))
	m.SetTraffic(func() Traffic {
		return Traffic{PQ: Bytes{ClientToBackend: 1000, BackendToClient: 250000}, Classical: Bytes{ClientToBackend: 10, BackendToClient: 20}}
	})
	m.SetFiles(fixedFiles(t))
}

// fixedFiles are an ECDSA leaf under an ML-DSA-65 CA, that CA twice in
// the bundle (two certificates of one subject and key: one series, the
// earlier expiry), and a CRL.
func fixedFiles(t *testing.T) Files {
	caKey, err := mldsa.GenerateKey(mldsa.MLDSA65())
	if err != nil {
		t.Fatal(err)
	}
	caName := pkix.Name{CommonName: "Golden Root CA", Organization: []string{"quantum-safe-proxy"}}
	ca := certificate(t, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: caName, NotBefore: fixedTime.AddDate(-1, 0, 0),
		NotAfter: fixedTime.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, nil, caKey.PublicKey(), caKey)
	renewed := certificate(t, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: caName, NotBefore: fixedTime.AddDate(-1, 0, 0),
		NotAfter: fixedTime.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, nil, caKey.PublicKey(), caKey)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := certificate(t, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: fixedTime.AddDate(0, -1, 0), NotAfter: fixedTime.AddDate(0, 3, 0)}, ca, &leafKey.PublicKey, caKey)
	crlDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(7), ThisUpdate: fixedTime, NextUpdate: fixedTime.AddDate(0, 0, 7)}, ca, caKey)
	if err != nil {
		t.Fatal(err)
	}
	list, err := x509.ParseRevocationList(crlDER)
	if err != nil {
		t.Fatal(err)
	}
	return Files{
		Served:  []*certs.Chain{{CertPath: "/etc/quantum-safe-proxy/server.crt", TLS: tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.Raw}}}},
		CAFile:  "/etc/quantum-safe-proxy/ca.crt",
		Trusted: []*x509.Certificate{ca, renewed},
		CRLs:    []*certs.CRL{{Path: "/etc/quantum-safe-proxy/ca.crl", Index: 1, Of: 1, List: list, Issuer: ca}},
	}
}

func certificate(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// lineDiff shows the lines of got that want lacks (+) and the reverse (-).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "+ "+l)
		}
	}
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "- "+l)
		}
	}
	return strings.Join(out, "\n")
}

// A refused or closed connection's reason, a group, a TLS version or a
// certificate algorithm outside the fixed lists is counted as other:
// whatever a peer sends, the series stay those the README lists.
func TestLabelValuesAreFixed(t *testing.T) {
	m := newMetrics("v", "go")
	for i := range 300 {
		s := strconv.Itoa(i)
		m.Refused("client_alert_" + s)
		m.Refused("server_alert_" + s)
		m.Refused("reason " + s)
		m.Closed("reason " + s)
		m.Handshake(&tls.ConnectionState{Version: uint16(i), CurveID: tls.CurveID(i + 1000)}, "alg "+s, 0)
	}
	for _, tc := range []struct {
		name, label string
		want        []string
	}{
		{"quantum_safe_proxy_handshakes_refused_total", "reason", refuseReasons},
		{"quantum_safe_proxy_connections_closed_total", "reason", closeReasons},
		{"quantum_safe_proxy_handshakes_total", "group", groupNames},
		{"quantum_safe_proxy_handshakes_total", "tls_version", versions},
		{"quantum_safe_proxy_handshakes_total", "cert_alg", algorithms},
	} {
		for _, v := range labelValues(t, m, tc.name, tc.label) {
			if !slices.Contains(tc.want, v) {
				t.Errorf("%s{%s=%q}: not a value of the fixed list", tc.name, tc.label, v)
			}
		}
	}
	if n := testutil.CollectAndCount(m.handshakes); n != 1 {
		t.Errorf("300 handshakes of unknown kinds make %d series; want 1 (all other)", n)
	}
	if got := testutil.ToFloat64(m.refused[index(refuseReasonIndex, reasonClientAlert)]); got != 300 {
		t.Errorf("client_alert refusals: %v; want 300", got)
	}
	if got := testutil.ToFloat64(m.closed[index(closeReasonIndex, other)]); got != 300 {
		t.Errorf("closed for other reasons: %v; want 300", got)
	}
}

// labelValues lists the values label takes in the series of family name.
func labelValues(t *testing.T, m *Metrics, name, label string) []string {
	t.Helper()
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == label {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no series of %s", name)
	}
	return out
}

// Every refusal reason tlsconf defines has its own label value (those
// built from a prefix count under the prefix), so that none lands in
// other by oversight when a reason is added.
func TestRefuseReasonsComplete(t *testing.T) {
	for name, value := range reasonConsts(t, "../tlsconf") {
		switch {
		case strings.HasSuffix(name, "Prefix"):
			if l := refuseLabel(value + "x"); !slices.Contains(refuseReasons, l) || l == other {
				t.Errorf("tlsconf.%s (%q...) counts as %q", name, value, l)
			}
		case !slices.Contains(refuseReasons, value):
			t.Errorf("tlsconf.%s = %q is not in refuseReasons", name, value)
		}
	}
}

// Every close reason the proxy and the forwarder define has its own label
// value, but for the refusal reasons and the client-mode aliases of the
// forwarder's (which share their strings).
func TestCloseReasonsComplete(t *testing.T) {
	for _, dir := range []string{"../proxy", "../forward"} {
		for name, value := range reasonConsts(t, dir) {
			if !slices.Contains(closeReasons, value) {
				t.Errorf("%s: %s = %q is not in closeReasons", dir, name, value)
			}
		}
	}
}

// reasonConsts reads the string constants named Reason* of the package
// in dir, from its source (tests aside).
func reasonConsts(t *testing.T, dir string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, id := range vs.Names {
				if !strings.HasPrefix(id.Name, "Reason") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					out[id.Name], _ = strconv.Unquote(lit.Value)
				}
			}
			return true
		})
	}
	if len(out) == 0 {
		t.Fatalf("no Reason constants in %s", dir)
	}
	return out
}

// The Go runtime and process collectors are served with the rest.
func TestHandlerServesRuntimeMetrics(t *testing.T) {
	rec := httptest.NewRecorder()
	New("v").Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	for _, want := range []string{"go_goroutines ", "process_start_time_seconds ", `quantum_safe_proxy_build_info{goversion="go`, "quantum_safe_proxy_connections_active 0"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// The metrics follow Prometheus's naming conventions, as promtool checks
// them (units, _total on counters, help on every metric).
func TestLint(t *testing.T) {
	m := newMetrics("v", "go")
	feed(t, m)
	problems, err := testutil.GatherAndLint(m.Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// BenchmarkConnection is what metrics cost one connection: every call the
// proxy makes for a connection that completes a handshake, dials and
// closes. It should take well under a microsecond and allocate nothing
// (a resumed handshake alone takes about 300 µs of CPU).
func BenchmarkConnection(b *testing.B) {
	m := New("bench")
	cs := &tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519MLKEM768, DidResume: true}
	b.ReportAllocs()
	for b.Loop() {
		m.Accepted()
		m.Handshake(cs, "ML-DSA-65", 300*time.Microsecond)
		m.Dialed(80*time.Microsecond, true)
		m.Closed("client_closed")
	}
}
