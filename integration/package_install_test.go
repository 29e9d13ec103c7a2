package integration

import (
	"bufio"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// End to end under a real systemd: install the .deb, enable the socket,
// serve a PQ client from the host, reload with a connection open, read the
// journal, upgrade to a newer build, purge, and leave nothing behind.
func TestPackageInstallUpgradePurge(t *testing.T) {
	dist, version := pkgDist(t)
	b := bootBox(t, "qsp-deb")
	start := time.Now()
	b.run("install-deb", filepath.Join(dist, "quantum-safe-proxy_"+version+"-1_amd64.deb"))
	checkHostPKI(t, b)
	startBackend(t, b)
	b.exec("systemctl", "enable", "--now", "quantum-safe-proxy.socket")
	inst := startMTLSInstance(t, b)

	r := runSClient(t, "127.0.0.1:8443")
	if r.group != "X25519MLKEM768" || r.peerSig != "mldsa65" || !r.echoed {
		t.Fatalf("group %q signature %q echoed %v\n%s", r.group, r.peerSig, r.echoed, r.out)
	}
	if r := runSClient(t, "127.0.0.1:8443", "-groups", legacyGroups, "-sigalgs", legacySigalgs); r.group != "X25519" || !r.echoed {
		t.Fatalf("legacy client: group %q echoed %v", r.group, r.echoed)
	}
	c, rd, _ := greeting(t, "127.0.0.1:8443", &tls.Config{InsecureSkipVerify: true})
	b.exec("systemctl", "reload", "quantum-safe-proxy.service")
	roundTrip(t, c, rd, "open across systemctl reload")
	c.Close()
	checkJournal(t, b)

	// Upgrade to a newer build: the operator's config stays, the service
	// restarts, and clients connecting meanwhile are all served.
	b.exec("sh", "-c", `sed -i 's/"log_level": "info"/"log_level": "debug"/' /etc/quantum-safe-proxy/config.json`)
	pidBefore := b.exec("systemctl", "show", "-p", "MainPID", "--value", "quantum-safe-proxy.service")
	newer := version + ".1"
	newDist := t.TempDir()
	build := exec.Command("make", "-C", "..", "package", "ARCHES=amd64", "DIST="+newDist, "PKG_VERSION="+newer)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", newer, err, out)
	}
	instPID := b.exec("systemctl", "show", "-p", "MainPID", "--value", "quantum-safe-proxy@9443.service")
	plantLegacyClientKey(b)
	plantPathUnit(b)
	var upgradeOut string
	served := keepConnecting(t, func() {
		upgradeOut = b.run("install-deb", filepath.Join(newDist, "quantum-safe-proxy_"+newer+"-1_amd64.deb"))
	})
	t.Logf("upgrade: %d connections served while it ran, none refused", served)
	checkLegacyKeyMoved(t, b, upgradeOut)
	checkPathUnitRetired(t, b)
	if after := b.exec("systemctl", "show", "-p", "MainPID", "--value", "quantum-safe-proxy@9443.service"); after == instPID || strings.TrimSpace(after) == "0" {
		t.Errorf("template instance not restarted by the upgrade: MainPID %s -> %s", strings.TrimSpace(instPID), strings.TrimSpace(after))
	}
	inst.check(t)
	if out := b.exec("quantum-safe-proxy", "version"); !strings.HasPrefix(out, "quantum-safe-proxy "+newer+" ") {
		t.Errorf("after upgrade: %q", out)
	}
	if out := b.exec("grep", "-c", `"log_level": "debug"`, "/etc/quantum-safe-proxy/config.json"); strings.TrimSpace(out) != "1" {
		t.Error("the upgrade replaced the operator's config")
	}
	pidAfter := b.exec("systemctl", "show", "-p", "MainPID", "--value", "quantum-safe-proxy.service")
	if pidAfter == pidBefore || strings.TrimSpace(pidAfter) == "0" {
		t.Errorf("service not restarted by the upgrade: MainPID %s -> %s", strings.TrimSpace(pidBefore), strings.TrimSpace(pidAfter))
	}

	b.exec("apt-get", "remove", "-y", "quantum-safe-proxy")
	if out := b.exec("sh", "-c", "systemctl is-active quantum-safe-proxy.socket quantum-safe-proxy.service quantum-safe-proxy@9443.socket quantum-safe-proxy@9443.service; true"); out != "inactive\ninactive\ninactive\ninactive\n" {
		t.Errorf("after apt-get remove, the units are:\n%s", out)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:9443", time.Second); err == nil {
		c.Close()
		t.Error("the template instance's socket still listens after apt-get remove")
	}

	// Purge removes what the package made and keeps, and names, what the
	// operator added: the instance's JSON file and a certificate.
	b.exec("sh", "-c", "echo operator > /etc/quantum-safe-proxy/certs/operator.crt")
	purged := b.exec("apt-get", "purge", "-y", "quantum-safe-proxy")
	kept := "quantum-safe-proxy: purge kept these files, which the package did not create or which were changed:\n" +
		"  /etc/quantum-safe-proxy/9443.json\n  /etc/quantum-safe-proxy/certs/operator.crt\n"
	if !strings.Contains(strings.ReplaceAll(purged, "\r", ""), kept) {
		t.Errorf("apt-get purge did not say what it kept (%q):\n%s", kept, purged)
	}
	if out := b.exec("sh", "-c", "find /etc/quantum-safe-proxy | LC_ALL=C sort"); out != "/etc/quantum-safe-proxy\n/etc/quantum-safe-proxy/9443.json\n/etc/quantum-safe-proxy/certs\n/etc/quantum-safe-proxy/certs/operator.crt\n" {
		t.Errorf("after purge, /etc/quantum-safe-proxy holds:\n%s", out)
	}
	leftovers := b.exec("sh", "-c", `
		ls /usr/lib/systemd/system/ /etc/systemd/system/ /etc/systemd/system/*.wants 2>/dev/null | grep quantum-safe-proxy
		ls -d /var/lib/quantum-safe-proxy /usr/share/doc/quantum-safe-proxy /usr/bin/quantum-safe-proxy 2>/dev/null
		getent group quantum-safe-proxy-keys
		pgrep -a quantum-safe
		systemctl list-units --all --no-legend 'quantum-safe-proxy*' | grep -v not-found
		ls /var/lib/systemd/deb-systemd-helper-enabled 2>/dev/null | grep quantum-safe-proxy
		true`)
	if strings.TrimSpace(leftovers) != "" {
		t.Errorf("purge left behind:\n%s", leftovers)
	}
	if c, err := tls.Dial("tcp", "127.0.0.1:8443", &tls.Config{InsecureSkipVerify: true}); err == nil {
		c.Close()
		t.Error("port 8443 still served after purge")
	}
	t.Logf("deb install, reload, upgrade and purge took %v", time.Since(start).Round(time.Second))
}

// The .rpm's smoke install (tools/systemd-box install-rpm: Debian's rpm
// --nodeps under real systemd): files in place, %post made the PKI, and
// the socket serves.
func TestPackageRPMSmokeInstall(t *testing.T) {
	dist, version := pkgDist(t)
	b := bootBox(t, "qsp-rpm")
	b.run("install-rpm", filepath.Join(dist, "quantum-safe-proxy-"+version+"-1.x86_64.rpm"))
	if out := b.exec("rpm", "-q", "quantum-safe-proxy"); !strings.Contains(out, version) {
		t.Errorf("rpm -q: %s", out)
	}
	checkHostPKI(t, b)
	startBackend(t, b)
	b.exec("systemctl", "enable", "--now", "quantum-safe-proxy.socket")
	if r := runSClient(t, "127.0.0.1:8443"); r.group != "X25519MLKEM768" || !r.echoed {
		t.Fatalf("after rpm install: group %q echoed %v\n%s", r.group, r.echoed, r.out)
	}
	startMTLSInstance(t, b)
	erased := b.exec("rpm", "-e", "quantum-safe-proxy")
	if want := "quantum-safe-proxy: kept /etc/quantum-safe-proxy (the host PKI in certs/ and ca/, and your files); remove it when no longer needed"; !strings.Contains(erased, want) {
		t.Errorf("rpm -e did not say %q:\n%s", want, erased)
	}
	out := b.exec("sh", "-c", "systemctl is-active quantum-safe-proxy.socket quantum-safe-proxy.service quantum-safe-proxy@9443.socket quantum-safe-proxy@9443.service; ls /usr/bin/quantum-safe-proxy 2>&1; true")
	if want := "inactive\ninactive\ninactive\ninactive\nls: cannot access '/usr/bin/quantum-safe-proxy': No such file or directory\n"; out != want {
		t.Errorf("after rpm -e:\n%s\nwant:\n%s", out, want)
	}
}

// startBackend runs the demo echo backend on 127.0.0.1:6000 inside the box.
func startBackend(t *testing.T, b *systemdBox) {
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "demo-backend"), "../cmd/demo-backend")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	b.run("cp-in", filepath.Join(dir, "demo-backend"), "/usr/local/bin/demo-backend")
	b.exec("chmod", "0755", "/usr/local/bin/demo-backend")
	b.exec("systemd-run", "--unit=qsp-demo-backend", "/usr/local/bin/demo-backend", "--listen", "127.0.0.1:6000")
}

// keepConnecting runs clients against 127.0.0.1:8443 while during runs;
// any refused or failed connection fails the test.
func keepConnecting(t *testing.T, during func()) int64 {
	var stop atomic.Bool
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				c, err := tls.Dial("tcp", "127.0.0.1:8443", &tls.Config{InsecureSkipVerify: true})
				if err == nil {
					_, err = bufio.NewReader(c).ReadString('\n')
					c.Close()
				}
				if err != nil {
					t.Errorf("connection refused or failed: %v", err)
					return
				}
				ok.Add(1)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	during()
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	return ok.Load()
}
