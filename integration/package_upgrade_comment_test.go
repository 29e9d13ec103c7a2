package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An upgrade whose socket units differ from the installed ones only in
// comments leaves systemd's sockets bound: the scripts compare settings,
// not text, so no client is refused while the socket would be rebound.
// The service is restarted, as by every upgrade, and no client is refused
// then either.
func TestPackageUpgradeCommentedSocket(t *testing.T) {
	dist, version := pkgDist(t)
	newDeb := filepath.Join(dist, "quantum-safe-proxy_"+version+"-1_amd64.deb")
	unit, err := os.ReadFile("../systemd/quantum-safe-proxy.socket")
	if err != nil {
		t.Fatal(err)
	}
	older := strings.Replace(string(unit), "[Socket]\n", "[Socket]\n# A comment an older version had.\n\n", 1)
	for _, tc := range []struct{ format, install, newPkg string }{
		{"deb", "install-deb", newDeb},
		{"rpm", "install-rpm", filepath.Join(dist, "quantum-safe-proxy-"+version+"-1.x86_64.rpm")},
	} {
		t.Run(tc.format, func(t *testing.T) {
			oldPkg := oldPackage(t, newDeb, tc.format, older)
			b := bootBox(t, "qsp-upgrade-comment-"+tc.format)
			b.run(tc.install, oldPkg)
			startBackend(t, b)
			b.exec("systemctl", "enable", "--now", "quantum-safe-proxy.socket")
			if r := runSClient(t, "127.0.0.1:8443"); r.group != "X25519MLKEM768" || !r.echoed {
				t.Fatalf("before the upgrade: group %q echoed %v\n%s", r.group, r.echoed, r.out)
			}
			bound := b.exec("systemctl", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", "quantum-safe-proxy.socket")
			pid := b.exec("systemctl", "show", "-p", "MainPID", "--value", "quantum-safe-proxy.service")

			served := keepConnecting(t, func() { b.run(tc.install, tc.newPkg) })
			t.Logf("upgrade: %d connections served", served)
			if now := b.exec("systemctl", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", "quantum-safe-proxy.socket"); now != bound {
				t.Errorf("the socket unit was restarted by an upgrade that changed only comments (active since %s, was %s)", strings.TrimSpace(now), strings.TrimSpace(bound))
			}
			if now := b.exec("systemctl", "show", "-p", "MainPID", "--value", "quantum-safe-proxy.service"); now == pid {
				t.Errorf("the service was not restarted by the upgrade: MainPID %s", strings.TrimSpace(now))
			}
		})
	}
}
