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
// not. check, run as root, names the fix; a reload before the fix fails
// with the same fix in the journal and keeps serving; after the fix,
// check passes and the reload serves the new chain. The configuration is
// put back at the end.
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

	// The reload fails, says why with the same fix, and keeps serving.
	since := strings.TrimSpace(b.exec("date", "+%Y-%m-%d %H:%M:%S"))
	b.exec("systemctl", "reload", "quantum-safe-proxy.service")
	hint := pqKey + ": permission denied: this process (uid "
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		journal := b.exec("journalctl", "--no-pager", "-o", "cat", "-u", "quantum-safe-proxy.service", "--since", since)
		if line := lineWith(journal, hint); line != "" {
			// PrivateUsers=yes shows the key group as 65534; the hint says so.
			if !strings.Contains(line, ",65534; 65534 stands for the groups PrivateUsers= leaves unmapped) cannot read this key (mode 0600, owner root); fix, for the packaged service (group quantum-safe-proxy-keys): "+fix) {
				t.Errorf("the failed reload's hint: %s\nwant the fix %s", line, fix)
			}
			t.Logf("journal, reload with the key 0600 root: %s", line)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed reload logged no line with %q:\n%s", hint, journal)
		}
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

	b.exec("mv", cfgPath+".orig", cfgPath)
	b.exec("systemctl", "reload", "quantum-safe-proxy.service")
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
