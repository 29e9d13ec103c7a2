package integration

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pkgDist returns the directory `make package` wrote, and the version;
// `make test-package` sets both. Without them it skips, or fails under CI.
func pkgDist(t *testing.T) (string, string) {
	dist, version := os.Getenv("QSP_DIST"), os.Getenv("QSP_PKG_VERSION")
	if dist == "" || version == "" {
		need(t, "a package build", "QSP_DIST and QSP_PKG_VERSION are not set; run `make test-package`, which builds the packages and tests them")
	}
	return dist, version
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// want lists every path the packages must hold, with mode and owner.
var wantFiles = map[string]string{
	"/usr/bin/quantum-safe-proxy":                                             "-rwxr-xr-x root/root",
	"/usr/lib/systemd/system/quantum-safe-proxy.socket":                       "-rw-r--r-- root/root",
	"/usr/lib/systemd/system/quantum-safe-proxy.service":                      "-rw-r--r-- root/root",
	"/usr/lib/systemd/system/quantum-safe-proxy-admin.socket":                 "-rw-r--r-- root/root",
	"/usr/lib/systemd/system/quantum-safe-proxy@.socket":                      "-rw-r--r-- root/root",
	"/usr/lib/systemd/system/quantum-safe-proxy@.service":                     "-rw-r--r-- root/root",
	"/usr/lib/sysusers.d/quantum-safe-proxy.conf":                             "-rw-r--r-- root/root",
	"/etc/quantum-safe-proxy/config.json":                                     "-rw-r--r-- root/root",
	"/etc/quantum-safe-proxy/certs":                                           "drwxr-xr-x root/root",
	"/usr/share/man/man8/quantum-safe-proxy.8.gz":                             "-rw-r--r-- root/root",
	"/usr/share/doc/quantum-safe-proxy/README.md":                             "-rw-r--r-- root/root",
	"/usr/share/doc/quantum-safe-proxy/copyright":                             "-rw-r--r-- root/root",
	"/usr/share/doc/quantum-safe-proxy/examples/mtls-strict.json":             "-rw-r--r-- root/root",
	"/usr/share/doc/quantum-safe-proxy/examples/browsers-and-pq-clients.json": "-rw-r--r-- root/root",
	"/usr/share/doc/quantum-safe-proxy/examples/client-mode.json":             "-rw-r--r-- root/root",
	"/usr/share/doc/quantum-safe-proxy/examples/zero-trust-mtls.json":         "-rw-r--r-- root/root",
	"/usr/share/doc/quantum-safe-proxy/examples/notify-reload.conf":           "-rw-r--r-- root/root",
}

func TestPackageDebContents(t *testing.T) {
	dist, version := pkgDist(t)
	for _, arch := range []string{"amd64", "arm64"} {
		deb := filepath.Join(dist, "quantum-safe-proxy_"+version+"-1_"+arch+".deb")
		listing := map[string]string{}
		for _, line := range strings.Split(run(t, "dpkg-deb", "-c", deb), "\n") {
			f := strings.Fields(line)
			if len(f) >= 6 {
				listing[strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")] = f[0] + " " + f[1]
			}
		}
		want := map[string]string{"/usr/share/doc/quantum-safe-proxy/changelog.Debian.gz": "-rw-r--r-- root/root"}
		for p, m := range wantFiles {
			want[p] = m
		}
		for p, m := range want {
			if listing[p] != m {
				t.Errorf("%s: %s is %q, want %q", arch, p, listing[p], m)
			}
		}
		if got := strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, "Architecture")); got != arch {
			t.Errorf("%s: Architecture %s", arch, got)
		}
		info := run(t, "dpkg-deb", "-I", deb)
		for _, s := range []string{"preinst", "postinst", "prerm", "postrm", "conffiles"} {
			if !strings.Contains(info, " "+s+" ") {
				t.Errorf("%s: control archive lacks %s:\n%s", arch, s, info)
			}
		}
		ctl := t.TempDir()
		run(t, "dpkg-deb", "-e", deb, ctl)
		if conf, _ := os.ReadFile(filepath.Join(ctl, "conffiles")); strings.TrimSpace(string(conf)) != "/etc/quantum-safe-proxy/config.json" {
			t.Errorf("%s: conffiles %q", arch, conf)
		}
		checkBinary(t, deb, arch, version)
	}
}

// checkBinary extracts the binary: it is a static ELF for arch and, on
// this machine's architecture, reports the stamped version.
func checkBinary(t *testing.T, deb, arch, version string) {
	dir := t.TempDir()
	run(t, "dpkg-deb", "-x", deb, dir)
	bin := filepath.Join(dir, "usr/bin/quantum-safe-proxy")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wantMachine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if f.Machine != wantMachine {
		t.Errorf("%s: ELF machine %v", arch, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s: binary is dynamically linked", arch)
		}
	}
	if arch == "amd64" {
		if out := run(t, bin, "version"); !strings.HasPrefix(out, "quantum-safe-proxy "+version+" ") {
			t.Errorf("version: %q, want %s", out, version)
		}
	}
}

func TestPackageRPMContents(t *testing.T) {
	dist, version := pkgDist(t)
	for _, rpmArch := range []string{"x86_64", "aarch64"} {
		rpm := filepath.Join(dist, "quantum-safe-proxy-"+version+"-1."+rpmArch+".rpm")
		listing := map[string]string{}
		for _, line := range strings.Split(run(t, "rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILENAMES}\n]", rpm), "\n") {
			if f := strings.Fields(line); len(f) == 3 {
				listing[f[2]] = f[0] + " " + f[1]
			}
		}
		for p, m := range wantFiles {
			if listing[p] != m {
				t.Errorf("%s: %s is %q, want %q", rpmArch, p, listing[p], m)
			}
		}
		if conf := strings.TrimSpace(run(t, "rpm", "-qp", "--configfiles", rpm)); conf != "/etc/quantum-safe-proxy/config.json" {
			t.Errorf("%s: config files %q", rpmArch, conf)
		}
		scripts := run(t, "rpm", "-qp", "--scripts", rpm)
		for _, s := range []string{"preinstall scriptlet", "postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet", "systemd-sysusers",
			"try-restart quantum-safe-proxy.service 'quantum-safe-proxy@*.service'", "stop 'quantum-safe-proxy@*.socket'", "certs init --host",
			"sockets-before-upgrade"} {
			if !strings.Contains(scripts, s) {
				t.Errorf("%s: scriptlets lack %q", rpmArch, s)
			}
		}
		info := run(t, "rpm", "-qpi", rpm)
		for _, s := range []string{"Version     : " + version, "Architecture: " + rpmArch, "License     : MIT"} {
			if !strings.Contains(info, s) {
				t.Errorf("%s: rpm -qpi lacks %q:\n%s", rpmArch, s, info)
			}
		}
	}
}

// lintian reports nothing on the .debs (each remaining tag is overridden
// with its reason); rpmlint nothing beyond what packaging/rpmlint.toml
// explains.
func TestPackageLint(t *testing.T) {
	dist, version := pkgDist(t)
	for _, arch := range []string{"amd64", "arm64"} {
		out, err := exec.Command("lintian", "--fail-on", "error,warning", filepath.Join(dist, "quantum-safe-proxy_"+version+"-1_"+arch+".deb")).CombinedOutput()
		if err != nil {
			t.Errorf("lintian %s: %v\n%s", arch, err, out)
		}
	}
	rpms, _ := filepath.Glob(filepath.Join(dist, "*.rpm"))
	out, err := exec.Command("rpmlint", append([]string{"-c", "../packaging/rpmlint.toml"}, rpms...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 errors, 0 warnings") {
		t.Errorf("rpmlint: %v\n%s", err, out)
	}
}
