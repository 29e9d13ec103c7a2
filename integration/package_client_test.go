package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Client mode under systemd, as the README's Client mode says to run it,
// with the .deb installed: the packaged quantum-safe-proxy.socket serves
// server mode on 8443 with the host PKI, requiring a client certificate
// issued with `certs issue-client` and admitting its CN only, in front of
// the demo backend; the template instance quantum-safe-proxy@127.0.0.1:9000
// is client mode, named after its loopback address, reading
// /etc/quantum-safe-proxy/127.0.0.1:9000.json. A plain TCP client in the
// box (bash's /dev/tcp) speaks through both to the backend.
func TestPackageClientMode(t *testing.T) {
	dist, version := pkgDist(t)
	b := bootBox(t, "qsp-client")
	start := time.Now()
	b.run("install-deb", filepath.Join(dist, "quantum-safe-proxy_"+version+"-1_amd64.deb"))
	startBackend(t, b)
	portsFree(t, "9000", "9001")
	const instance = "quantum-safe-proxy@127.0.0.1:9000"
	const instanceConfig = "/etc/quantum-safe-proxy/127.0.0.1:9000.json"

	writeBoxFile(t, b, "/etc/quantum-safe-proxy/config.json", `{
  "listen": "[::]:8443",
  "target": "127.0.0.1:6000",
  "certificates": [
    {"cert_path": "/etc/quantum-safe-proxy/certs/server-mldsa.crt", "key_path": "/etc/quantum-safe-proxy/certs/server-mldsa.key"},
    {"cert_path": "/etc/quantum-safe-proxy/certs/server-ecdsa.crt", "key_path": "/etc/quantum-safe-proxy/certs/server-ecdsa.key"}
  ],
  "ca_cert_path": "/etc/quantum-safe-proxy/certs/ca.crt",
  "client_cert_mode": "required",
  "allow_cn": ["app-host"],
  "pqc_mode": "strict",
  "log_level": "info"
}
`)
	// As packaging/examples/client-mode.json, pointed at this host. The
	// target is an address: the box has no /etc/hosts, so "localhost"
	// would go to DNS. The host PKI's server certificate holds localhost,
	// the host name, 127.0.0.1 and ::1.
	writeBoxFile(t, b, instanceConfig, clientModeConfig("127.0.0.1:9000", "127.0.0.1:8443", ""))
	placeClientKey(t, b, instanceConfig)
	b.exec("systemctl", "enable", "--now", "quantum-safe-proxy.socket", instance+".socket")
	if out := b.exec("systemctl", "show", "-p", "Listen", "--value", instance+".socket"); out != "127.0.0.1:9000 (Stream)\n" {
		t.Errorf("%s.socket listens on %q, want 127.0.0.1:9000", instance, out)
	}

	// Two connections: the second resumes the session of the first, on
	// both sides.
	for i, line := range []string{"first through both proxies", "second, resumed"} {
		if out, err := plainClient(b, "9000", line); err != nil || out != backendGreeting+line+"\n" {
			t.Fatalf("plain client %d through %s: %v\n%s", i+1, instance, err, out)
		}
	}
	listening := waitJournal(t, b, instance+".service", 1, "listening")
	if e := listening[0]; e["QSP_ADDRESS"] != "127.0.0.1:9000" || e["QSP_SYSTEMD"] != "1" || e["QSP_MODE"] != "client" || e["QSP_TARGET"] != "127.0.0.1:8443" {
		t.Errorf("%s does not serve %s in client mode on systemd's 127.0.0.1:9000: %v", instance, instanceConfig, e)
	}
	// The server's view: who connected (the issued certificate's CN), over
	// which group, resumed or not.
	for i, e := range waitJournal(t, b, "quantum-safe-proxy.service", 2, "connection closed")[:2] {
		if e["QSP_IDENTITY"] != "app-host" || e["QSP_TLS_GROUP"] != "X25519MLKEM768" || e["QSP_PQ"] != "1" || e["QSP_RESUMED"] != []string{"0", "1"}[i] {
			t.Errorf("server mode, connection %d: identity %v group %v pq %v resumed %v, want app-host X25519MLKEM768 1 %d", i+1, e["QSP_IDENTITY"], e["QSP_TLS_GROUP"], e["QSP_PQ"], e["QSP_RESUMED"], i)
		}
	}
	// Client mode's view: the server's certificate (CN localhost, ML-DSA),
	// and its own certificate presented on the full handshake only (a
	// resumed TLS 1.3 session carries the one presented before).
	for i, e := range waitJournal(t, b, instance+".service", 2, "connection closed")[:2] {
		want := map[string]string{"QSP_IDENTITY": "localhost", "QSP_TLS_GROUP": "X25519MLKEM768", "QSP_PQ": "1", "QSP_CERT_ALG": "ML-DSA-65",
			"QSP_RESUMED": []string{"0", "1"}[i], "QSP_CLIENT_CERT": []string{"ML-DSA-65", "none"}[i], "QSP_CLOSE_REASON": "client_closed"}
		for k, v := range want {
			if e[k] != v {
				t.Errorf("client mode, connection %d: %s=%v, want %s", i+1, k, e[k], v)
			}
		}
	}

	reloadClientInstance(t, b, instance, instanceConfig)
	t.Run("remote target", func(t *testing.T) { remoteTarget(t, b) })
	t.Logf("install, two instances, reloads and the remote target took %v", time.Since(start).Round(time.Millisecond))
}

// backendGreeting is the demo backend's first line (cmd/demo-backend).
const backendGreeting = "hello from the backend at 127.0.0.1:6000; type a line and it comes back\n"

// clientModeConfig is a client-mode instance's file for listen and
// target, the host PKI's CA bundle for roots, the issued app-host
// certificate, pinning the server's name; extra is more settings, each
// ending in a comma.
func clientModeConfig(listen, target, extra string) string {
	return `{
  "mode": "client",
  "listen": "` + listen + `",
  "target": "` + target + `",
  "server_name": "localhost",
  "ca_cert_path": "/etc/quantum-safe-proxy/certs/ca.crt",
  "certificates": [
    {"cert_path": "/etc/quantum-safe-proxy/certs/app-host.crt", "key_path": "/etc/quantum-safe-proxy/certs/app-host.key"}
  ],
  "allow_dns": ["localhost"],` + extra + `
  "pqc_mode": "strict"
}
`
}

// placeClientKey issues the app-host client certificate as the README
// says (root's /root/clients, the key 0600) and copies it where the
// instance reads it, as an operator would: check, run as root, says the
// service cannot read the key and how to fix it; after the fix it passes,
// and the service's user (a dynamic user in group quantum-safe-proxy-keys)
// reads the key.
func placeClientKey(t *testing.T, b *systemdBox, cfg string) {
	t.Helper()
	b.exec("quantum-safe-proxy", "certs", "issue-client", "--ca-dir", "/etc/quantum-safe-proxy/ca", "--name", "app-host", "--out", "/root/clients")
	b.exec("cp", "/root/clients/app-host.crt", "/root/clients/app-host.key", "/etc/quantum-safe-proxy/certs/")
	key := "/etc/quantum-safe-proxy/certs/app-host.key"
	fix := "chgrp quantum-safe-proxy-keys " + key + " && chmod 0640 " + key
	if out, err := b.try("quantum-safe-proxy", "check", "--config-file", cfg); err == nil || !strings.Contains(out, key+": the service cannot read this key") || !strings.Contains(out, "fix: "+fix) {
		t.Errorf("check with the client key 0600 root: %v, want an error naming %s and the fix %q:\n%s", err, key, fix, out)
	}
	b.exec("sh", "-c", fix)
	b.exec("quantum-safe-proxy", "check", "--config-file", cfg)
	if out, err := exec.Command(b.tool, "-n", b.name, "run", "-p", "DynamicUser=yes", "-p", "SupplementaryGroups=quantum-safe-proxy-keys",
		"cat", key).CombinedOutput(); err != nil {
		t.Errorf("the service's user cannot read %s: %v\n%s", key, err, out)
	}
}

// reloadClientInstance reloads the instance with the server pinned to a
// name its certificate does not hold: the next connection is refused in
// the handshake and never reaches the backend. Reloaded back, it is
// served again.
func reloadClientInstance(t *testing.T, b *systemdBox, instance, cfg string) {
	t.Helper()
	b.exec("sed", "-i", `s/"allow_dns": \["localhost"\]/"allow_dns": ["db.example.com"]/`, cfg)
	b.exec("systemctl", "reload", instance+".service")
	if out, err := plainClient(b, "9000", "refused"); err == nil || strings.Contains(out, "hello") {
		t.Errorf("after a reload pinning the server to db.example.com, a client was served: %v\n%s", err, out)
	}
	e := waitJournal(t, b, instance+".service", 1, "handshake refused")[0]
	if e["QSP_REASON"] != "server_not_allowed" || !strings.Contains(fmt.Sprint(e["QSP_ERROR"]), "matches no allow rule (allow_dns)") {
		t.Errorf("handshake refused: reason %v error %v, want server_not_allowed, no allow rule (allow_dns)", e["QSP_REASON"], e["QSP_ERROR"])
	}
	b.exec("sed", "-i", `s/"allow_dns": \["db.example.com"\]/"allow_dns": ["localhost"]/`, cfg)
	b.exec("systemctl", "reload", instance+".service")
	if out, err := plainClient(b, "9000", "after the reloads"); err != nil || out != backendGreeting+"after the reloads\n" {
		t.Errorf("plain client after reloading %s back: %v\n%s", instance, err, out)
	}
	if status := b.exec("systemctl", "show", "-p", "StatusText", "--value", instance+".service"); !strings.Contains(status, " ok") {
		t.Errorf("%s StatusText after reload: %q", instance, status)
	}
}

// remoteTarget: the units' firewall (IPAddressDeny=any,
// IPAddressAllow=localhost) holds back a client-mode instance whose
// target is not on loopback, here this host's own non-loopback address;
// the README's drop-in with IPAddressAllow= lets it through, and the
// server sees the connection come from that address.
func remoteTarget(t *testing.T, b *systemdBox) {
	ip := nonLoopbackIPv4(t)
	const instance = "quantum-safe-proxy@127.0.0.1:9001"
	writeBoxFile(t, b, "/etc/quantum-safe-proxy/127.0.0.1:9001.json", clientModeConfig("127.0.0.1:9001", ip+":8443", "\n  \"dial_timeout\": \"1s\","))
	served := len(journalEntries(b, "quantum-safe-proxy.service", "connection closed"))
	b.exec("systemctl", "start", instance+".socket")
	defer b.exec("systemctl", "stop", instance+".socket", instance+".service")
	if out, err := plainClient(b, "9001", "held back"); err == nil {
		t.Errorf("client mode reached %s:8443 through IPAddressDeny=any:\n%s", ip, out)
	}
	e := waitJournal(t, b, instance+".service", 1, "target unreachable")[0]
	if e["QSP_TARGET"] != ip+":8443" || !strings.Contains(fmt.Sprint(e["QSP_ERROR"]), "i/o timeout") {
		t.Errorf("target unreachable: target %v error %v, want %s:8443 and an i/o timeout", e["QSP_TARGET"], e["QSP_ERROR"], ip)
	}
	if !strings.Contains(fmt.Sprint(e["QSP_HINT"]), "IPAddressAllow=") {
		t.Errorf("target unreachable: hint %q does not point at the units' firewall", e["QSP_HINT"])
	}
	// What `systemctl edit quantum-safe-proxy@127.0.0.1:9001.service` writes.
	writeBoxFile(t, b, "/etc/systemd/system/"+instance+".service.d/override.conf", "[Service]\nIPAddressAllow="+ip+"\n")
	b.exec("systemctl", "daemon-reload")
	b.exec("systemctl", "restart", instance+".service")
	if out, err := plainClient(b, "9001", "allowed"); err != nil || out != backendGreeting+"allowed\n" {
		t.Fatalf("client mode to %s:8443 with IPAddressAllow=%s: %v\n%s", ip, ip, err, out)
	}
	closed := waitJournal(t, b, "quantum-safe-proxy.service", served+1, "connection closed")
	e = closed[len(closed)-1]
	if addr := fmt.Sprint(e["QSP_CLIENT_ADDR"]); !strings.HasPrefix(addr, ip+":") && !strings.HasPrefix(addr, "[::ffff:"+ip+"]:") || e["QSP_IDENTITY"] != "app-host" || e["QSP_PQ"] != "1" {
		t.Errorf("server mode's last connection: client %s identity %v pq %v, want one from %s, app-host, 1", addr, e["QSP_IDENTITY"], e["QSP_PQ"], ip)
	}
}

// nonLoopbackIPv4 is an IPv4 address of this host that is not loopback:
// the box shares the host's network, so it is the box's too.
func nonLoopbackIPv4(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	need(t, "an IPv4 address that is not loopback", "this host has none to stand for a remote target")
	return ""
}

// plainClient connects to 127.0.0.1:PORT inside the box with bash's
// /dev/tcp (a client that knows nothing of TLS), reads the backend's
// greeting, sends line and reads it back; it returns what it read.
func plainClient(b *systemdBox, port, line string) (string, error) {
	script := `exec 3<>/dev/tcp/127.0.0.1/` + port + ` && IFS= read -r g <&3 && printf '%s\n' "$g" && printf '%s\n' "$1" >&3 && IFS= read -r e <&3 && printf '%s\n' "$e"`
	return b.try("timeout", "10", "bash", "-c", script, "plain-client", line)
}

// try runs a command in the box and returns its output and error, for
// commands that are meant to fail.
func (b *systemdBox) try(args ...string) (string, error) {
	out, err := exec.Command(b.tool, append([]string{"-n", b.name, "exec"}, args...)...).CombinedOutput()
	return string(out), err
}

// writeBoxFile writes content to path in the box (mode 0644, directories
// made as needed).
func writeBoxFile(t *testing.T, b *systemdBox, path, content string) {
	t.Helper()
	local := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(local, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	b.exec("mkdir", "-p", filepath.Dir(path))
	b.run("cp-in", local, path)
}

// waitJournal returns unit's journal entries of the log message msg,
// oldest first, once there are want of them (within 10 s): a
// connection's line is written when it closes.
func waitJournal(t *testing.T, b *systemdBox, unit string, want int, msg string) []map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		entries := journalEntries(b, unit, msg)
		if len(entries) >= want {
			return entries
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal of %s: %d entries %q, want %d:\n%s", unit, len(entries), msg, want, b.exec("journalctl", "--no-pager", "-u", unit))
		}
	}
}

// journalEntries returns unit's journal entries of the log message msg
// (MESSAGE is the message and its attributes as key=value), oldest
// first.
func journalEntries(b *systemdBox, unit, msg string) []map[string]any {
	out := b.exec("journalctl", "--no-pager", "-o", "json", "-u", unit, "SYSLOG_IDENTIFIER=quantum-safe-proxy")
	var entries []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil && strings.HasPrefix(fmt.Sprint(e["MESSAGE"])+" ", msg+" ") {
			entries = append(entries, e)
		}
	}
	return entries
}

// portsFree fails when something on this host listens on a port the
// test's units will bind (the box shares the host's network).
func portsFree(t *testing.T, ports ...string) {
	t.Helper()
	for _, port := range ports {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
			c.Close()
			t.Fatalf("something already listens on 127.0.0.1:%s, which this test's units use; stop it first:\n%s", port, listener(port))
		}
	}
}
