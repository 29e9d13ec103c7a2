package integration

import (
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkHostPKI checks the host PKI the package made: the service's key
// group reads the two server keys and nothing else; the roots' keys are
// root-only in their own directory, and no client key was made. It also
// reads the files as the service's user would.
func checkHostPKI(t *testing.T, b *systemdBox) {
	t.Helper()
	out := b.exec("sh", "-c", `cd /etc/quantum-safe-proxy && stat -c '%n %a %U:%G' ca ca/* certs/*.key | LC_ALL=C sort`)
	want := `ca 700 root:root
ca/ecdsa-root.crt 644 root:root
ca/ecdsa-root.key 600 root:root
ca/mldsa-root.crt 644 root:root
ca/mldsa-root.key 600 root:root
certs/server-ecdsa.key 640 root:quantum-safe-proxy-keys
certs/server-mldsa.key 640 root:quantum-safe-proxy-keys
`
	if out != want {
		t.Errorf("host PKI:\n%s\nwant:\n%s", out, want)
	}
	asService := func(path string) error {
		return exec.Command(b.tool, "-n", b.name, "run", "-p", "DynamicUser=yes", "-p", "SupplementaryGroups=quantum-safe-proxy-keys",
			"cat", path).Run()
	}
	if err := asService("/etc/quantum-safe-proxy/certs/server-mldsa.key"); err != nil {
		t.Errorf("the service's user cannot read its key: %v", err)
	}
	if err := asService("/etc/quantum-safe-proxy/ca/mldsa-root.key"); err == nil {
		t.Error("the service's user can read the ML-DSA root's key")
	}
}

// mtlsInstance is quantum-safe-proxy@9443, which requires client
// certificates issued with `certs issue-client` from the host PKI.
type mtlsInstance struct {
	b                 *systemdBox
	ca, goCert, goKey string
	sslCert, sslKey   string
}

// startMTLSInstance writes /etc/quantum-safe-proxy/9443.json (as an
// operator would), issues two client certificates, enables the instance's
// socket and checks that it serves them and refuses a client without one.
func startMTLSInstance(t *testing.T, b *systemdBox) *mtlsInstance {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "9443.json")
	os.WriteFile(cfg, []byte(`{
  "target": "127.0.0.1:6000",
  "certificates": [
    {"cert_path": "/etc/quantum-safe-proxy/certs/server-mldsa.crt", "key_path": "/etc/quantum-safe-proxy/certs/server-mldsa.key"},
    {"cert_path": "/etc/quantum-safe-proxy/certs/server-ecdsa.crt", "key_path": "/etc/quantum-safe-proxy/certs/server-ecdsa.key"}
  ],
  "client_cert_mode": "required",
  "ca_cert_path": "/etc/quantum-safe-proxy/certs/ca.crt"
}
`), 0o644)
	b.run("cp-in", cfg, "/etc/quantum-safe-proxy/9443.json")
	// The README's recipe: a full ML-DSA chain for Go clients, an ML-DSA
	// key under the ECDSA root for OpenSSL 3.5 clients.
	b.exec("quantum-safe-proxy", "certs", "issue-client", "--ca-dir", "/etc/quantum-safe-proxy/ca", "--name", "go-client", "--key-type", "mldsa", "--out", "/root/clients")
	b.exec("quantum-safe-proxy", "certs", "issue-client", "--ca-dir", "/etc/quantum-safe-proxy/ca", "--name", "openssl-client", "--key-type", "mldsa-ecdsa-issued", "--out", "/root/clients")
	m := &mtlsInstance{b: b}
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&m.ca, "/etc/quantum-safe-proxy/certs/ca.crt"},
		{&m.goCert, "/root/clients/go-client.crt"}, {&m.goKey, "/root/clients/go-client.key"},
		{&m.sslCert, "/root/clients/openssl-client.crt"}, {&m.sslKey, "/root/clients/openssl-client.key"},
	} {
		*f.dst = filepath.Join(dir, filepath.Base(f.src))
		b.run("cp-out", f.src, *f.dst)
	}
	b.exec("systemctl", "enable", "--now", "quantum-safe-proxy@9443.socket")
	m.check(t)
	return m
}

// check connects to the instance with each client certificate, and
// without one.
func (m *mtlsInstance) check(t *testing.T) {
	t.Helper()
	data, _ := os.ReadFile(m.ca)
	cfg := &tls.Config{RootCAs: poolFrom(data), ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	pair, err := tls.LoadX509KeyPair(m.goCert, m.goKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Certificates = []tls.Certificate{pair}
	c, rd, greet := greeting(t, "127.0.0.1:9443", cfg)
	if !strings.HasPrefix(greet, "hello from the backend") {
		t.Errorf("Go client with an issued ML-DSA certificate: greeting %q", greet)
	}
	roundTrip(t, c, rd, "mutual TLS through quantum-safe-proxy@9443")
	c.Close()
	r := runSClient(t, "127.0.0.1:9443", "-CAfile", m.ca, "-verify_return_error", "-cert", m.sslCert, "-key", m.sslKey)
	if !r.echoed || !r.verified || r.group != "X25519MLKEM768" {
		t.Errorf("OpenSSL client with an issued certificate: echoed %v verified %v group %q\n%s", r.echoed, r.verified, r.group, r.out)
	}
	if r := runSClient(t, "127.0.0.1:9443", "-CAfile", m.ca); r.echoed {
		t.Error("the instance served a client without a certificate")
	}
}

// plantLegacyClientKey puts a client key and certificate into the
// service's directory, as versions before the host PKI split generated
// them.
func plantLegacyClientKey(b *systemdBox) {
	b.exec("sh", "-c", `quantum-safe-proxy certs init --dir /root/legacy >/dev/null &&
		cp /root/legacy/client-ecdsa.key /root/legacy/client-ecdsa.crt /etc/quantum-safe-proxy/certs/ &&
		chgrp quantum-safe-proxy-keys /etc/quantum-safe-proxy/certs/client-ecdsa.key &&
		chmod 0640 /etc/quantum-safe-proxy/certs/client-ecdsa.key`)
}

// checkLegacyKeyMoved checks that the upgrade moved the planted client
// key out of the service's reach, and said so.
func checkLegacyKeyMoved(t *testing.T, b *systemdBox, upgradeOut string) {
	t.Helper()
	msg := "quantum-safe-proxy: moved client-ecdsa.key client-ecdsa.crt from /etc/quantum-safe-proxy/certs, which the service can read, to /etc/quantum-safe-proxy/ca (root only)"
	if !strings.Contains(upgradeOut, msg) {
		t.Errorf("the upgrade did not say %q:\n%s", msg, upgradeOut)
	}
	out := b.exec("sh", "-c", "stat -c '%n %a %U:%G' /etc/quantum-safe-proxy/ca/client-ecdsa.key; ls /etc/quantum-safe-proxy/certs/client-* 2>&1; true")
	if want := "/etc/quantum-safe-proxy/ca/client-ecdsa.key 600 root:root\nls: cannot access '/etc/quantum-safe-proxy/certs/client-*': No such file or directory\n"; out != want {
		t.Errorf("after the upgrade:\n%s\nwant:\n%s", out, want)
	}
}
