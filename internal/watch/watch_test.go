package watch

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Short bursts keep the tests fast; the defaults are checked in
// TestBurstDefaults.
var testOpts = Options{Quiet: 100 * time.Millisecond, Max: time.Second}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func watching(t *testing.T, files ...string) *Watcher {
	t.Helper()
	w, err := Start(files, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// expect waits for one burst naming want, then checks no second burst
// follows.
func expect(t *testing.T, w *Watcher, want ...string) {
	t.Helper()
	select {
	case got := <-w.Changes():
		if !slices.Equal(got, want) {
			t.Fatalf("changed files %q, want %q", got, want)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("no change reported, want %q", want)
	}
	expectNothing(t, w)
}

func expectNothing(t *testing.T, w *Watcher) {
	t.Helper()
	select {
	case got := <-w.Changes():
		t.Fatalf("unexpected change reported: %q", got)
	case <-time.After(3 * testOpts.Quiet):
	}
}

func TestWriteInPlace(t *testing.T) {
	dir := t.TempDir()
	crt, key, other := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key"), filepath.Join(dir, "other")
	write(t, crt, "1")
	write(t, key, "1")
	w := watching(t, crt, key)
	write(t, other, "x") // an unrelated file in the same directory
	expectNothing(t, w)
	write(t, crt, "2")
	expect(t, w, crt)
	write(t, key, "2")
	expect(t, w, key)
}

func TestRenameIntoPlace(t *testing.T) {
	dir := t.TempDir()
	crt := filepath.Join(dir, "a.crt")
	write(t, crt, "1")
	w := watching(t, crt)
	for i := range 2 { // the second rename lands on the new inode
		write(t, crt+".tmp", "new")
		if err := os.Rename(crt+".tmp", crt); err != nil {
			t.Fatal(err)
		}
		expect(t, w, crt)
		_ = i
	}
}

func TestDeleteAndRecreate(t *testing.T) {
	dir := t.TempDir()
	crt := filepath.Join(dir, "a.crt")
	write(t, crt, "1")
	w := watching(t, crt)
	os.Remove(crt)
	write(t, crt, "2")
	expect(t, w, crt)
	write(t, crt, "3") // still watched after the recreate
	expect(t, w, crt)
}

// A directory named in the path that is deleted and made again: the
// watch moves to its parent while it is missing, and back.
func TestDirectoryRecreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	crt := filepath.Join(dir, "a.crt")
	os.Mkdir(dir, 0o755)
	write(t, crt, "1")
	w := watching(t, crt)
	os.RemoveAll(dir)
	expect(t, w, crt)
	os.Mkdir(dir, 0o755)
	write(t, crt, "2")
	expect(t, w, crt)
	write(t, crt, "3")
	expect(t, w, crt)
}

// certbot keeps live/NAME/*.pem as symlinks into ../../archive/NAME/ and
// renews by writing cert2.pem there and replacing each link (unlink, then
// symlink: certbot's storage.py).
func TestCertbotSymlinkSwap(t *testing.T) {
	root := t.TempDir()
	live, archive := filepath.Join(root, "live", "example.com"), filepath.Join(root, "archive", "example.com")
	os.MkdirAll(live, 0o755)
	os.MkdirAll(archive, 0o700)
	files := []string{"cert", "privkey", "chain", "fullchain"}
	renew := func(n string) {
		for _, f := range files {
			write(t, filepath.Join(archive, f+n+".pem"), n)
		}
		for _, f := range files {
			link := filepath.Join(live, f+".pem")
			os.Remove(link)
			if err := os.Symlink("../../archive/example.com/"+f+n+".pem", link); err != nil {
				t.Fatal(err)
			}
		}
	}
	renew("1")
	fullchain, privkey := filepath.Join(live, "fullchain.pem"), filepath.Join(live, "privkey.pem")
	w := watching(t, fullchain, privkey)
	renew("2")
	expect(t, w, fullchain, privkey)
	// The old version no longer matters; the new one, reached through the
	// new links, does.
	write(t, filepath.Join(archive, "fullchain1.pem"), "old")
	expectNothing(t, w)
	write(t, filepath.Join(archive, "privkey2.pem"), "rewritten")
	expect(t, w, privkey)
}

// The kubelet projects a secret as tls.crt -> ..data/tls.crt with
// ..data -> ..TIMESTAMP, and updates it by writing a new ..TIMESTAMP
// directory, renaming a new ..data link over the old one and removing the
// old directory (kubernetes pkg/volume/util/atomic_writer.go).
func TestKubeletDataSwap(t *testing.T) {
	vol := t.TempDir()
	n := 0
	update := func(content string) {
		n++
		ts := filepath.Join(vol, "..2026_11_23_22_00_0"+string(rune('0'+n)))
		os.Mkdir(ts, 0o755)
		write(t, filepath.Join(ts, "tls.crt"), content)
		write(t, filepath.Join(ts, "tls.key"), content)
		old, _ := os.Readlink(filepath.Join(vol, "..data"))
		if err := os.Symlink(filepath.Base(ts), filepath.Join(vol, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(vol, "..data_tmp"), filepath.Join(vol, "..data")); err != nil {
			t.Fatal(err)
		}
		if old != "" {
			os.RemoveAll(filepath.Join(vol, old))
		}
	}
	update("1")
	crt, key := filepath.Join(vol, "tls.crt"), filepath.Join(vol, "tls.key")
	os.Symlink("..data/tls.crt", crt)
	os.Symlink("..data/tls.key", key)
	w := watching(t, crt, key)
	before := watches(t, w)
	for i := range 5 {
		update(string(rune('2' + i)))
		expect(t, w, crt, key)
	}
	if after := watches(t, w); after != before {
		t.Errorf("%d inotify watches after 5 updates, %d before: watches leak across re-arms", after, before)
	}
}

// watches counts the inotify watches the kernel holds for w (proc(5):
// one "inotify wd:" line per watch in fdinfo).
func watches(t *testing.T, w *Watcher) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(w.in.(*inotify).fd))
	if err != nil {
		t.Skip("no /proc fdinfo:", err)
	}
	return strings.Count(string(data), "inotify wd:")
}

// A burst of writes, each sooner than Quiet after the last, is one change.
func TestBurstIsOneChange(t *testing.T) {
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")
	write(t, crt, "1")
	write(t, key, "1")
	w := watching(t, crt, key)
	for range 10 {
		write(t, crt, "partial")
		write(t, key, "partial")
		select {
		case got := <-w.Changes():
			t.Fatalf("a change (%q) reported in the middle of a burst", got)
		case <-time.After(testOpts.Quiet / 5):
		}
	}
	expect(t, w, crt, key)
}

// Set moves the watches to other files, and Close leaves no goroutine,
// descriptor or watch behind.
func TestSetAndCloseLeakNothing(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.crt"), filepath.Join(t.TempDir(), "b.crt")
	write(t, a, "1")
	write(t, b, "1")
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	for range 5 {
		w, err := Start([]string{a}, testOpts)
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			w.Set([]string{b})
			w.Set([]string{a, b})
		}
		if n := watches(t, w); n != 2 {
			t.Errorf("%d watches for files in two directories", n)
		}
		w.Set([]string{b})
		if n := watches(t, w); n != 1 {
			t.Errorf("%d watches for one file", n)
		}
		write(t, a, "2")
		write(t, b, "2")
		expect(t, w, b)
		w.Close()
		w.Close() // twice is harmless
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after 5 watchers closed, %d before", n, goroutines)
	}
	if n := openFDs(t); n != fds {
		t.Errorf("%d descriptors open after 5 watchers closed, %d before", n, fds)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// A nil Watcher (no inotify) is usable and reports nothing.
func TestNilWatcher(t *testing.T) {
	var w *Watcher
	w.Set([]string{"/x"})
	if w.Changes() != nil {
		t.Error("a nil watcher has a Changes channel")
	}
	w.Close()
}

// A key's mode or group fixed after a reload failed for want of
// permission (chmod, chgrp) is a change: the next reload can read it.
func TestModeChange(t *testing.T) {
	key := filepath.Join(t.TempDir(), "a.key")
	write(t, key, "1")
	w := watching(t, key)
	if err := os.Chmod(key, 0o640); err != nil {
		t.Fatal(err)
	}
	expect(t, w, key)
}
