package integration

import (
	"crypto/tls"
	"strings"
	"testing"
)

// bootBoxOn boots a box of the given Debian suite, whatever
// QSP_BOX_SUITE says for the rest: every systemd-box command of the test
// inherits the variable.
func bootBoxOn(t *testing.T, suite, name string) *systemdBox {
	t.Setenv("QSP_BOX_SUITE", suite)
	return bootBox(t, name)
}

// Type=notify-reload under systemd 257 (Debian 13), with the drop-in the
// packages ship as an example: systemd signals the proxy itself, and
// `reload --no-signal` makes a failed reload fail `systemctl reload`,
// which the protocol alone cannot (README, Reload). Each `systemctl
// reload` reloads the proxy once.
func TestSystemdBoxNotifyReload(t *testing.T) {
	b := bootBoxOn(t, "trixie", "qsp-notify-reload")
	install(t, b)
	b.exec("mkdir", "-p", "/etc/systemd/system/quantum-safe-proxy.service.d")
	b.run("cp-in", "../systemd/notify-reload.conf", "/etc/systemd/system/quantum-safe-proxy.service.d/notify-reload.conf")
	b.exec("systemctl", "daemon-reload")
	b.exec("systemd-analyze", "verify", "--man=no", "quantum-safe-proxy.service")
	if got := b.exec("systemctl", "show", "-p", "Type,ExecReload", "quantum-safe-proxy.service"); !strings.HasPrefix(got, "Type=notify-reload\n") ||
		!strings.Contains(got, "argv[]=/usr/bin/quantum-safe-proxy reload --no-signal ;") {
		t.Fatalf("the drop-in is not in force:\n%s", got)
	}
	if r := runSClient(t, "127.0.0.1:8443"); r.group != "X25519MLKEM768" || !r.echoed {
		t.Fatalf("the first client: group %q echoed %v\n%s", r.group, r.echoed, r.out)
	}
	reloadReportsOutcome(t, b)
	// One reload for one `systemctl reload`: the proxy logs "reloaded"
	// once for it, not once for systemd's signal and again for another.
	reloaded := func() int {
		out := b.exec("journalctl", "--no-pager", "-o", "cat", "-u", "quantum-safe-proxy.service", "-p", "notice")
		return strings.Count(out, "\nreloaded changed=")
	}
	before := reloaded()
	b.exec("systemctl", "reload", "quantum-safe-proxy.service")
	if after := reloaded(); after != before+1 {
		t.Errorf("one systemctl reload logged %d reloads, want 1", after-before)
	}
}

// reloadReportsOutcome: `systemctl reload` fails (non-zero, the proxy's
// reason in the journal at err and in `systemctl status`) when the
// proxy's reload fails, and the previous configuration serves on: for a
// typo, and for a mode change, which only the running proxy refuses (a
// check of the file alone passes it); a good reload succeeds and STATUS=
// says so. The configuration is put back at the end.
func reloadReportsOutcome(t *testing.T, b *systemdBox) {
	const cfgPath = "/etc/quantum-safe-proxy/config.json"
	c, err := tls.Dial("tcp", "127.0.0.1:8443", &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	served := c.ConnectionState().PeerCertificates[0].Raw
	c.Close()
	b.exec("cp", "-p", cfgPath, cfgPath+".orig")

	b.exec("sed", "-i", `s/"target"/"tagret"/`, cfgPath)
	failedReload(t, b, cfgPath+`: tagret: unknown key; did you mean "target"?; the previous configuration serves on`, served)

	b.exec("cp", "-p", cfgPath+".orig", cfgPath)
	b.exec("sed", "-i", `s|"listen": "\[::\]:8443"|"listen": "127.0.0.1:8443", "mode": "client", "ca_cert_path": "/etc/quantum-safe-proxy/certs/ca.crt"|`, cfgPath)
	if out := b.exec("sh", "-c", "quantum-safe-proxy check --as service --config-file "+cfgPath+" >/dev/null 2>&1; echo $?"); out != "0\n" {
		t.Errorf("check of the client-mode file: exit %s, want 0 (only the running proxy refuses the change)", out)
	}
	failedReload(t, b, "mode: server to client changes only with a restart (systemctl restart); the previous configuration serves on", served)

	b.exec("mv", cfgPath+".orig", cfgPath)
	if out := b.exec("sh", "-c", "systemctl reload quantum-safe-proxy.service 2>&1; echo exit=$?"); out != "exit=0\n" {
		t.Errorf("systemctl reload of the good configuration: %s", out)
	}
	if status := b.exec("systemctl", "show", "-p", "StatusText", "--value", "quantum-safe-proxy.service"); !strings.Contains(status, " ok (") {
		t.Errorf("StatusText after the good reload: %q", status)
	}
}
