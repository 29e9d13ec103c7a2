package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// invocation is what systemd gives every process of a unit's start: its
// INVOCATION_ID, and here a TMPDIR that stands for the unit's private /tmp.
func invocation(t *testing.T) []string {
	return []string{"INVOCATION_ID=4aa6c4ca7a1448178e7afb44b14dd317", "TMPDIR=" + t.TempDir()}
}

// reloadCmd runs `quantum-safe-proxy reload` as systemd runs ExecReload=:
// MAINPID and the unit's environment set, nothing else of this one.
func reloadCmd(t *testing.T, p *proxyProc, unit []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"reload"}, args...)...)
	cmd.Env = append([]string{fmt.Sprintf("MAINPID=%d", p.cmd.Process.Pid)}, unit...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// `quantum-safe-proxy reload` exits with the outcome of the reload it
// signalled, as the proxy saw it: 0 for a good one; 1 and the proxy's
// reason for a typo and for a mode change, which no check of the file
// alone can catch; 0 with a warning for a setting that needs a restart.
// The previous configuration serves on after each failure. With
// --no-signal (Type=notify-reload, where systemd signals) it reports the
// reload the signal started, even one that ended before it ran.
func TestReloadCommand(t *testing.T) {
	dir, unit := t.TempDir(), invocation(t)
	cfgPath := filepath.Join(dir, "config.json")
	cfg := func(target, extra string) string {
		return `{"target": "` + target + `", "cert_path": "` + pki("server-mldsa.crt") + `", "key_path": "` + pki("server-mldsa.key") + `"` + extra + `}`
	}
	a, b := namedBackend(t, "A"), namedBackend(t, "B")
	writeConfig(t, cfgPath, cfg(a, ""))
	cmd := exec.Command(binary, "--listen", "127.0.0.1:0", "--log-format", "json", "--config-file", cfgPath)
	cmd.Env = append(os.Environ(), unit...)
	p := startProc(t, cmd)
	p.addr = p.wait(t, "listening")["address"].(string)

	writeConfig(t, cfgPath, cfg(b, ""))
	if out, code := reloadCmd(t, p, unit); code != 0 || out != "" {
		t.Fatalf("a good reload: exit %d\n%s", code, out)
	}
	expectTarget(t, p.addr, "B", "after the good reload")

	for _, tc := range []struct{ name, config, want string }{
		{"typo", strings.Replace(cfg(a, ""), `"target"`, `"tagret"`, 1),
			"quantum-safe-proxy: error: reload failed: " + cfgPath + `: tagret: unknown key; did you mean "target"?; the previous configuration serves on` + "\n"},
		{"mode change", cfg(a, `, "mode": "client", "ca_cert_path": "`+pki("ca.crt")+`"`),
			"quantum-safe-proxy: error: reload failed: mode: server to client changes only with a restart (systemctl restart); the previous configuration serves on\n"},
	} {
		writeConfig(t, cfgPath, tc.config)
		if out, code := reloadCmd(t, p, unit); code != 1 || out != tc.want {
			t.Errorf("%s: exit %d, output:\n%s\nwant exit 1 and:\n%s", tc.name, code, out, tc.want)
		}
		expectTarget(t, p.addr, "B", "after the "+tc.name)
	}

	writeConfig(t, cfgPath, cfg(a, `, "max_connections": 7`))
	want := "quantum-safe-proxy: warning: reload: max_connections changes only with a restart; the current value is kept\n"
	if out, code := reloadCmd(t, p, unit); code != 0 || out != want {
		t.Errorf("a reload with a restart-only change: exit %d, output:\n%s\nwant exit 0 and:\n%s", code, out, want)
	}
	expectTarget(t, p.addr, "A", "after the reload with a restart-only change")

	// systemd's signal, and a reload over before the command runs.
	writeConfig(t, cfgPath, strings.Replace(cfg(b, ""), `"target"`, `"tagret"`, 1))
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.wait(t, "reload failed: still serving the previous configuration", 3)
	if out, code := reloadCmd(t, p, unit, "--no-signal"); code != 1 || !strings.Contains(out, "tagret: unknown key") {
		t.Errorf("--no-signal after a failed reload: exit %d\n%s", code, out)
	}
	writeConfig(t, cfgPath, cfg(b, ""))
	go func() {
		time.Sleep(100 * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGHUP)
	}()
	if out, code := reloadCmd(t, p, unit, "--no-signal"); code != 0 || out != "" {
		t.Errorf("--no-signal before a good reload: exit %d\n%s", code, out)
	}
	expectTarget(t, p.addr, "B", "after the reload systemd would have signalled")

	// The records go with the process.
	records := filepath.Join(strings.TrimPrefix(unit[1], "TMPDIR="), "quantum-safe-proxy-4aa6c4ca7a1448178e7afb44b14dd317")
	if _, err := os.Stat(filepath.Join(records, "reload.json")); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	if _, err := os.Stat(records); !os.IsNotExist(err) {
		t.Errorf("after the proxy stopped, %s: %v", records, err)
	}
}

// Outside a unit, the command says what it needs.
func TestReloadCommandNeedsSystemd(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, "quantum-safe-proxy: error: reload: MAINPID is not set: this command is ExecReload= of the systemd units, where systemd sets it; elsewhere send the proxy SIGHUP\n"},
		{[]string{"MAINPID=x"}, "quantum-safe-proxy: error: reload: MAINPID is \"x\", not a process ID: this command is ExecReload= of the systemd units, where systemd sets it; elsewhere send the proxy SIGHUP\n"},
		{[]string{"MAINPID=1"}, "quantum-safe-proxy: error: reload: INVOCATION_ID is not set: this command is ExecReload= of the systemd units, where systemd sets it\n"},
	} {
		cmd := exec.Command(binary, "reload")
		cmd.Env = tc.env
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 78 || string(out) != tc.want {
			t.Errorf("env %q: %v\n%s\nwant exit 78 and:\n%s", tc.env, err, out, tc.want)
		}
	}
}

// While a socket-activated proxy waits for a configuration that loads, a
// reload tries the file at once: it fails with the first problem while
// the file is broken, and succeeds once it is fixed, and then serves.
func TestReloadCommandWhileWaiting(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		need(t, "systemd-socket-activate", "apt-get install systemd (Debian's systemd package has it)")
	}
	cfgPath, unit := filepath.Join(t.TempDir(), "config.json"), invocation(t)
	good := jsonConfig(echoBackend(t), "")
	writeConfig(t, cfgPath, strings.Replace(good, `"target"`, `"tagret"`, 1))
	addr := freePort(t)
	p := startProc(t, exec.Command(activate, "-l", addr, "--fdname=https", "-E", unit[0], "-E", unit[1],
		binary, "--config-file", cfgPath, "--log-format", "json"))
	wantReset(t, addr, true)

	want := "quantum-safe-proxy: error: reload failed: " + cfgPath + `: tagret: unknown key; did you mean "target"?; connections are reset until a configuration loads` + "\n"
	if out, code := reloadCmd(t, p, unit); code != 1 || out != want {
		t.Errorf("a reload while broken: exit %d, output:\n%s\nwant exit 1 and:\n%s", code, out, want)
	}
	writeConfig(t, cfgPath, good)
	if out, code := reloadCmd(t, p, unit); code != 0 || out != "" {
		t.Errorf("a reload after the fix: exit %d\n%s", code, out)
	}
	if err := echoOnce(addr, []byte("served")); err != nil {
		t.Errorf("after the reload that loaded the configuration: %v", err)
	}
}
