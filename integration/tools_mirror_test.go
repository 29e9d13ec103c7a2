package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestToolsMirror checks how tools/systemd-box and tools/openssl35 find the
// Debian mirror in apt's sources (QSP_APT_ETC points them at samples): a
// one-line source, a deb822 source whose URI is a mirror+file: list, as on
// Debian's cloud images, and no source at all.
func TestToolsMirror(t *testing.T) {
	dir := t.TempDir()
	write := func(path, text string) {
		t.Helper()
		path = filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("classic/sources.list", "deb [arch=amd64] http://ftp.de.debian.org/debian bookworm main\n")
	write("cloud/sources.list.d/debian.sources", `Types: deb deb-src
URIs: mirror+file://`+dir+`/cloud/mirrors/debian.list
Suites: bookworm bookworm-updates bookworm-backports
Components: main

Types: deb
URIs: mirror+file://`+dir+`/cloud/mirrors/debian-security.list
Suites: bookworm-security
Components: main
`)
	write("cloud/mirrors/debian.list", "# the cloud's own first\nhttps://cdn-aws.deb.debian.org/debian\tpriority:1\nhttps://deb.debian.org/debian\n")
	write("cloud/mirrors/debian-security.list", "https://cdn-aws.deb.debian.org/debian-security\n")
	write("empty/sources.list", "# nothing\n")

	for _, tc := range []struct{ etc, want string }{
		{"classic", "http://ftp.de.debian.org/debian"},
		{"cloud", "https://cdn-aws.deb.debian.org/debian"},
		{"empty", "http://deb.debian.org/debian"},
	} {
		for _, tool := range [][]string{{"tools/systemd-box", "mirror"}, {"tools/openssl35", "--mirror"}} {
			cmd := exec.Command(tool[0], tool[1])
			cmd.Env = append(os.Environ(), "QSP_APT_ETC="+filepath.Join(dir, tc.etc), "QSP_BOX_MIRROR=")
			out, err := cmd.CombinedOutput()
			if got := strings.TrimSpace(string(out)); err != nil || got != tc.want {
				t.Errorf("QSP_APT_ETC=%s %s: %q (%v), want %q", tc.etc, strings.Join(tool, " "), got, err, tc.want)
			}
		}
	}
}
