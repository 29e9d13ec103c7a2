package integration

import (
	"strings"
	"testing"
)

// Keys that come in through LoadCredential= reload: systemd shows the
// credentials only to the service's main process, which reloads them;
// ExecReload= (`quantum-safe-proxy reload`) reads no file, only the
// proxy's outcome, so `systemctl reload` succeeds; a broken configuration
// still fails it, with the proxy's reason.
func TestSystemdBoxCredentialsReload(t *testing.T) {
	b := bootBox(t, "qsp-cred")
	install(t, b)
	b.exec("sh", "-c", `set -e
		mkdir -p /etc/systemd/system/quantum-safe-proxy.service.d /etc/tlscred
		install -m 0600 /etc/quantum-safe-proxy/certs/server-ecdsa.crt /etc/tlscred/tls.crt
		install -m 0600 /etc/quantum-safe-proxy/certs/server-ecdsa.key /etc/tlscred/tls.key
		printf '[Service]\nLoadCredential=tls.crt:/etc/tlscred/tls.crt\nLoadCredential=tls.key:/etc/tlscred/tls.key\n' >/etc/systemd/system/quantum-safe-proxy.service.d/credentials.conf
		printf '{"target": "127.0.0.1:6000", "cert_path": "${CREDENTIALS_DIRECTORY}/tls.crt", "key_path": "${CREDENTIALS_DIRECTORY}/tls.key"}\n' >/etc/quantum-safe-proxy/config.json
		systemctl daemon-reload
		systemctl restart quantum-safe-proxy.socket`)
	if r := runSClient(t, "127.0.0.1:8443"); !r.echoed || r.peerSig != "ecdsa_secp256r1_sha256" {
		t.Fatalf("the credential chain: signature %q echoed %v\n%s", r.peerSig, r.echoed, r.out)
	}
	if out := b.exec("sh", "-c", "systemctl reload quantum-safe-proxy.service 2>&1; echo exit=$?"); !strings.HasSuffix(out, "exit=0\n") {
		t.Errorf("systemctl reload with keys from LoadCredential=: %s", out)
	}
	b.exec("sed", "-i", `s/"target"/"tagret"/`, "/etc/quantum-safe-proxy/config.json")
	if out := b.exec("sh", "-c", "systemctl reload quantum-safe-proxy.service 2>&1; echo exit=$?"); strings.HasSuffix(out, "exit=0\n") {
		t.Errorf("systemctl reload of a broken configuration: exit 0, want a failure\n%s", out)
	}
	if out := b.exec("journalctl", "--no-pager", "-o", "cat", "-p", "err", "-u", "quantum-safe-proxy.service"); !strings.Contains(out, "quantum-safe-proxy: error: reload failed: /etc/quantum-safe-proxy/config.json: tagret: unknown key") {
		t.Errorf("the failed reload's reason is not in the journal:\n%s", out)
	}
	if r := runSClient(t, "127.0.0.1:8443"); !r.echoed {
		t.Errorf("after the failed reload the proxy does not serve:\n%s", r.out)
	}
}
