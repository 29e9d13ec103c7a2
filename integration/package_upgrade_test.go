package integration

import (
	"bufio"
	"crypto/tls"
	"fmt"
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

// oldSocketUnit is quantum-safe-proxy.socket as the 0.1 packages shipped
// it: IPv4 only, no BindIPv6Only=.
const oldSocketUnit = `[Unit]
Description=quantum-safe-proxy listening socket (post-quantum TLS)
Documentation=man:quantum-safe-proxy(8)

[Socket]
ListenStream=0.0.0.0:8443
FileDescriptorName=https
Backlog=4096
NoDelay=yes

[Install]
WantedBy=sockets.target
`

// oldVersion is older than any version this tree builds.
const oldVersion = "0.1.9-1"

// An upgrade from a package whose socket unit listened elsewhere: systemd
// reloads the changed unit while the service runs, closes its copy of the
// old socket and binds nothing until the socket unit restarts. The
// upgrade must restart it, so that systemd holds the new dual-stack
// socket and passes it to the service; the .deb's postinst and the .rpm's
// %post each do. The old package is built from this tree with the 0.1
// socket unit: the scripts that run from it during an upgrade (prerm,
// postrm; %preun, %postun) are the same as 0.1's.
func TestPackageUpgradeChangedSocket(t *testing.T) {
	dist, version := pkgDist(t)
	newDeb := filepath.Join(dist, "quantum-safe-proxy_"+version+"-1_amd64.deb")
	for _, tc := range []struct{ format, install, newPkg string }{
		{"deb", "install-deb", newDeb},
		{"rpm", "install-rpm", filepath.Join(dist, "quantum-safe-proxy-"+version+"-1.x86_64.rpm")},
	} {
		t.Run(tc.format, func(t *testing.T) {
			oldPkg := oldSocketPackage(t, newDeb, tc.format)
			b := bootBox(t, "qsp-upgrade-"+tc.format)
			b.run(tc.install, oldPkg)
			upgradeChangedSocket(t, b, func() { b.run(tc.install, tc.newPkg) })
		})
	}
}

func upgradeChangedSocket(t *testing.T, b *systemdBox, upgrade func()) {
	startBackend(t, b)
	// An instance, which listens on 9443 with the main configuration.
	b.exec("cp", "/etc/quantum-safe-proxy/config.json", "/etc/quantum-safe-proxy/9443.json")
	b.exec("systemctl", "enable", "--now", "quantum-safe-proxy.socket", "quantum-safe-proxy@9443.socket")
	if got := b.exec("systemctl", "show", "-p", "Listen", "quantum-safe-proxy.socket"); got != "Listen=0.0.0.0:8443 (Stream)\n" {
		t.Fatalf("the old package's socket: %q", got)
	}
	// A connection starts each service, so the upgrade finds them running.
	for _, addr := range []string{"127.0.0.1:8443", "127.0.0.1:9443"} {
		if r := runSClient(t, addr); r.group != "X25519MLKEM768" || !r.echoed {
			t.Fatalf("%s before the upgrade: group %q echoed %v\n%s", addr, r.group, r.echoed, r.out)
		}
	}
	instPID := b.exec("systemctl", "show", "-p", "MainPID", "--value", "quantum-safe-proxy@9443.service")

	// The socket has to be rebound, so clients connecting while the
	// upgrade runs may be refused for a moment; the test reports how long.
	var refused window
	stop := refused.watch("127.0.0.1:8443")
	upgrade()
	time.Sleep(300 * time.Millisecond)
	stop()
	t.Logf("upgrade: %s", refused.String())

	if got := b.exec("systemctl", "show", "-p", "Listen", "quantum-safe-proxy.socket"); got != "Listen=[::]:8443 (Stream)\n" {
		t.Errorf("after the upgrade the socket unit says %q, want Listen=[::]:8443 (Stream)", got)
	}
	units := "quantum-safe-proxy.socket quantum-safe-proxy.service quantum-safe-proxy@9443.socket quantum-safe-proxy@9443.service"
	if got := b.exec("sh", "-c", "systemctl is-active "+units+"; true"); got != "active\nactive\nactive\nactive\n" {
		t.Errorf("after the upgrade, %s are:\n%s", units, got)
	}
	checkSystemdHoldsSocket(t, b, "8443")
	checkSystemdHoldsSocket(t, b, "9443")
	if after := b.exec("systemctl", "show", "-p", "MainPID", "--value", "quantum-safe-proxy@9443.service"); after == instPID {
		t.Errorf("the instance was not restarted by the upgrade: MainPID %s", strings.TrimSpace(after))
	}
	for _, addr := range []string{"[::1]:8443", "127.0.0.1:8443", "[::1]:9443", "127.0.0.1:9443"} {
		if r := runSClient(t, addr); r.group != "X25519MLKEM768" || r.peerSig != "mldsa65" || !r.echoed {
			t.Errorf("%s after the upgrade: group %q signature %q echoed %v\n%s", addr, r.group, r.peerSig, r.echoed, r.out)
		}
	}
	checkServiceActivated(t, b, "quantum-safe-proxy.service")
	checkServiceActivated(t, b, "quantum-safe-proxy@9443.service")

	// With systemd holding the socket again, a restart refuses no one.
	served := keepConnecting(t, func() { b.exec("systemctl", "restart", "quantum-safe-proxy.service") })
	t.Logf("restart after the upgrade: %d connections served", served)
	checkServiceActivated(t, b, "quantum-safe-proxy.service")

	// The units' command without a socket from systemd, as a service of
	// theirs would start if its socket unit held none: it refuses to bind
	// the port itself and says what to do.
	cmd := b.exec("systemctl", "show", "-p", "ExecStart", "--value", "quantum-safe-proxy.service")
	if !strings.Contains(cmd, "argv[]=/usr/bin/quantum-safe-proxy --config-file /etc/quantum-safe-proxy/config.json --require-systemd-socket ;") {
		t.Errorf("ExecStart: %s", cmd)
	}
	out := b.exec("sh", "-c", "quantum-safe-proxy --config-file /etc/quantum-safe-proxy/config.json --require-systemd-socket 2>&1; echo exit $?")
	if !strings.Contains(out, "systemctl restart quantum-safe-proxy.socket") || !strings.HasSuffix(out, "exit 78\n") {
		t.Errorf("without a socket from systemd:\n%s", out)
	}
}

// oldSocketPackage builds, with the tree's nfpm.yaml and scripts, a
// package of format "deb" or "rpm" at version oldVersion whose socket unit
// is the 0.1 one. The files that `make package` stages (binary, manual,
// changelog) are taken from the .deb at newDeb.
func oldSocketPackage(t *testing.T, newDeb, format string) string {
	return oldPackage(t, newDeb, format, oldSocketUnit)
}

// oldPackage is oldSocketPackage with socketUnit as quantum-safe-proxy.socket.
func oldPackage(t *testing.T, newDeb, format, socketUnit string) string {
	dir := t.TempDir()
	stage := filepath.Join(dir, "stage")
	tree := filepath.Join(dir, "tree")
	run(t, "dpkg-deb", "-x", newDeb, tree)
	os.Mkdir(stage, 0o755)
	for src, dst := range map[string]string{
		"usr/bin/quantum-safe-proxy":                           "quantum-safe-proxy",
		"usr/share/man/man8/quantum-safe-proxy.8.gz":           "quantum-safe-proxy.8.gz",
		"usr/share/doc/quantum-safe-proxy/changelog.Debian.gz": "changelog.Debian.gz",
	} {
		run(t, "cp", "-p", filepath.Join(tree, src), filepath.Join(stage, dst))
	}
	unit := filepath.Join(dir, "quantum-safe-proxy.socket")
	if err := os.WriteFile(unit, []byte(socketUnit), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml, err := os.ReadFile("../nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	y := strings.ReplaceAll(string(yaml), "src: dist/stage/", "src: "+stage+"/")
	y = strings.ReplaceAll(y, "src: systemd/quantum-safe-proxy.socket\n", "src: "+unit+"\n")
	if !strings.Contains(y, unit) || strings.Contains(y, "dist/stage/quantum") {
		t.Fatal("nfpm.yaml no longer names systemd/quantum-safe-proxy.socket and dist/stage/ as this test expects")
	}
	conf := filepath.Join(dir, "nfpm.yaml")
	os.WriteFile(conf, []byte(y), 0o644)
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	version, _, _ := strings.Cut(oldVersion, "-")
	nfpm := exec.Command("bin/nfpm", "package", "-f", conf, "-p", format, "-t", out)
	nfpm.Dir = ".."
	nfpm.Env = append(os.Environ(), "ARCH=amd64", "VERSION="+version)
	if o, err := nfpm.CombinedOutput(); err != nil {
		t.Fatalf("nfpm (built by make package): %v\n%s", err, o)
	}
	pkgs, _ := filepath.Glob(filepath.Join(out, "*."+format))
	if len(pkgs) != 1 {
		t.Fatalf("nfpm made %v", pkgs)
	}
	return pkgs[0]
}

// checkSystemdHoldsSocket checks that PID 1 holds the listening socket on
// port, dual-stack (ss(8) shows such a socket bound to :: as *).
func checkSystemdHoldsSocket(t *testing.T, b *systemdBox, port string) {
	t.Helper()
	out := b.exec("ss", "-Hltnp", "sport = :"+port)
	if !strings.Contains(out, "*:"+port+" ") || !strings.Contains(out, `("systemd",pid=1,`) {
		t.Errorf("port %s is not held by systemd on a dual-stack socket:\n%s", port, out)
	}
}

// checkServiceActivated checks that the running service got its socket
// from systemd: its "listening" entry says systemd=1 (QSP_SYSTEMD), and
// no process of the service ever bound the port itself.
func checkServiceActivated(t *testing.T, b *systemdBox, service string) {
	t.Helper()
	pid := strings.TrimSpace(b.exec("systemctl", "show", "-p", "MainPID", "--value", service))
	out := b.exec("journalctl", "--no-pager", "-o", "cat", "-u", service, "_PID="+pid, "QSP_SYSTEMD=1")
	if !strings.HasPrefix(out, "listening listener=https ") {
		t.Errorf("%s (pid %s) did not log listening on systemd's socket: %q", service, pid, out)
	}
	if own := b.exec("journalctl", "--no-pager", "-o", "cat", "-u", service, "QSP_SYSTEMD=0"); strings.TrimSpace(own) != "" {
		t.Errorf("%s bound a socket itself:\n%s", service, own)
	}
}

// window records the connections refused or failed while watch runs.
type window struct {
	mu          sync.Mutex
	failed      int
	first, last time.Time
	lastErr     error
	served      atomic.Int64
}

// watch connects to addr in a loop, each connection reading the backend's
// greeting, until the returned function is called.
func (w *window) watch(addr string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			d := &net.Dialer{Timeout: 5 * time.Second}
			c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
			if err == nil {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				_, err = bufio.NewReader(c).ReadString('\n')
				c.Close()
			}
			if err == nil {
				w.served.Add(1)
				continue
			}
			w.mu.Lock()
			now := time.Now()
			if w.failed == 0 {
				w.first = now
			}
			w.failed++
			w.last, w.lastErr = now, err
			w.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (w *window) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed == 0 {
		return fmt.Sprintf("no connection failed, %d served", w.served.Load())
	}
	return fmt.Sprintf("%d connections failed, the first and the last %v apart (the last: %v), %d served",
		w.failed, w.last.Sub(w.first).Round(time.Millisecond), w.lastErr, w.served.Load())
}
