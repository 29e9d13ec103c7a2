//go:build !linux

package watch

import "errors"

// Without inotify the watcher does not start, and rotation needs a reload
// (SIGHUP); the stubs below are never called.

type event struct {
	wd   int
	mask uint32
	name string
}

func (e event) overflowed() bool { return false }
func (e event) selfGone() bool   { return false }

type inotify struct{}

const bufSize = 0

func newInotify() (*inotify, error) {
	return nil, errors.New("inotify: not available on this system")
}

func (in *inotify) add(dir string) (int, error)      { return 0, errors.ErrUnsupported }
func (in *inotify) addFile(path string) (int, error) { return 0, errors.ErrUnsupported }
func (in *inotify) remove(wd int)                    {}
func (in *inotify) read(buf []byte) ([]event, error) { return nil, errors.ErrUnsupported }
func (in *inotify) close() error                     { return nil }
