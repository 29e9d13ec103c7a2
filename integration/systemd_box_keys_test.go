package integration

import (
	"bytes"
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ownKeyAsOpenSSLWritesIt replaces the ML-DSA chain with one OpenSSL 3.5
// made, copied in as OpenSSL writes the key: 0600 root, which root reads
// and the service (a dynamic user in group quantum-safe-proxy-keys) does
// not. check, run as root, names the fix; `systemctl reload` before the
// fix fails (non-zero) with the proxy's own error, the same fix, in the
// journal and keeps serving
// the previous chain; after the fix, check passes and the reload serves
// the new chain; with a key file that holds no key, the reload fails
// again and that chain serves on. The configuration is put back at the
// end.
func ownKeyAsOpenSSLWritesIt(t *testing.T, b *systemdBox) {
	ossl, dir := openssl(t), t.TempDir()
	key, crt := filepath.Join(dir, "pq.key"), filepath.Join(dir, "pq.crt")
	for _, args := range [][]string{
		{"genpkey", "-algorithm", "ML-DSA-65", "-out", key},
		{"req", "-new", "-x509", "-key", key, "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-days", "30", "-out", crt},
	} {
		if out, err := exec.Command(ossl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", args[0], err, out)
		}
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("openssl genpkey wrote the key %v, %v; the test assumes 0600", fi.Mode(), err)
	}
	const cfgPath, pqKey = "/etc/quantum-safe-proxy/config.json", "/etc/quantum-safe-proxy/pq.key"
	b.run("cp-in", key, pqKey)
	b.run("cp-in", crt, "/etc/quantum-safe-proxy/pq.crt")
	b.exec("cp", "-p", cfgPath, cfgPath+".orig")
	b.exec("sed", "-i", `s|"certificates": \[|"certificates": [\n    {"cert_path": "/etc/quantum-safe-proxy/pq.crt", "key_path": "/etc/quantum-safe-proxy/pq.key"},|`, cfgPath)

	check := func() (string, string) {
		out := b.exec("sh", "-c", "quantum-safe-proxy check --config-file "+cfgPath+" 2>&1; echo exit=$?")
		body, code, _ := strings.Cut(out, "exit=")
		return body, strings.TrimSpace(code)
	}
	fix := "chgrp quantum-safe-proxy-keys " + pqKey + " && chmod 0640 " + pqKey
	want := "quantum-safe-proxy: error: " + pqKey + ": the service cannot read this key (0600 root:root; the service is a dynamic user in group quantum-safe-proxy-keys); fix: " + fix + "\n"
	if out, code := check(); code != "78" || out != want {
		t.Fatalf("check with the key 0600 root: exit %s, output:\n%s\nwant:\n%s", code, out, want)
	}

	// The reload fails (systemctl exits non-zero), says why with the same
	// fix, and the chain in force keeps serving.
	before := filepath.Join(dir, "before.crt")
	b.run("cp-out", "/etc/quantum-safe-proxy/certs/server-mldsa.crt", before)
	served, err := certsFromFile(before)
	if err != nil {
		t.Fatal(err)
	}
	line := failedReload(t, b, pqKey+": permission denied: this process (uid ", served)
	// PrivateUsers=yes shows the key group as 65534; the hint says so.
	if !strings.Contains(line, ",65534; 65534 stands for the groups PrivateUsers= leaves unmapped) cannot read this key (mode 0600, owner root); fix, for the packaged service (group quantum-safe-proxy-keys): "+fix) {
		t.Errorf("the failed reload's hint: %s\nwant the fix %s", line, fix)
	}

	// The fix as check printed it, run as it stands.
	b.exec("sh", "-c", fix)
	if out, code := check(); code != "0" || !strings.Contains(out, "\nfiles: the service (a dynamic user in group quantum-safe-proxy-keys) can read all 7\n") {
		t.Fatalf("check after the fix: exit %s\n%s", code, out)
	}
	b.exec("systemctl", "reload", "quantum-safe-proxy.service")
	if status := b.exec("systemctl", "show", "-p", "StatusText", "--value", "quantum-safe-proxy.service"); !strings.Contains(status, " ok") {
		t.Errorf("StatusText after the fixed reload: %q", status)
	}
	want2, err := certsFromFile(crt)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		c, err := tls.Dial("tcp", "127.0.0.1:8443", &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			served := c.ConnectionState().PeerCertificates[0].Raw
			c.Close()
			if bytes.Equal(served, want2) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the OpenSSL-made certificate is not served 5 s after the fixed reload (last error %v)", err)
		}
	}

	// A key that is no key: the watch refuses it on its own, and
	// systemctl reload fails and says so; the OpenSSL-made chain serves on.
	b.exec("cp", "-p", pqKey, pqKey+".good")
	b.exec("sh", "-c", "echo 'not a key' > "+pqKey)
	failedReload(t, b, pqKey+": no PEM private key found", want2)
	b.exec("mv", pqKey+".good", pqKey)

	b.exec("mv", cfgPath+".orig", cfgPath)
	b.exec("systemctl", "reload", "quantum-safe-proxy.service")
}

// failedReload runs `systemctl reload`, which must exit non-zero, with
// the line of `quantum-safe-proxy reload` (ExecReload=) that gives the
// proxy's reason, containing why, at priority err in the journal and in
// `systemctl status`; the service keeps running, the same process,
// serving the chain whose leaf is served. It returns the journal line.
func failedReload(t *testing.T, b *systemdBox, why string, served []byte) string {
	t.Helper()
	show := func() string {
		return b.exec("systemctl", "show", "-p", "MainPID,ActiveState,SubState", "quantum-safe-proxy.service")
	}
	before := show()
	since := strings.TrimSpace(b.exec("date", "+%Y-%m-%d %H:%M:%S"))
	out := b.exec("sh", "-c", "systemctl reload quantum-safe-proxy.service 2>&1; echo exit=$?")
	if out, code, _ := strings.Cut(out, "exit="); strings.TrimSpace(code) == "0" {
		t.Errorf("systemctl reload with %q: exit 0, want a failure\n%s", why, out)
	}
	t.Logf("systemctl reload: %s", strings.TrimSpace(out))
	journal := b.exec("journalctl", "--no-pager", "-o", "cat", "-p", "err", "-u", "quantum-safe-proxy.service", "--since", since)
	why = "quantum-safe-proxy: error: reload failed: " + why
	line := lineWith(journal, why)
	if line == "" {
		t.Errorf("the failed reload logged no error with %q:\n%s", why, journal)
	}
	status := b.exec("sh", "-c", "systemctl status --no-pager --full -n 10 quantum-safe-proxy.service; true")
	if !strings.Contains(status, why) || !strings.Contains(status, "ExecReload=/usr/bin/quantum-safe-proxy reload") {
		t.Errorf("systemctl status does not say why the reload failed:\n%s", status)
	}
	t.Logf("systemctl status after the failed reload:\n%s", status)
	if after := show(); after != before || !strings.Contains(after, "ActiveState=active\n") || !strings.Contains(after, "SubState=running\n") {
		t.Errorf("the failed reload changed the service:\n%s\nthen\n%s", before, after)
	}
	c, err := tls.Dial("tcp", "127.0.0.1:8443", &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("after the failed reload: %v", err)
	}
	defer c.Close()
	if !bytes.Equal(c.ConnectionState().PeerCertificates[0].Raw, served) {
		t.Errorf("after the failed reload, another chain is served than before it")
	}
	return line
}

// lineWith returns the first line of text that contains s, or "".
func lineWith(text, s string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}
