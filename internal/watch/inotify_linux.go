package watch

import (
	"bytes"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dirMask is what a watched directory reports (inotify(7)): a file
// closed after writing (in-place writes), entries created, renamed in or
// out and deleted (atomic renames, symlink swaps, delete and recreate),
// mode or owner changed (an operator fixing a key's permissions), and
// the directory itself deleted or moved (then everything is resolved
// again). IN_MODIFY is left out: it fires for every write(2) of a file
// still being written, and IN_CLOSE_WRITE follows once it is whole.
const dirMask = unix.IN_CLOSE_WRITE | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM |
	unix.IN_DELETE | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// fileMask is what a file (or symbolic link) watched as itself reports,
// when its directory cannot be watched: written in place, mode or owner
// changed or a link lost (IN_ATTRIB: renamed over or deleted), freed
// (IN_DELETE_SELF) or moved away (IN_MOVE_SELF). IN_DONT_FOLLOW watches a
// symbolic link, not its target, which has its own entry.
const fileMask = unix.IN_CLOSE_WRITE | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_DONT_FOLLOW

// event is one inotify event: the watch it came from, what happened, and
// the name of the entry, if any.
type event struct {
	wd   int
	mask uint32
	name string
}

// overflowed reports the kernel's queue overflowed and events were lost.
func (e event) overflowed() bool { return e.mask&unix.IN_Q_OVERFLOW != 0 }

// selfGone reports the watched directory itself was deleted or moved.
func (e event) selfGone() bool { return e.mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 }

// inotify is one inotify instance. The descriptor is non-blocking and
// handed to the runtime's poller through [os.NewFile], so Read waits
// without a thread and Close wakes it.
type inotify struct {
	fd   int
	file *os.File
}

func newInotify() (*inotify, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	return &inotify{fd: fd, file: os.NewFile(uintptr(fd), "inotify")}, nil
}

// add watches dir and returns its watch descriptor; watching a directory
// already watched (by this or another path) returns the same descriptor.
func (in *inotify) add(dir string) (int, error) {
	wd, err := unix.InotifyAddWatch(in.fd, dir, dirMask)
	if err != nil {
		return 0, os.NewSyscallError("inotify_add_watch", err)
	}
	return wd, nil
}

// addFile watches the file (or symbolic link) path itself.
func (in *inotify) addFile(path string) (int, error) {
	wd, err := unix.InotifyAddWatch(in.fd, path, fileMask)
	if err != nil {
		return 0, os.NewSyscallError("inotify_add_watch", err)
	}
	return wd, nil
}

// remove ends a watch; one the kernel already ended (its directory was
// deleted) returns EINVAL, which is ignored.
func (in *inotify) remove(wd int) { unix.InotifyRmWatch(in.fd, uint32(wd)) }

// read waits for events and returns them.
func (in *inotify) read(buf []byte) ([]event, error) {
	n, err := in.file.Read(buf)
	if err != nil {
		return nil, err
	}
	var out []event
	for off := 0; off+unix.SizeofInotifyEvent <= n; {
		raw := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		end := off + unix.SizeofInotifyEvent + int(raw.Len)
		if end > n {
			break
		}
		name := buf[off+unix.SizeofInotifyEvent : end]
		out = append(out, event{wd: int(raw.Wd), mask: raw.Mask, name: string(bytes.TrimRight(name, "\x00"))})
		off = end
	}
	return out, nil
}

// bufSize holds at least one event with the longest name (inotify(7):
// sizeof(struct inotify_event) + NAME_MAX + 1), and many short ones.
const bufSize = 64 * (unix.SizeofInotifyEvent + unix.NAME_MAX + 1)

func (in *inotify) close() error { return in.file.Close() }
