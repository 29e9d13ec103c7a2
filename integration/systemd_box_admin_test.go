package integration

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The admin endpoint under a real systemd: the shipped
// quantum-safe-proxy-admin.socket, once enabled, passes the service a
// socket named admin on 127.0.0.1:9090, where /metrics, /healthz and
// /readyz are served (and a probe starts a stopped service); /readyz goes
// 503 while the backend is down and 200 when it is back. An instance's
// admin socket, made as quantum-safe-proxy@.socket's comment says,
// serves its instance.
func TestSystemdBoxAdmin(t *testing.T) {
	b := bootBox(t, "qsp-admin")
	for _, port := range []string{"9090", "9443", "9444"} {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
			c.Close()
			t.Fatalf("something already listens on 127.0.0.1:%s, which this test's units use; stop it first:\n%s", port, listener(port))
		}
	}
	install(t, b)
	b.exec("systemd-analyze", "verify", "--man=no", "quantum-safe-proxy-admin.socket")
	b.exec("systemctl", "enable", "--now", "quantum-safe-proxy-admin.socket")
	b.exec("systemctl", "restart", "quantum-safe-proxy.service")
	const admin = "127.0.0.1:9090"

	if code, body, _ := adminGet(t, admin, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body, ctype := adminGet(t, admin, "/metrics")
	if code != 200 || !strings.HasPrefix(ctype, "text/plain; version=0.0.4") || !strings.Contains(body, "\n# TYPE ") {
		t.Errorf("/metrics: %d %s, not the Prometheus text format:\n%s", code, ctype, body)
	}
	waitReadyz(t, admin, 200, allReady)
	if out := b.exec("journalctl", "--no-pager", "-o", "cat", "-u", "quantum-safe-proxy.service", "QSP_SYSTEMD=1"); !strings.Contains(out, "admin endpoint listening address=127.0.0.1:9090 systemd=1") {
		t.Errorf("no journal line saying the admin endpoint serves systemd's socket:\n%s", out)
	}
	// TLS is still served on its own socket.
	if r := runSClient(t, "127.0.0.1:8443"); r.group != "X25519MLKEM768" || !r.echoed {
		t.Errorf("TLS client: group %q echoed %v\n%s", r.group, r.echoed, r.out)
	}

	b.exec("systemctl", "stop", "qsp-demo-backend")
	waitReadyz(t, admin, 503, "[+]configuration ok\n[+]certificates ok\n[+]listeners ok\n[+]reload ok\n"+
		"[-]backend failed: dial tcp 127.0.0.1:6000: connect: connection refused\nnot ready\n")
	b.exec("systemd-run", "--unit=qsp-demo-backend", "/usr/local/bin/demo-backend", "--listen", "127.0.0.1:6000")
	waitReadyz(t, admin, 200, allReady)

	// A probe starts a stopped service, as a TLS client does.
	b.exec("systemctl", "stop", "quantum-safe-proxy.service")
	if code, body, _ := adminGet(t, admin, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz with the service stopped: %d %q", code, body)
	}
	if state := b.exec("systemctl", "is-active", "quantum-safe-proxy.service"); state != "active\n" {
		t.Errorf("the service after a probe: %q", state)
	}

	adminInstance(t, b)
}

// adminInstance makes an instance's admin socket from the example in
// quantum-safe-proxy@.socket's comment, as an operator would, and reads
// the instance's /readyz there.
func adminInstance(t *testing.T, b *systemdBox) {
	tmpl, err := os.ReadFile("../systemd/quantum-safe-proxy@.socket")
	if err != nil {
		t.Fatal(err)
	}
	_, example, ok := strings.Cut(string(tmpl), "# with\n")
	example, _, ok2 := strings.Cut(example, "# then ")
	if !ok || !ok2 {
		t.Fatal("quantum-safe-proxy@.socket no longer has the admin socket example (# with ... # then) this test reads")
	}
	var unit strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(example, "\n"), "\n") {
		unit.WriteString(strings.TrimPrefix(line, "#   ") + "\n")
	}
	file := filepath.Join(t.TempDir(), "admin.socket")
	os.WriteFile(file, []byte(unit.String()), 0o644)
	b.run("cp-in", file, "/etc/systemd/system/quantum-safe-proxy-admin@9443.socket")
	b.exec("sh", "-c", `sed '/"listen"/d' /etc/quantum-safe-proxy/config.json >/etc/quantum-safe-proxy/9443.json`)
	b.exec("systemctl", "daemon-reload")
	b.exec("systemctl", "start", "quantum-safe-proxy@9443.socket")
	b.exec("systemctl", "enable", "--now", "quantum-safe-proxy-admin@9443.socket")
	defer b.exec("systemctl", "stop", "quantum-safe-proxy-admin@9443.socket", "quantum-safe-proxy@9443.socket", "quantum-safe-proxy@9443.service")
	waitReadyz(t, "127.0.0.1:9444", 200, allReady)
	if r := runSClient(t, "127.0.0.1:9443"); r.group != "X25519MLKEM768" || !r.echoed {
		t.Errorf("TLS client of the instance: group %q echoed %v\n%s", r.group, r.echoed, r.out)
	}
}
