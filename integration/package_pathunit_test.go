package integration

import (
	"strings"
	"testing"
	"time"
)

// oldPathUnit is quantum-safe-proxy-certs.path as earlier versions shipped
// it (with quantum-safe-proxy-reload.service), for an operator to enable.
const oldPathUnit = `[Path]
PathChanged=/etc/quantum-safe-proxy/certs
PathChanged=/etc/quantum-safe-proxy/config.json
Unit=quantum-safe-proxy-reload.service

[Install]
WantedBy=paths.target
`

const oldReloadService = `[Service]
Type=oneshot
ExecStart=/bin/systemctl try-reload-or-restart quantum-safe-proxy.service
`

// plantPathUnit enables and starts the .path unit of earlier versions,
// as an operator following their README did.
func plantPathUnit(b *systemdBox) {
	b.exec("sh", "-c", `cat >/usr/lib/systemd/system/quantum-safe-proxy-certs.path <<'EOF'
`+oldPathUnit+`EOF
cat >/usr/lib/systemd/system/quantum-safe-proxy-reload.service <<'EOF'
`+oldReloadService+`EOF
systemctl daemon-reload && systemctl enable --now quantum-safe-proxy-certs.path`)
}

// checkPathUnitRetired checks that the upgrade stopped the old .path unit
// and removed its enablement, then that a certificate rewritten in place
// is reloaded once, by the proxy's own watch.
func checkPathUnitRetired(t *testing.T, b *systemdBox) {
	t.Helper()
	state := b.exec("sh", "-c", "systemctl is-active quantum-safe-proxy-certs.path; ls /etc/systemd/system/paths.target.wants 2>/dev/null; true")
	if state != "inactive\n" {
		t.Errorf("after the upgrade, quantum-safe-proxy-certs.path is still active or enabled:\n%s", state)
	}
	// The old package's files, which dpkg removes on a real upgrade.
	b.exec("sh", "-c", "rm /usr/lib/systemd/system/quantum-safe-proxy-certs.path /usr/lib/systemd/system/quantum-safe-proxy-reload.service && systemctl daemon-reload")

	reloads := func() int {
		// "reloaded ..." after a SIGHUP (as the old unit sent),
		// "reloaded: configured files changed ..." after the watch.
		return strings.Count(b.exec("journalctl", "--no-pager", "-o", "cat", "-u", "quantum-safe-proxy.service"), "\nreloaded")
	}
	before := reloads()
	b.exec("sh", "-c", "f=/etc/quantum-safe-proxy/certs/server-mldsa.crt; cat $f > /root/crt && cat /root/crt > $f")
	// The proxy's burst ends 500 ms after the write; wait well past it.
	time.Sleep(3 * time.Second)
	if n := reloads() - before; n != 1 {
		t.Errorf("a certificate rewritten in place after the upgrade caused %d reloads, want 1", n)
	}
}
