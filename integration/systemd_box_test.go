package integration

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// systemdBox runs the proxy's units under a real systemd (PID 1) in a
// container on this machine: QSP_SYSTEMD_BOX names the script that boots
// it, tools/systemd-box (`make test-systemd` and `make test-package` set
// it). The container shares the host's network, so the socket unit's
// port 8443 is reached from here, over IPv4 and IPv6.
type systemdBox struct {
	t    *testing.T
	tool string
	name string // the systemd-box instance
	up   bool   // it booted, so it has a journal to show
}

func (b *systemdBox) run(args ...string) string {
	b.t.Helper()
	out, err := exec.Command(b.tool, append([]string{"-n", b.name}, args...)...).CombinedOutput()
	if err != nil {
		b.t.Fatalf("systemd-box %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (b *systemdBox) exec(args ...string) string { return b.run(append([]string{"exec"}, args...)...) }

// stream runs a systemd-box command whose stderr lines (what it is doing
// and why it takes long) go to the test log as they come.
func (b *systemdBox) stream(args ...string) {
	b.t.Helper()
	cmd := exec.Command(b.tool, append([]string{"-n", b.name}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	var stdout, said bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("systemd-box %s: %v", strings.Join(args, " "), err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		b.t.Log(sc.Text())
		fmt.Fprintln(&said, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		b.t.Fatalf("systemd-box %s: %v\n%s%s", strings.Join(args, " "), err, stdout.Bytes(), said.Bytes())
	}
}

// listener says what listens on a TCP port of this host (ss -ltnp), and
// how to stop it. A systemd-box instance of another cache (its cgroup is
// systemd-box-CACHEID-NAME-SUITE) is named, with the down-all that stops
// it when its systemd-nspawn still runs and says which cache it is in.
func listener(port string) string {
	out, err := exec.Command("ss", "-Hltnp", "sport = :"+port).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(ss -ltnp: %v)", err)
	}
	text := strings.TrimSpace(string(out))
	// users:(("name",pid=N,fd=F),...): the first process still there
	// whose cgroup is a systemd-box instance's, else the first process.
	var pid, box string
	for _, field := range strings.Split(text, "pid=")[1:] {
		p, _, _ := strings.Cut(field, ",")
		if pid == "" {
			pid = p
		}
		cg, _ := os.ReadFile("/proc/" + p + "/cgroup")
		if i := strings.Index(string(cg), "systemd-box-"); i >= 0 {
			pid = p
			box, _, _ = strings.Cut(string(cg[i:]), "/")
			box = strings.TrimSpace(box)
			break
		}
	}
	if pid == "" {
		return text
	}
	if box == "" {
		return text + "\nstop that process (kill " + pid + ", or systemctl stop its unit)"
	}
	hint := fmt.Sprintf("kill -KILL $(find /sys/fs/cgroup -path '*/%s/*' -name cgroup.procs | xargs cat)", box)
	// The guest's processes descend from its nspawn, whose --directory
	// is CACHE/systemd-box/inst/SUITE/NAME/merged.
	for p := pid; p != "" && p != "0" && p != "1"; {
		cmdline, _ := os.ReadFile("/proc/" + p + "/cmdline")
		for _, arg := range strings.Split(string(cmdline), "\x00") {
			if dir, ok := strings.CutPrefix(arg, "--directory="); ok {
				if cache, _, ok := strings.Cut(dir, "/systemd-box/inst/"); ok {
					hint = "QSP_CACHE=" + cache + " integration/tools/systemd-box down-all"
				}
			}
		}
		status, _ := os.ReadFile("/proc/" + p + "/status")
		_, ppid, _ := strings.Cut(string(status), "\nPPid:")
		p, _, _ = strings.Cut(strings.TrimSpace(ppid), "\n")
	}
	return fmt.Sprintf("%s\nPID %s belongs to the systemd-box instance of another cache whose cgroup is %s; stop it with `%s`", text, pid, box, hint)
}

// bootBox boots a fresh systemd-box instance for a test that serves the
// shipped socket on 127.0.0.1:8443. Without QSP_SYSTEMD_BOX it skips, or
// fails under CI.
func bootBox(t *testing.T, name string) *systemdBox {
	t.Helper()
	tool := os.Getenv("QSP_SYSTEMD_BOX")
	if tool == "" {
		need(t, "a real systemd (PID 1)", "QSP_SYSTEMD_BOX is not set; run `make test-systemd` (or `make test-package`), which boots one with integration/tools/systemd-box")
	}
	if os.Geteuid() != 0 {
		need(t, "root", "the systemd container needs root (systemd-nspawn, mmdebstrap); run `sudo make test-systemd` and `sudo make test-package`")
	}
	b := &systemdBox{t: t, tool: tool, name: name}
	// Registered before up, so a failed or half-done boot is stopped too.
	// A run cut short (go test's -timeout panics without cleanups, Ctrl-C)
	// leaves its instance up; down-all below stops it at the next run.
	t.Cleanup(func() {
		if t.Failed() && b.up {
			out, _ := exec.Command(tool, "-n", name, "journal", "-n", "80").CombinedOutput()
			t.Logf("journal:\n%s", out)
		}
		exec.Command(tool, "-n", name, "down").Run()
	})
	b.stream("down-all")
	// The box shares the host's network: the shipped socket's port and the
	// demo backend's must be free, or the suite would wait on a stranger.
	for _, port := range []string{"8443", "6000"} {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
			c.Close()
			t.Fatalf("something already listens on 127.0.0.1:%s, which the box's units use; stop it first:\n%s", port, listener(port))
		}
	}
	// The first run builds the Debian root (30 s or more): the script's
	// progress lines show in the test log as they come.
	b.stream("up", "--fresh")
	b.up = true
	version, _, _ := strings.Cut(b.exec("systemctl", "--version"), "\n")
	release := b.exec("sh", "-c", ". /etc/os-release && echo $PRETTY_NAME")
	fmt.Printf("peer: %s as PID 1 in %s (integration/tools/systemd-box)\n", version, strings.TrimSpace(release))
	return b
}

func TestSystemdBox(t *testing.T) {
	b := bootBox(t, "qsp")
	install(t, b)

	// A PQ client from the host: X25519MLKEM768, ML-DSA-65, an echo.
	r := runSClient(t, "127.0.0.1:8443")
	if r.group != "X25519MLKEM768" || r.peerSig != "mldsa65" || !r.echoed {
		t.Fatalf("group %q signature %q echoed %v\n%s", r.group, r.peerSig, r.echoed, r.out)
	}
	if r := runSClient(t, "127.0.0.1:8443", "-groups", legacyGroups, "-sigalgs", legacySigalgs); !r.echoed || r.group != "X25519" {
		t.Fatalf("legacy client: group %q echoed %v", r.group, r.echoed)
	}
	ipv6Client(t, b)
	addressInstance(t, b)

	// `systemctl reload` while a connection is open.
	ca := filepath.Join(t.TempDir(), "ca.crt")
	b.run("cp-out", "/etc/quantum-safe-proxy/certs/ca.crt", ca)
	data, _ := os.ReadFile(ca)
	c, rd, greet := greeting(t, "127.0.0.1:8443", &tls.Config{RootCAs: poolFrom(data), ServerName: "localhost"})
	if !strings.HasPrefix(greet, "hello from the backend") {
		t.Fatalf("greeting %q", greet)
	}
	b.exec("systemctl", "reload", "quantum-safe-proxy.service")
	roundTrip(t, c, rd, "still here after systemctl reload")
	c.Close()
	// Three PQ clients (s_client, over IPv6, Go) and a classical one, all
	// closed; STATUS= follows within a second.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		status := b.exec("systemctl", "show", "-p", "StatusText", "--value", "quantum-safe-proxy.service")
		if strings.HasPrefix(status, "4 connections, 75% PQ, 0 open, 0 refused; reload ") && strings.HasSuffix(status, " ok (nothing changed)\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("StatusText after reload: %q", status)
			break
		}
	}

	reloadReportsOutcome(t, b)
	ownKeyAsOpenSSLWritesIt(t, b)
	rotated := rotateCertificates(t, b)
	restartUnderLoad(t, b, rotated)
	checkJournal(t, b)
	stopCutsWithoutFailing(t, b, rotated)
}

// ipv6Client: a PQ client over the IPv6 loopback reaches the backend
// through the shipped socket unit, and the journal names it by its IPv6
// address.
func ipv6Client(t *testing.T, b *systemdBox) {
	r := runSClient(t, "[::1]:8443")
	if r.group != "X25519MLKEM768" || r.peerSig != "mldsa65" || !r.echoed {
		t.Errorf("client over [::1]:8443: group %q signature %q echoed %v\n%s", r.group, r.peerSig, r.echoed, r.out)
		return
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out := b.exec("journalctl", "--no-pager", "-o", "json", "-u", "quantum-safe-proxy.service", "QSP_PQ=1")
		if strings.Contains(out, `"QSP_CLIENT_ADDR":"[::1]:`) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("no journal entry with QSP_CLIENT_ADDR=[::1]:PORT for the client over IPv6:\n%s", out)
			return
		}
	}
}

// addressInstance: a template instance named by an IPv6 address and port,
// escaped as systemd wants (quantum-safe-proxy@\x5b::1\x5d:9445), listens
// on that address and reads the JSON file named as the unit is.
func addressInstance(t *testing.T, b *systemdBox) {
	unit := `quantum-safe-proxy@\x5b::1\x5d:9445`
	b.exec("sh", "-c", `sed '/"listen"/d' /etc/quantum-safe-proxy/config.json >'/etc/quantum-safe-proxy/\x5b::1\x5d:9445.json'`)
	b.exec("systemctl", "start", unit+".socket")
	defer b.exec("systemctl", "stop", unit+".socket", unit+".service")
	if r := runSClient(t, "[::1]:9445"); r.group != "X25519MLKEM768" || !r.echoed {
		status, _ := exec.Command(b.tool, "-n", b.name, "exec", "systemctl", "status", "--no-pager", unit+".socket", unit+".service").CombinedOutput()
		t.Errorf("client of %s on [::1]:9445: group %q echoed %v\n%s\n%s", unit, r.group, r.echoed, r.out, status)
	}
	// Its runtime directory, where the reload's outcome is recorded, is
	// named after the instance, colons and all.
	if out := b.exec("sh", "-c", "systemctl reload '"+unit+"' 2>&1; echo exit=$?"); out != "exit=0\n" {
		t.Errorf("systemctl reload %s: %s", unit, out)
	}
}

// stopCutsWithoutFailing stops the service while a connection is still
// open past drain_timeout: the proxy cuts it, logs the count and exits 3,
// which the unit's SuccessExitStatus= makes a clean stop: the unit is
// inactive, not failed.
func stopCutsWithoutFailing(t *testing.T, b *systemdBox, ca []byte) {
	b.exec("sh", "-c", `sed -i 's/^}$/  ,"drain_timeout": "1s"\n}/' /etc/quantum-safe-proxy/config.json`)
	b.exec("systemctl", "restart", "quantum-safe-proxy.service")
	c, _, greet := greeting(t, "127.0.0.1:8443", &tls.Config{RootCAs: poolFrom(ca), ServerName: "localhost"})
	defer c.Close()
	if !strings.HasPrefix(greet, "hello from the backend") {
		t.Fatalf("greeting %q", greet)
	}
	start := time.Now()
	b.exec("systemctl", "stop", "quantum-safe-proxy.service")
	took := time.Since(start)
	state := b.exec("systemctl", "show", "-p", "ActiveState,Result,ExecMainStatus", "quantum-safe-proxy.service")
	props := strings.Fields(state)
	slices.Sort(props)
	if want := []string{"ActiveState=inactive", "ExecMainStatus=3", "Result=success"}; !slices.Equal(props, want) {
		t.Errorf("after systemctl stop with a connection open past drain_timeout: %q, want %q", props, want)
	}
	if out := b.exec("sh", "-c", "systemctl is-failed quantum-safe-proxy.service; true"); out != "inactive\n" {
		t.Errorf("systemctl is-failed: %q, want inactive", out)
	}
	if took > 5*time.Second {
		t.Errorf("systemctl stop took %v with drain_timeout 1s", took)
	}
	out := b.exec("journalctl", "--no-pager", "-o", "json", "-u", "quantum-safe-proxy.service", "QSP_CUT=1")
	if !strings.Contains(out, `"MESSAGE":"stopped: connections still open at drain_timeout were cut`) {
		t.Errorf("no journal entry with QSP_CUT=1 saying the drain cut connections:\n%s", out)
	}
	t.Logf("systemctl stop with a connection stuck past drain_timeout 1s: took %v, %s", took.Round(time.Millisecond), strings.ReplaceAll(strings.TrimSpace(state), "\n", " "))
}

// rotateCertificates rewrites the ML-DSA pair in place (cp onto the old
// files), in /srv/tls, a directory the packages know nothing of, with no
// unit enabled for it and no command sent to the service: the proxy's own
// watch reloads it. It returns the CA file that ML-DSA clients now trust.
func rotateCertificates(t *testing.T, b *systemdBox) []byte {
	b.exec("quantum-safe-proxy", "certs", "init", "--dir", "/root/rotated")
	rotated := time.Now()
	b.exec("sh", "-c", `cp /root/rotated/server-mldsa.key /srv/tls/server-mldsa.key && cp /root/rotated/server-mldsa.crt /srv/tls/server-mldsa.crt`)
	want, ca := filepath.Join(t.TempDir(), "new.crt"), filepath.Join(t.TempDir(), "ca.crt")
	b.run("cp-out", "/root/rotated/server-mldsa.crt", want)
	b.run("cp-out", "/root/rotated/ca.crt", ca)
	caData, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	newCert, err := certsFromFile(want)
	if err != nil {
		t.Fatal(err)
	}
	deadline := rotated.Add(5 * time.Second)
	for {
		c, err := tls.Dial("tcp", "127.0.0.1:8443", &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			served := c.ConnectionState().PeerCertificates[0].Raw
			c.Close()
			if bytes.Equal(served, newCert) {
				t.Logf("the certificate rotated in place in /srv/tls was served %v later, with nothing enabled or sent", time.Since(rotated).Round(time.Millisecond))
				return caData
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the certificate rotated in place in /srv/tls was not served within 5 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// certsFromFile returns the DER of the first certificate in a PEM file.
func certsFromFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	return block.Bytes, nil
}

// install puts the binary, units, group and a host PKI in place, as the
// packages will, and enables the socket.
func install(t *testing.T, b *systemdBox) {
	dir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "quantum-safe-proxy"), "../cmd/quantum-safe-proxy")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	b.run("cp-in", filepath.Join(dir, "quantum-safe-proxy"), "/usr/bin/quantum-safe-proxy")
	b.exec("chmod", "0755", "/usr/bin/quantum-safe-proxy")
	for _, u := range []string{"quantum-safe-proxy.socket", "quantum-safe-proxy.service", "quantum-safe-proxy@.socket",
		"quantum-safe-proxy@.service", "quantum-safe-proxy-admin.socket"} {
		b.run("cp-in", "../systemd/"+u, "/usr/lib/systemd/system/"+u)
	}
	b.run("cp-in", "../systemd/quantum-safe-proxy.sysusers", "/usr/lib/sysusers.d/quantum-safe-proxy.conf")
	b.exec("systemd-sysusers")
	b.exec("quantum-safe-proxy", "certs", "init", "--host", "--dir", "/etc/quantum-safe-proxy/certs", "--ca-dir", "/etc/quantum-safe-proxy/ca")
	b.exec("sh", "-c", "chgrp quantum-safe-proxy-keys /etc/quantum-safe-proxy/certs/*.key && chmod 0640 /etc/quantum-safe-proxy/certs/*.key")
	// The ML-DSA pair lives where an operator might keep it, outside
	// /etc/quantum-safe-proxy: rotateCertificates rewrites it there.
	b.exec("sh", "-c", "mkdir -p /srv/tls && cp -p /etc/quantum-safe-proxy/certs/server-mldsa.crt /etc/quantum-safe-proxy/certs/server-mldsa.key /srv/tls/")
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{
  "listen": "[::]:8443",
  "target": "127.0.0.1:6000",
  "certificates": [
    {"cert_path": "/srv/tls/server-mldsa.crt", "key_path": "/srv/tls/server-mldsa.key"},
    {"cert_path": "/etc/quantum-safe-proxy/certs/server-ecdsa.crt", "key_path": "/etc/quantum-safe-proxy/certs/server-ecdsa.key"}
  ]
}
`), 0o644)
	b.run("cp-in", cfg, "/etc/quantum-safe-proxy/config.json")
	startBackend(t, b)
	b.exec("systemctl", "daemon-reload")
	b.exec("systemd-analyze", "verify", "--man=no", "quantum-safe-proxy.socket", "quantum-safe-proxy.service")
	b.exec("systemctl", "enable", "--now", "quantum-safe-proxy.socket")
}

// checkJournal reads the structured fields back: `journalctl QSP_PQ=1`
// lists the PQ connections and QSP_PQ=0 the classical one.
func checkJournal(t *testing.T, b *systemdBox) {
	for _, tc := range []struct{ pq, group, alg string }{{"1", "X25519MLKEM768", "ML-DSA-65"}, {"0", "X25519", "ECDSA P-256"}} {
		out := b.exec("journalctl", "--no-pager", "-o", "json", "-u", "quantum-safe-proxy.service", "QSP_PQ="+tc.pq)
		found := false
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var e map[string]any
			if json.Unmarshal([]byte(line), &e) != nil {
				continue
			}
			if e["QSP_TLS_GROUP"] == tc.group && e["QSP_CERT_ALG"] == tc.alg && e["QSP_CLIENT_ADDR"] != nil && e["QSP_BYTES_OUT"] != nil {
				found = true
			}
		}
		if !found {
			t.Errorf("journalctl QSP_PQ=%s: no entry with QSP_TLS_GROUP=%s QSP_CERT_ALG=%s:\n%s", tc.pq, tc.group, tc.alg, out)
		}
	}
}
