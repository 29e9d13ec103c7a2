package integration

import (
	"maps"
	"strings"
	"testing"
	"time"
)

// An operator's typo under a real systemd: after `systemctl restart`, and
// after a reboot, the socket unit stays up and the service says why it
// serves no one in `systemctl status` and the journal; each client is
// reset; fixing the file is enough, with no reset-failed, restart or
// reload: the next connection is served.
func TestSystemdBoxBrokenConfig(t *testing.T) {
	b := bootBox(t, "qsp-config")
	install(t, b)
	// Nothing watches config.json (the proxy watches only certificates,
	// keys and CAs): what picks up the fix is the connection.
	if r := runSClient(t, "127.0.0.1:8443"); r.group != "X25519MLKEM768" || !r.echoed {
		t.Fatalf("before the typo: group %q echoed %v\n%s", r.group, r.echoed, r.out)
	}
	const problem = `/etc/quantum-safe-proxy/config.json: tagret: unknown key`
	b.exec("sed", "-i", `s/"target"/"tagret"/`, "/etc/quantum-safe-proxy/config.json")
	start := time.Now()
	b.exec("systemctl", "restart", "quantum-safe-proxy.service")
	t.Logf("systemctl restart with the typo: %v", time.Since(start).Round(time.Millisecond))
	saysWhy(t, b, problem)
	// More clients than the 5 starts in 10 s after which a start-limited
	// service used to fail its socket unit.
	for range 7 {
		wantReset(t, "127.0.0.1:8443", false)
	}
	unitsUp(t, b)
	pid := b.exec("systemctl", "show", "-p", "MainPID", "--value", "quantum-safe-proxy.service")
	// STATUS= follows within a second.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		status := b.exec("systemctl", "show", "-p", "StatusText", "--value", "quantum-safe-proxy.service")
		if strings.HasSuffix(status, "; 7 connections reset until it loads\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("StatusText after 7 clients: %q", status)
			break
		}
	}

	// A reboot with the typo: the socket comes up, the first client
	// starts the service, which resets it and says why.
	b.run("down")
	b.run("up")
	b.exec("systemd-run", "--unit=qsp-demo-backend", "/usr/local/bin/demo-backend", "--listen", "127.0.0.1:6000")
	if state := b.exec("systemctl", "is-active", "quantum-safe-proxy.socket"); state != "active\n" {
		t.Fatalf("socket after the reboot: %q", state)
	}
	wantReset(t, "127.0.0.1:8443", true)
	saysWhy(t, b, problem)
	// A reload tries the file at once and fails, saying why.
	out := b.exec("sh", "-c", "systemctl reload quantum-safe-proxy.service 2>&1; echo exit=$?")
	if strings.HasSuffix(out, "exit=0\n") {
		t.Errorf("systemctl reload while the configuration is broken: exit 0, want a failure")
	}
	if j := b.exec("journalctl", "--no-pager", "-o", "cat", "-b", "-p", "err", "-u", "quantum-safe-proxy.service"); !strings.Contains(j, "quantum-safe-proxy: error: reload failed: "+problem+`; did you mean "target"?; connections are reset until a configuration loads`) {
		t.Errorf("the failed reload's reason is not in the journal:\n%s", j)
	}
	unitsUp(t, b)
	newPID := b.exec("systemctl", "show", "-p", "MainPID", "--value", "quantum-safe-proxy.service")
	t.Logf("service PID before the reboot %s, after %s", strings.TrimSpace(pid), strings.TrimSpace(newPID))

	// The fix, and nothing else: the next connection is served.
	b.exec("sed", "-i", `s/"tagret"/"target"/`, "/etc/quantum-safe-proxy/config.json")
	r := runSClient(t, "127.0.0.1:8443")
	if r.group != "X25519MLKEM768" || r.peerSig != "mldsa65" || !r.echoed {
		t.Fatalf("the first client after the fix: group %q signature %q echoed %v\n%s", r.group, r.peerSig, r.echoed, r.out)
	}
	unitsUp(t, b)
	if got := b.exec("systemctl", "show", "-p", "MainPID", "--value", "quantum-safe-proxy.service"); got != newPID {
		t.Errorf("the fix restarted the service: PID %s, then %s", strings.TrimSpace(newPID), strings.TrimSpace(got))
	}
	if out := b.exec("journalctl", "--no-pager", "-o", "cat", "-u", "quantum-safe-proxy.service", "-b", "-p", "notice"); !strings.Contains(out, "configuration loaded: serving") {
		t.Errorf("no NOTICE that the configuration loaded:\n%s", out)
	}
}

// saysWhy checks that the service's current start names problem in
// `systemctl status` (its Status: line and the journal lines it shows)
// and in the journal of this very start, at priority err.
func saysWhy(t *testing.T, b *systemdBox, problem string) {
	t.Helper()
	status := b.exec("sh", "-c", "systemctl status --no-pager -n 10 quantum-safe-proxy.service; true")
	if !strings.Contains(status, `Status: "configuration error: `+problem) || strings.Count(status, problem) < 2 {
		t.Errorf("systemctl status does not say why:\n%s", status)
	}
	id := strings.TrimSpace(b.exec("systemctl", "show", "-p", "InvocationID", "--value", "quantum-safe-proxy.service"))
	out := b.exec("journalctl", "--no-pager", "-o", "cat", "-p", "err", "_SYSTEMD_INVOCATION_ID="+id)
	if !strings.Contains(out, problem) {
		t.Errorf("the journal of start %s has no error %q:\n%s", id, problem, out)
	}
	t.Logf("systemctl status with the typo:\n%s", status)
}

// unitsUp checks that neither unit failed or restarted: the socket
// listens and the service runs.
func unitsUp(t *testing.T, b *systemdBox) {
	t.Helper()
	for unit, want := range map[string]map[string]string{
		"quantum-safe-proxy.socket":  {"ActiveState": "active", "SubState": "running", "Result": "success"},
		"quantum-safe-proxy.service": {"ActiveState": "active", "SubState": "running", "Result": "success", "NRestarts": "0"},
	} {
		got := map[string]string{}
		for _, line := range strings.Fields(b.exec("systemctl", "show", "-p", "ActiveState,SubState,Result,NRestarts", unit)) {
			k, v, _ := strings.Cut(line, "=")
			if _, ok := want[k]; ok {
				got[k] = v
			}
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: %v, want %v", unit, got, want)
		}
	}
}
