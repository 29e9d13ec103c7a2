// Package watch tells the proxy when a file its configuration names has
// been rotated, so that it reloads with nothing to enable and nothing to
// signal. It watches, with inotify(7), the directories that hold each
// file and each symlink on the way to it (see [spots]), or, in a
// directory it may search but not read, the file itself (see
// [Watcher.watchEntries]), matches events by entry name, waits for a burst of changes to end, resolves every path
// again (a symlink may now point elsewhere) and says which files changed.
// It only reports: the reload, and the refusal of a half-written or
// mismatched pair, are the caller's.
package watch

import (
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Quiet and Max are the default burst bounds. certbot replaces its four
// links, the kubelet renames one ..data link, and cp or mv write a PEM
// file within milliseconds; 500 ms of quiet covers a script that copies
// a certificate and then its key. A writer that never pauses still
// triggers a reload 3 s after its first change, so a rotation is served
// within a few seconds whatever else happens in the directory.
const (
	Quiet = 500 * time.Millisecond
	Max   = 3 * time.Second
)

// Options configure a [Watcher].
type Options struct {
	// Logger receives the warning when a file cannot be watched. If nil,
	// warnings are dropped.
	Logger *slog.Logger
	// Quiet is how long after the last change a burst ends. Zero means [Quiet].
	Quiet time.Duration
	// Max is how long after its first change a burst ends at the latest.
	// Zero means [Max].
	Max time.Duration
}

// Watcher watches a set of files. Its methods may be called on a nil
// *Watcher, which watches nothing: so a caller need not special-case a
// system without inotify.
type Watcher struct {
	opts    Options
	in      source          // nil: nothing is watched (tests of the loop)
	kick    chan struct{}   // the reader's "something changed", buffered 1
	changes chan []string   // bursts, to the caller
	done    chan struct{}   // closed by Close
	wg      sync.WaitGroup  // the reader and the loop
	mu      sync.Mutex      // guards what follows
	files   []string        // the configured files, absolute
	watched map[int]entries // what each watch descriptor is for
	pending map[string]bool // files changed in the burst so far
	warned  bool            // a warning was logged since the last complete arm
	// fileOnly are the directories whose files are watched one by one
	// and have been logged so (see watchEntries).
	fileOnly map[string]bool
	closed   bool
}

// source is an inotify instance ([inotify]); tests wrap it to make
// watches fail.
type source interface {
	add(dir string) (int, error)
	addFile(path string) (int, error)
	remove(wd int)
	read(buf []byte) ([]event, error)
	close() error
}

// entries maps a name in a watched directory to the configured files that
// change when that entry does.
type entries map[string][]string

// Start watches files (relative paths are taken from the working
// directory). It fails only when no inotify instance can be had
// (fs.inotify.max_user_instances, or no inotify at all); a file or
// directory that cannot be watched is logged as a warning and left out.
func Start(files []string, opts Options) (*Watcher, error) {
	in, err := newInotify()
	if err != nil {
		return nil, err
	}
	return start(in, files, opts), nil
}

func start(in source, files []string, opts Options) *Watcher {
	w := newWatcher(in, opts)
	w.Set(files)
	w.wg.Add(2)
	go w.readEvents()
	go w.loop()
	return w
}

func newWatcher(in source, opts Options) *Watcher {
	if opts.Quiet == 0 {
		opts.Quiet = Quiet
	}
	if opts.Max == 0 {
		opts.Max = Max
	}
	return &Watcher{opts: opts, in: in, kick: make(chan struct{}, 1), changes: make(chan []string),
		done: make(chan struct{}), watched: map[int]entries{}, pending: map[string]bool{},
		fileOnly: map[string]bool{}}
}

// Changes delivers, after each burst of changes, the configured files
// that changed (sorted). Every path was resolved and watched again before
// the delivery, so a change made while the caller reloads is a new burst.
func (w *Watcher) Changes() <-chan []string {
	if w == nil {
		return nil
	}
	return w.changes
}

// Set replaces the watched files: after a reload that names other files.
func (w *Watcher) Set(files []string) {
	if w == nil {
		return
	}
	abs := make([]string, 0, len(files))
	for _, f := range files {
		if a, err := filepath.Abs(f); err == nil {
			abs = append(abs, a)
		}
	}
	slices.Sort(abs)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.files = slices.Compact(abs)
	w.arm()
}

// Close stops watching and releases the inotify descriptor and both
// goroutines before it returns.
func (w *Watcher) Close() {
	if w == nil {
		return
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	close(w.done)
	if w.in != nil {
		w.in.close() // wakes readEvents
	}
	w.wg.Wait()
}

// arm resolves every file again and makes the watches match: it adds a
// watch for each directory now needed and removes those no longer
// needed. w.mu is held, so readEvents filters the events of a directory
// by the entries of this arm, never of the one before.
func (w *Watcher) arm() {
	if w.in == nil || w.closed {
		return
	}
	want := map[string]entries{}
	for _, f := range w.files {
		for _, s := range spots(f) {
			if want[s.dir] == nil {
				want[s.dir] = entries{}
			}
			want[s.dir][s.name] = append(want[s.dir][s.name], f)
		}
	}
	watched := map[int]entries{}
	var failed []error
	for dir, names := range want {
		wd, err := w.in.add(dir)
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			// inotify_add_watch(2) needs read permission on what it
			// watches; a directory the service may search but not read
			// (Debian's /etc/ssl/private, 0710 root:ssl-cert) lets it
			// read the files but not watch them there.
			failed = append(failed, w.watchEntries(dir, names, watched)...)
			continue
		}
		if err != nil {
			failed = append(failed, err)
			w.warn(dir, names, err)
			continue
		}
		// Two paths to one directory share a descriptor.
		if watched[wd] == nil {
			watched[wd] = entries{}
		}
		for name, files := range names {
			watched[wd][name] = append(watched[wd][name], files...)
		}
	}
	for wd := range w.watched {
		if _, ok := watched[wd]; !ok {
			w.in.remove(wd)
		}
	}
	w.watched = watched
	if failed == nil {
		w.warned = false
	}
}

// watchEntries watches each entry of dir itself, for a directory that
// cannot be watched, and returns the errors of those that cannot be
// either. The inode of a file reports a write in place (IN_CLOSE_WRITE), a
// change of mode or owner (IN_ATTRIB), and its own end: renamed over,
// deleted or moved away, it loses a link (IN_ATTRIB) and is freed
// (IN_DELETE_SELF) or moves (IN_MOVE_SELF). The burst that follows re-arms
// on whatever inode the path then names. A symbolic link is watched as
// itself (IN_DONT_FOLLOW): certbot's and the kubelet's swaps replace the
// link. What the inode cannot report is a file made where none was, so a
// file deleted and made again after the burst ended goes unseen.
func (w *Watcher) watchEntries(dir string, names entries, watched map[int]entries) []error {
	var failed []error
	for name, files := range names {
		wd, err := w.in.addFile(filepath.Join(dir, name))
		if err != nil {
			failed = append(failed, err)
			w.warn(dir, entries{name: files}, err)
			continue
		}
		if watched[wd] == nil {
			watched[wd] = entries{}
		}
		// A file's own events carry no name.
		watched[wd][""] = append(watched[wd][""], files...)
		w.noteFileOnly(dir, files)
	}
	return failed
}

// noteFileOnly logs, once for each directory while the watcher lives,
// that files in dir are watched through the file only, and what that
// misses.
func (w *Watcher) noteFileOnly(dir string, files []string) {
	if w.fileOnly[dir] || w.opts.Logger == nil {
		return
	}
	w.fileOnly[dir] = true
	w.opts.Logger.Info("watching these files for rotation through each file only, since the service may search "+dir+
		" but not read it (inotify needs read permission): a file written in place or renamed over is seen; one deleted and made again later needs systemctl reload (SIGHUP); to watch the directory let the service read it (quantum-safe-proxy check --as service names the command)",
		"files", files)
}

// warn logs, once until every file is watched again, that rotation of
// some files needs a reload by hand.
func (w *Watcher) warn(dir string, names entries, err error) {
	if w.warned || w.opts.Logger == nil {
		return
	}
	w.warned = true
	var files []string
	for _, f := range names {
		files = append(files, f...)
	}
	hint := ""
	if errors.Is(err, syscall.ENOSPC) {
		hint = "; the inotify watch limit is reached: raise fs.inotify.max_user_watches (sysctl(8))"
	}
	w.opts.Logger.Warn("not watching "+dir+" for rotation"+hint+"; changes to these files need systemctl reload (SIGHUP)",
		"files", files, "error", err.Error())
}
