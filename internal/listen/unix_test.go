package listen

import (
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openUnix(t *testing.T, path string) *Set {
	t.Helper()
	t.Setenv("LISTEN_FDS", "")
	s, err := Open("unix:"+path, false)
	if err != nil {
		t.Fatalf("Open(unix:%s): %v", path, err)
	}
	return s
}

// A unix listener is a socket of mode 0660 at the path, whatever the
// umask, serves connections, and is gone once closed.
func TestUnixListener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sock")
	s := openUnix(t, path)
	if s.Serve[0].Name != "unix:"+path {
		t.Errorf("name %q", s.Serve[0].Name)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != UnixMode {
		t.Fatalf("%s: %v, mode %v; want a socket of mode %o", path, err, fi.Mode(), UnixMode)
	}
	if err := unixEcho(s.Serve[0].Listener); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries; the temporary name was left behind", len(entries))
	}
	s.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("after Close: %v; want the socket file removed", err)
	}
}

// A socket file left by a process that died is replaced; one a process
// listens on, and a file that is not a socket, are refused and kept.
func TestUnixListenerStaleAndTaken(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // as after SIGKILL: the file stays, nothing accepts
	s := openUnix(t, stale)
	if err := unixEcho(s.Serve[0].Listener); err != nil {
		t.Fatalf("after replacing a stale socket: %v", err)
	}

	// The path is now in use by s: a second Open must not take it.
	if _, err := Open("unix:"+stale, false); err == nil || !strings.Contains(err.Error(), "another process listens on this socket") {
		t.Errorf("second Open on a socket in use: %v", err)
	}
	// Its probe connected to s, which accepts it as any client.
	if probe, err := s.Serve[0].Accept(); err == nil {
		probe.Close()
	}
	if err := unixEcho(s.Serve[0].Listener); err != nil {
		t.Errorf("the first listener stopped serving: %v", err)
	}
	s.Close()

	plain := filepath.Join(dir, "file")
	os.WriteFile(plain, []byte("data"), 0o644)
	if _, err := Open("unix:"+plain, false); err == nil || !strings.Contains(err.Error(), "the path exists and is not a socket") {
		t.Errorf("Open on a regular file: %v", err)
	}
	if data, _ := os.ReadFile(plain); string(data) != "data" {
		t.Errorf("the regular file was touched: %q", data)
	}
}

// A listener closing after another process took its path (a restart
// that overlapped) leaves the new socket alone.
func TestUnixListenerCloseKeepsSuccessor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sock")
	s := openUnix(t, path)
	os.Remove(path)
	next := openUnix(t, path)
	defer next.Close()
	s.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("closing the old listener removed its successor's socket: %v", err)
	}
	if err := unixEcho(next.Serve[0].Listener); err != nil {
		t.Error(err)
	}
}

// A unix socket passed by systemd (ListenStream=/path) is served like a
// TCP one.
func TestPassedUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passed.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := fromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got.Addr().Network() != "unix" || got.Addr().String() != path {
		t.Errorf("address %s %s", got.Addr().Network(), got.Addr())
	}
	if err := unixEcho(got); err != nil {
		t.Error(err)
	}
}

// unixEcho connects to a unix listener, accepts, and checks that a byte
// crosses.
func unixEcho(ln net.Listener) error {
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		return err
	}
	defer s.Close()
	c.Write([]byte{42})
	b := make([]byte, 1)
	if _, err := io.ReadFull(s, b); err != nil || b[0] != 42 {
		return fmt.Errorf("read %v: %v", b, err)
	}
	return nil
}
