package access

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// Gids no group on the test host is likely to have: the service's group,
// and a third group such as ssl-cert.
const (
	testGID  = 4242
	thirdGID = 4243
	// systemGID is a system group (below 1000), as ssl-cert is, that
	// no test host is likely to name.
	systemGID = 977
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the files are given other owners and groups with chown")
	}
}

// file makes path with mode, owner root and group gid; a directory if the
// name ends in /.
func file(t *testing.T, path string, mode os.FileMode, gid int) {
	t.Helper()
	var err error
	if strings.HasSuffix(path, "/") {
		err = os.Mkdir(path, mode)
	} else {
		err = os.WriteFile(path, []byte("x"), mode)
	}
	if err == nil {
		err = os.Chmod(path, mode) // past the umask
	}
	if err == nil {
		err = os.Chown(path, 0, gid)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// openTempDir is a t.TempDir that anyone may search: its parent, which
// the testing package makes 0700, too.
func openTempDir(t *testing.T) string {
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// setACL writes an access ACL as setfacl would, in the xattr format
// readACL parses: user::rw-, group::---, group:GID:perm, mask, other::---.
func setACL(t *testing.T, path string, gid, perm, mask uint32) {
	t.Helper()
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range []aclEntry{{aclUserObj, 6, 0xffffffff}, {aclGroupObj, 0, 0xffffffff}, {aclGroup, perm, gid}, {aclMask, mask, 0xffffffff}, {aclOther, 0, 0xffffffff}} {
		b = binary.LittleEndian.AppendUint16(b, uint16(e.tag))
		b = binary.LittleEndian.AppendUint16(b, uint16(e.perm))
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	if err := syscall.Setxattr(path, "system.posix_acl_access", b, 0); err != nil {
		t.Skipf("this file system takes no POSIX ACL: %v", err)
	}
}

// Each case starts from a key the service can read (0640 root:GROUP in a
// 0755 directory) and changes one thing; the messages are exact.
func TestCheck(t *testing.T) {
	needRoot(t)
	id := &Identity{GID: testGID}
	const who = "the service is a dynamic user in group quantum-safe-proxy-keys"
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) // makes dir/d/f
		kind  Kind
		want  []string // D is dir/d, F is dir/d/f
	}{
		{"packaged key", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o755, 0)
			file(t, dir+"/d/f", 0o640, testGID)
		}, Key, nil},
		{"key as openssl writes it", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o755, 0)
			file(t, dir+"/d/f", 0o600, 0)
		}, Key, []string{"F: the service cannot read this key (0600 root:root; " + who + "); fix: chgrp quantum-safe-proxy-keys F && chmod 0640 F"}},
		{"key in the group, 0600", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o755, 0)
			file(t, dir+"/d/f", 0o600, testGID)
		}, Key, []string{"F: the service cannot read this key (0600 root:4242; " + who + "); fix: chmod 0640 F"}},
		{"group bits deny though other allows", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o755, 0)
			file(t, dir+"/d/f", 0o604, testGID)
		}, Certificate, []string{"F: the service cannot read this certificate (0604 root:4242; " + who + "); fix: chmod 0644 F"}},
		{"certificate readable by all", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o755, 0)
			file(t, dir+"/d/f", 0o644, 0)
		}, Certificate, nil},
		{"certificate 0600", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o755, 0)
			file(t, dir+"/d/f", 0o600, 0)
		}, Certificate, []string{"F: the service cannot read this certificate (0600 root:root; " + who + "); fix: chmod 0644 F"}},
		{"root's directory", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o700, 0)
			file(t, dir+"/d/f", 0o640, testGID)
		}, Key, []string{"D: the service cannot reach F through this directory (0700 root:root; " + who + "); fix: chgrp quantum-safe-proxy-keys D && chmod g+x D"}},
		{"the group's directory", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o700, testGID)
			file(t, dir+"/d/f", 0o640, testGID)
		}, Key, []string{"D: the service cannot reach F through this directory (0700 root:4242; " + who + "); fix: chmod g+x D"}},
		{"a third group's directory", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o710, thirdGID)
			file(t, dir+"/d/f", 0o640, testGID)
		}, Key, []string{"D: the service cannot reach F through this directory (0710 root:4243; " + who + "); fix: chmod o+x D"}},
		{"a system group's directory and key", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o710, systemGID)
			file(t, dir+"/d/f", 0o640, systemGID)
		}, Key, []string{
			"D: the service cannot reach F through this directory (0710 root:" + groupName(systemGID) + "; " + who + "); fix: chmod o+x D; or, to keep its group, give the service that group too: systemctl edit quantum-safe-proxy, and under [Service] add SupplementaryGroups=" + groupName(systemGID),
			"F: the service cannot read this key (0640 root:" + groupName(systemGID) + "; " + who + "); fix: chgrp quantum-safe-proxy-keys F && chmod 0640 F; or, to keep its group, give the service that group too: systemctl edit quantum-safe-proxy, and under [Service] add SupplementaryGroups=" + groupName(systemGID)}},
		{"directory and key", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o700, 0)
			file(t, dir+"/d/f", 0o600, 0)
		}, Key, []string{
			"D: the service cannot reach F through this directory (0700 root:root; " + who + "); fix: chgrp quantum-safe-proxy-keys D && chmod g+x D",
			"F: the service cannot read this key (0600 root:root; " + who + "); fix: chgrp quantum-safe-proxy-keys F && chmod 0640 F"}},
		// The service reads these keys, but cannot watch their
		// directory (inotify needs read permission): a note.
		{"root's directory, search only", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o711, 0)
			file(t, dir+"/d/f", 0o640, testGID)
		}, Key, []string{"D: the service may search this directory but not read it (0711 root:root; " + who + "), so it watches F for rotation through the file only: a write in place or a rename over it is seen, a file deleted and made again later is not; fix: chgrp quantum-safe-proxy-keys D && chmod g+rx D"}},
		{"the group's directory, search only", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o710, testGID)
			file(t, dir+"/d/f", 0o640, testGID)
		}, Key, []string{"D: the service may search this directory but not read it (0710 root:4242; " + who + "), so it watches F for rotation through the file only: a write in place or a rename over it is seen, a file deleted and made again later is not; fix: chmod g+r D"}},
		{"a system group's directory, search only", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o711, systemGID)
			file(t, dir+"/d/f", 0o644, systemGID)
		}, Certificate, []string{"D: the service may search this directory but not read it (0711 root:" + groupName(systemGID) + "; " + who + "), so it watches F for rotation through the file only: a write in place or a rename over it is seen, a file deleted and made again later is not; fix: chmod o+r D, which lets every user list it; or, to keep it to its group, give the service that group too (systemctl edit quantum-safe-proxy, and under [Service] add SupplementaryGroups=" + groupName(systemGID) + ") and chmod g+rx D"}},
		{"link into a directory searched only", func(t *testing.T, dir string) {
			file(t, dir+"/archive/", 0o711, 0)
			file(t, dir+"/archive/f1", 0o640, testGID)
			file(t, dir+"/d/", 0o755, 0)
			if err := os.Symlink("../archive/f1", dir+"/d/f"); err != nil {
				t.Fatal(err)
			}
		}, Key, []string{"A: the service may search this directory but not read it (0711 root:root; " + who + "), so it watches F for rotation through the file only: a write in place or a rename over it is seen, a file deleted and made again later is not; fix: chgrp quantum-safe-proxy-keys A && chmod g+rx A"}},
		{"ACL grants the group", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o755, 0)
			file(t, dir+"/d/f", 0o600, 0)
			setACL(t, dir+"/d/f", testGID, 4, 4)
		}, Key, nil},
		{"ACL's mask takes it away", func(t *testing.T, dir string) {
			file(t, dir+"/d/", 0o755, 0)
			file(t, dir+"/d/f", 0o600, 0)
			setACL(t, dir+"/d/f", testGID, 4, 0)
		}, Key, []string{"F: the service cannot read this key (0600 root:root with an ACL; " + who + "); fix: setfacl -m g:quantum-safe-proxy-keys:r F"}},
		{"link into a closed directory", func(t *testing.T, dir string) {
			// As certbot's live/NAME/privkey.pem -> ../../archive/NAME/privkey1.pem.
			file(t, dir+"/archive/", 0o700, 0)
			file(t, dir+"/archive/f1", 0o640, testGID)
			file(t, dir+"/d/", 0o755, 0)
			if err := os.Symlink("../archive/f1", dir+"/d/f"); err != nil {
				t.Fatal(err)
			}
		}, Key, []string{"A: the service cannot reach F through this directory (0700 root:root; " + who + "); fix: chgrp quantum-safe-proxy-keys A && chmod g+x A"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := openTempDir(t)
			tc.setup(t, dir)
			found, err := id.Check(dir+"/d/f", tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			r := strings.NewReplacer(dir+"/d/f", "F", dir+"/d", "D", dir+"/archive", "A")
			for _, p := range found {
				got = append(got, r.Replace(p.Error()))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// A place the packaged unit hides is named whatever its modes.
func TestCheckHidden(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/k", []byte("x"), 0o644)
	id := &Identity{GID: testGID, Hidden: []Hidden{{filepath.Dir(dir), "hidden (Test=yes)"}}}
	found, err := id.Check(dir+"/k", Key)
	if err != nil || len(found) != 1 || found[0].Error() != dir+"/k: hidden (Test=yes)" {
		t.Errorf("got %v, %v", found, err)
	}
}

// Explain, in a process that is not root, names what the kernel refused
// it and the fix. The test binary runs itself as nobody (65534).
func TestExplain(t *testing.T) {
	if path := os.Getenv("QSP_TEST_EXPLAIN"); path != "" {
		serviceGID = func() int { return testGID }
		_, err := os.ReadFile(path)
		os.Stdout.WriteString(Explain(path, Key, err).Error())
		os.Exit(0)
	}
	needRoot(t)
	dir := openTempDir(t)
	bin := filepath.Join(dir, "access.test")
	self, _ := os.Executable()
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, data, 0o755)
	file(t, dir+"/d/", 0o755, 0)
	file(t, dir+"/d/k", 0o600, 0)
	file(t, dir+"/closed/", 0o700, 0)
	file(t, dir+"/closed/k", 0o640, testGID)
	file(t, dir+"/group/", 0o700, testGID)
	file(t, dir+"/group/k", 0o640, testGID)
	// Under PrivateUsers= every group the namespace does not map, the
	// service's and ssl-cert alike, shows as 65534.
	file(t, dir+"/unmapped/", 0o700, overflowID)
	file(t, dir+"/unmapped/k", 0o640, testGID)
	file(t, dir+"/d/unmapped.key", 0o600, overflowID)
	unknown := "its group shows here as 65534, as every group PrivateUsers= leaves unmapped does, so run `quantum-safe-proxy check --as service` as root for the exact fix; do not chgrp it, which would take it from that group"
	for _, tc := range []struct{ path, want string }{
		{dir + "/d/k", "D/k: permission denied: this process (uid 65534, groups 65534) cannot read this key (mode 0600, owner root); fix, for the packaged service (group quantum-safe-proxy-keys): chgrp quantum-safe-proxy-keys D/k && chmod 0640 D/k"},
		{dir + "/closed/k", "C/k: permission denied: this process (uid 65534, groups 65534) cannot pass through C (mode 0700, owner root); fix, for the packaged service (group quantum-safe-proxy-keys): chgrp quantum-safe-proxy-keys C && chmod g+x C"},
		{dir + "/group/k", "G/k: permission denied: this process (uid 65534, groups 65534) cannot pass through G (mode 0700, owner root); fix, for the packaged service (group quantum-safe-proxy-keys): chmod g+x G"},
		{dir + "/unmapped/k", "U/k: permission denied: this process (uid 65534, groups 65534) cannot pass through U (mode 0700, owner root); fix, for the packaged service (group quantum-safe-proxy-keys): " + unknown},
		{dir + "/d/unmapped.key", "D/unmapped.key: permission denied: this process (uid 65534, groups 65534) cannot read this key (mode 0600, owner root); fix, for the packaged service (group quantum-safe-proxy-keys): " + unknown},
		{dir + "/d/none", "open D/none: no such file or directory"},
	} {
		cmd := exec.Command(bin, "-test.run=^TestExplain$")
		cmd.Env = []string{"QSP_TEST_EXPLAIN=" + tc.path}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		got := strings.NewReplacer(dir+"/d", "D", dir+"/closed", "C", dir+"/group", "G", dir+"/unmapped", "U").Replace(string(out))
		if got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

// What this package assumes of the service is what the packaged units
// say: a change to either shows here.
func TestUnitsMatch(t *testing.T) {
	for _, unit := range []string{"quantum-safe-proxy.service", "quantum-safe-proxy@.service"} {
		data, err := os.ReadFile(filepath.Join("../../systemd", unit))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for _, want := range []string{"DynamicUser=yes", "SupplementaryGroups=" + Group, "CapabilityBoundingSet=",
			"ProtectHome=yes", "PrivateTmp=yes", "InaccessiblePaths=-/etc/quantum-safe-proxy/ca"} {
			if !slices.Contains(lines, want) {
				t.Errorf("%s has no line %q, which package access assumes", unit, want)
			}
		}
	}
	var paths []string
	for _, h := range UnitHidden {
		paths = append(paths, h.Path)
	}
	// ProtectHome=yes (systemd.exec(5)), PrivateTmp=yes, InaccessiblePaths=.
	if want := []string{"/home", "/root", "/run/user", "/tmp", "/var/tmp", "/etc/quantum-safe-proxy/ca"}; !slices.Equal(paths, want) {
		t.Errorf("UnitHidden %v, want %v", paths, want)
	}
}
