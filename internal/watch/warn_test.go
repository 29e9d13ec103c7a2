package watch

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// limited is inotify with fs.inotify.max_user_watches reached for one
// directory.
type limited struct {
	*inotify
	full string
	on   atomic.Bool
}

func (l *limited) add(dir string) (int, error) {
	if l.on.Load() && dir == l.full {
		return 0, os.NewSyscallError("inotify_add_watch", syscall.ENOSPC)
	}
	return l.inotify.add(dir)
}

// A directory that cannot be watched is one warning, naming the limit and
// the way out; the other files are still watched, and once the watch can
// be had again (at the next re-arm) the file is watched too.
func TestWatchLimitWarnsOnce(t *testing.T) {
	full, ok := t.TempDir(), t.TempDir()
	a, b := filepath.Join(full, "a.crt"), filepath.Join(ok, "b.crt")
	write(t, a, "1")
	write(t, b, "1")
	in, err := newInotify()
	if err != nil {
		t.Fatal(err)
	}
	src := &limited{inotify: in, full: full}
	src.on.Store(true)
	var logs bytes.Buffer
	opts := testOpts
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	w := start(src, []string{a, b}, opts)
	defer w.Close()
	w.Set([]string{a, b}) // a reload re-arms: no second warning
	write(t, b, "2")
	expect(t, w, b)
	write(t, a, "2")
	expectNothing(t, w)
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, logs.String())
	}
	for _, want := range []string{"not watching " + full + " for rotation", "raise fs.inotify.max_user_watches", "need systemctl reload (SIGHUP)", a, "no space left on device"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the warning does not say %q:\n%s", want, logs.String())
		}
	}
	src.on.Store(false)
	w.Set([]string{a, b})
	write(t, a, "3")
	expect(t, w, a)
}
