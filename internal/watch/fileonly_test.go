package watch

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// In a directory the service may search but not read (0711 root here;
// Debian's /etc/ssl/private is 0710 root:ssl-cert, with the service in
// ssl-cert), inotify cannot watch the directory, so the file is watched
// as itself: a write in place and a rename over it are both seen, again
// and again on each new inode, with one line saying so. The test binary
// runs the watcher as nobody (65534) and reports each change on stdout.
func TestUnreadableDirectory(t *testing.T) {
	if file := os.Getenv("QSP_TEST_WATCH"); file != "" {
		opts := testOpts
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
		w, err := Start([]string{file}, opts)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("ready")
		for got := range w.Changes() {
			fmt.Println(strings.Join(got, " "))
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the watcher as another user")
	}
	top := t.TempDir()
	for _, d := range []string{top, filepath.Dir(top)} {
		os.Chmod(d, 0o755)
	}
	bin := filepath.Join(top, "watch.test")
	self, _ := os.Executable()
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, data, 0o755)
	dir := filepath.Join(top, "private")
	os.Mkdir(dir, 0o711)
	os.Chmod(dir, 0o711)
	key := filepath.Join(dir, "a.key")
	write(t, key, "1")

	cmd := exec.Command(bin, "-test.run=^TestUnreadableDirectory$")
	cmd.Env = []string{"QSP_TEST_WATCH=" + key}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var logs strings.Builder
	cmd.Stderr = &logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := make(chan string)
	go func() {
		for s := bufio.NewScanner(out); s.Scan(); {
			lines <- s.Text()
		}
		close(lines)
	}()
	next := func(what, want string) {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok || l != want {
				t.Fatalf("%s: got %q (open %v), want %q; log:\n%s", what, l, ok, want, logs.String())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no change reported; log:\n%s", what, logs.String())
		}
	}
	next("start", "ready")
	for i := range 2 {
		write(t, key, fmt.Sprint("in place ", i))
		next("write in place", key)
		write(t, key+".tmp", fmt.Sprint("renamed ", i))
		if err := os.Rename(key+".tmp", key); err != nil {
			t.Fatal(err)
		}
		next("rename into place", key)
		if err := os.Chmod(key, 0o640); err != nil {
			t.Fatal(err)
		}
		os.Chmod(key, 0o644)
		next("chmod", key)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "level=INFO msg=\"watching these files for rotation through each file only, since the service may search "+dir+" but not read it") {
		t.Errorf("want one line saying the file is watched without its directory, got:\n%s", logs.String())
	}
}
