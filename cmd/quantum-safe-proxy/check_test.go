package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
)

// testPKI writes a development PKI into a directory anyone may search, as
// certs init writes it: keys 0600 root.
func testPKI(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		os.Chmod(d, 0o755)
	}
	if _, err := certs.WriteDevPKI(dir, false); err != nil {
		t.Fatal(err)
	}
	return dir
}

// check --as service names every file the packaged service could not
// read; here each is in /tmp, which the unit's PrivateTmp= replaces.
func TestCheckAsService(t *testing.T) {
	dir := testPKI(t)
	crt, key := filepath.Join(dir, "server-mldsa.crt"), filepath.Join(dir, "server-mldsa.key")
	if !strings.HasPrefix(dir, "/tmp/") {
		t.Skipf("TMPDIR is not under /tmp (%s), which the unit hides", dir)
	}
	out, stderr, code := runCmd(t, "check", "--as", "service", "--cert", crt, "--key", key)
	var lines []string
	for _, l := range strings.SplitAfter(stderr, "\n") {
		if !strings.HasPrefix(l, "quantum-safe-proxy: error: group quantum-safe-proxy-keys does not exist") {
			lines = append(lines, l) // present or not as this host has the group
		}
	}
	why := ": the service has a /tmp and /var/tmp of its own (PrivateTmp=yes), without this file; keep the files it reads under /etc/quantum-safe-proxy\n"
	want := "quantum-safe-proxy: error: " + crt + why + "quantum-safe-proxy: error: " + key + why
	if code != 78 || strings.Join(lines, "") != want || out != "" {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, stderr, want)
	}

	// --as self, the default outside /etc/quantum-safe-proxy, reads them.
	out, stderr, code = runCmd(t, "check", "--cert", crt, "--key", key)
	if code != 0 || stderr != "" {
		t.Errorf("check --as self: exit %d, stderr %q", code, stderr)
	}
	if os.Geteuid() == 0 && !strings.Contains(out, "\nfiles: read as root, who can read every file; `check --as service` checks them as the packaged service would read them\n") {
		t.Errorf("check as root does not say the files were read as root:\n%s", out)
	}
	_, stderr, code = runCmd(t, "check", "--as", "root", "--cert", crt, "--key", key)
	if want := "quantum-safe-proxy: error: check: --as \"root\" is not one of service, self\n"; code != 78 || stderr != want {
		t.Errorf("--as root: exit %d, stderr %q, want %q", code, stderr, want)
	}
}

// A key the process cannot read stops the start with what was in the way
// and the fix for the packaged service. The test binary runs the command
// as nobody (65534), since root reads every file.
func TestStartPermissionHint(t *testing.T) {
	if args := os.Getenv("QSP_TEST_RUN"); args != "" {
		var stderr bytes.Buffer
		err := run(context.Background(), strings.Split(args, "\n"), nil, os.Stdout, &stderr)
		code := exitCode(err, &stderr)
		os.Stdout.Write(stderr.Bytes())
		os.Exit(code)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the command as another user")
	}
	dir := testPKI(t)
	bin := filepath.Join(dir, "qsp.test")
	self, _ := os.Executable()
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, data, 0o755)
	key, cfg := dir+"/server-mldsa.key", dir+"/config.json"
	os.WriteFile(cfg, []byte(`{"cert_path": "`+dir+`/server-ecdsa.crt", "key_path": "`+dir+`/server-ecdsa.key"}`), 0o600)
	fix := "; fix, for the packaged service (group quantum-safe-proxy-keys): "
	for _, tc := range []struct{ args, want string }{
		{"--listen\n127.0.0.1:0\n--cert\n" + dir + "/server-mldsa.crt\n--key\n" + key,
			key + ": permission denied: this process (uid 65534, groups 65534) cannot read this key (mode 0600, owner root)" + fix + "chgrp quantum-safe-proxy-keys " + key + " && chmod 0640 " + key},
		{"--listen\n127.0.0.1:0\n--config-file\n" + cfg,
			cfg + ": permission denied: this process (uid 65534, groups 65534) cannot read this config file (mode 0600, owner root)" + fix + "chmod 0644 " + cfg},
	} {
		cmd := exec.Command(bin, "-test.run=^TestStartPermissionHint$")
		cmd.Env = []string{"QSP_TEST_RUN=" + tc.args}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ := cmd.Output()
		want := "quantum-safe-proxy: error: " + tc.want + "\n"
		if code := cmd.ProcessState.ExitCode(); code != 78 || string(out) != want {
			t.Errorf("exit %d, output:\n%s\nwant:\n%s", code, out, want)
		}
	}
}

// A directory the service may search but not read still lets it read the
// files, so check --as service passes it, with a note: the proxy watches
// the files there one by one. The files are made in /run, which the unit
// neither hides nor replaces.
func TestCheckAsServiceNote(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to write in /run")
	}
	dir, err := os.MkdirTemp("/run", "qsp-check-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if _, err := certs.WriteDevPKI(dir, false); err != nil {
		t.Fatal(err)
	}
	crt, key := filepath.Join(dir, "server-mldsa.crt"), filepath.Join(dir, "server-mldsa.key")
	// Readable whether or not this host has the service's group.
	os.Chmod(key, 0o644)
	os.Chmod(dir, 0o711)
	out, stderr, code := runCmd(t, "check", "--as", "service", "--cert", crt, "--key", key)
	note := "note: " + dir + ": the service may search this directory but not read it (0711 root:root; the service is a dynamic user in group quantum-safe-proxy-keys), so it watches " + crt +
		" for rotation through the file only: a write in place or a rename over it is seen, a file deleted and made again later is not; fix: chgrp quantum-safe-proxy-keys " + dir + " && chmod g+rx " + dir + "\n"
	if strings.Count(out, "note: ") != 1 || !strings.Contains(out, note) {
		t.Errorf("stdout does not hold the one note:\n%s\nwant:\n%s", out, note)
	}
	// Only the host's want of the group, if it has none, is an error.
	if stderr == "" && (code != 0 || !strings.Contains(out, "files: the service (a dynamic user in group quantum-safe-proxy-keys) can read all 2\n")) {
		t.Errorf("exit %d, stdout:\n%s", code, out)
	}
	if stderr != "" && (strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "quantum-safe-proxy: error: group quantum-safe-proxy-keys does not exist")) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// check --quiet, which the units' ExecReload runs before it signals the
// proxy, exits 0 and prints nothing when the configuration loads, even
// with warnings (the proxy logs those itself on reload), and exits 78
// with the problems on stderr for everything a reload would refuse.
func TestCheckQuiet(t *testing.T) {
	dir := testPKI(t)
	pq, ec := filepath.Join(dir, "server-mldsa"), filepath.Join(dir, "server-ecdsa")
	write := func(name, content string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pair := func(crt, key string) string {
		return `{"cert_path": "` + crt + `.crt", "key_path": "` + key + `.key"}`
	}
	ok := write("ok.json", `{"target": "127.0.0.1:6000", "certificates": [`+pair(pq, pq)+`, `+pair(ec, ec)+`]}`)
	// Loud, the same file says more than a line, with a warning.
	if out, stderr, code := runCmd(t, "check", "--as", "self", "--config-file", ok); code != 0 || stderr != "" || !strings.Contains(out, "\nwarning: ") {
		t.Fatalf("check: exit %d, stderr %q, stdout:\n%s", code, stderr, out)
	}
	for _, tc := range []struct {
		name, file, err string
		code            int
	}{
		{"loads, with a warning", ok, "", 0},
		{"bad JSON", write("bad.json", `{"target": "127.0.0.1:6000",`), "invalid JSON", 78},
		{"mismatched pair", write("mis.json", `{"target": "127.0.0.1:6000", "certificates": [`+pair(pq, ec)+`]}`), "does not match", 78},
		{"missing key", write("gone.json", `{"target": "127.0.0.1:6000", "certificates": [`+pair(pq, pq+"-gone")+`]}`), "no such file", 78},
	} {
		for _, q := range []string{"--quiet", "-q"} {
			out, stderr, code := runCmd(t, "check", q, "--as", "self", "--config-file", tc.file)
			if code != tc.code || out != "" || (tc.err == "") != (stderr == "") || !strings.Contains(stderr, tc.err) {
				t.Errorf("%s: check %s: exit %d, stdout %q, stderr %q; want exit %d and stderr with %q", tc.name, q, code, out, stderr, tc.code, tc.err)
			}
		}
	}
}

// ExecReload= runs check before each reload, and there systemd hides the
// credentials (LoadCredential=) that only the main process may read: check
// leaves those to the proxy, which reads the same bytes at every reload,
// and still checks every other file. Run as nobody, which cannot enter the
// credentials directory, as ExecReload= cannot.
func TestCheckLeavesCredentialsToTheProxy(t *testing.T) {
	if args := os.Getenv("QSP_TEST_CHECK"); args != "" {
		var out, stderr bytes.Buffer
		code := exitCode(runCheck(context.Background(), strings.Split(args, "\n"), os.Environ(), &out), &stderr)
		os.Stdout.Write(out.Bytes())
		os.Stdout.Write(stderr.Bytes())
		os.Exit(code)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the command as another user")
	}
	dir := testPKI(t)
	creds := t.TempDir()
	os.Chmod(creds, 0o700)
	for from, to := range map[string]string{"server-ecdsa.crt": "tls.crt", "server-ecdsa.key": "tls.key"} {
		data, _ := os.ReadFile(filepath.Join(dir, from))
		os.WriteFile(filepath.Join(creds, to), data, 0o600)
	}
	self, _ := os.Executable()
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "qsp.test")
	os.WriteFile(bin, data, 0o755)
	credPair := `{"cert_path": "${CREDENTIALS_DIRECTORY}/tls.crt", "key_path": "${CREDENTIALS_DIRECTORY}/tls.key"}`
	for _, tc := range []struct {
		name, certificates, want string
		code                     int
	}{
		{"credentials only", credPair, "", 0},
		{"and a missing key elsewhere", credPair + `, {"cert_path": "` + dir + `/server-mldsa.crt", "key_path": "` + dir + `/gone.key"}`, "no such file", 78},
	} {
		cfg := filepath.Join(dir, "config.json")
		os.WriteFile(cfg, []byte(`{"target": "127.0.0.1:6000", "certificates": [`+tc.certificates+`]}`), 0o644)
		cmd := exec.Command(bin, "-test.run=^TestCheckLeavesCredentialsToTheProxy$")
		cmd.Env = []string{"QSP_TEST_CHECK=--quiet\n--as\nself\n--config-file\n" + cfg, "CREDENTIALS_DIRECTORY=" + creds}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ := cmd.Output()
		code := cmd.ProcessState.ExitCode()
		if code != tc.code || (tc.want == "") != (len(out) == 0) || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: exit %d, output %q; want exit %d with %q", tc.name, code, out, tc.code, tc.want)
		}
	}
}
