package reloadstate

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proxy is this test process standing in for the proxy: it owns the
// record and answers SIGHUP with reload, run on the signal's goroutine.
type proxy struct {
	t   *testing.T
	dir string
	pub *Publisher
}

func newProxy(t *testing.T) *proxy {
	dir := filepath.Join(t.TempDir(), "records")
	pub, err := Open(dir, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return &proxy{t: t, dir: dir, pub: pub}
}

// onSIGHUP runs the i-th of reloads at the i-th SIGHUP, on one
// goroutine, as the proxy's loop does, and ends with the test.
func (p *proxy) onSIGHUP(reloads ...func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP)
	done, exited := make(chan struct{}), make(chan struct{})
	p.t.Cleanup(func() { signal.Stop(sigs); close(done); <-exited })
	go func() {
		defer close(exited)
		for _, reload := range reloads {
			select {
			case <-sigs:
				reload()
			case <-done:
				return
			}
		}
	}()
}

func (p *proxy) must(err error) {
	if err != nil {
		p.t.Error(err)
	}
}

func (p *proxy) await(signal bool, timeout time.Duration) (Record, error) {
	return Await(context.Background(), Options{Dir: p.dir, PID: os.Getpid(), Signal: signal, Timeout: timeout})
}

// Signalled by the command (Type=notify): the outcome is that of the
// reload its SIGHUP started, not of one in progress when it ran, and a
// failure comes back with its reason.
func TestAwaitSignalled(t *testing.T) {
	p := newProxy(t)
	p.must(p.pub.Begin()) // reload 1 is in progress when the command runs
	p.onSIGHUP(func() {
		p.must(p.pub.Succeeded(nil)) // reload 1 ends
		time.Sleep(3 * poll)         // read by the command in between
		p.must(p.pub.Begin())
		p.must(p.pub.Failed("config.json: tagret: unknown key; the previous configuration serves on"))
	}, func() {
		p.must(p.pub.Begin())
		p.must(p.pub.Succeeded([]string{"max_connections changes only with a restart; the current value is kept"}))
	})
	r, err := p.await(true, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := Record{PID: os.Getpid(), Seq: 2, Phase: Failed, Reason: "config.json: tagret: unknown key; the previous configuration serves on"}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got %+v, want %+v", r, want)
	}
	if r, err := p.await(true, 5*time.Second); err != nil || r.Seq != 3 || r.Phase != OK || len(r.Warnings) != 1 {
		t.Errorf("the next reload: %+v, %v", r, err)
	}
}

// Signalled by systemd (Type=notify-reload): the reload may have ended
// before the command looks, and is the first after the last one reported.
func TestAwaitSignalledBySystemd(t *testing.T) {
	p := newProxy(t)
	// Done before the command runs.
	p.must(p.pub.Begin())
	p.must(p.pub.Failed("broken"))
	if r, err := p.await(false, 5*time.Second); err != nil || r.Seq != 1 || r.Phase != Failed {
		t.Fatalf("a reload done before the command: %+v, %v", r, err)
	}
	// Reported: the next command waits for the next reload.
	go func() {
		time.Sleep(5 * poll)
		p.must(p.pub.Begin())
		time.Sleep(5 * poll)
		p.must(p.pub.Succeeded(nil))
	}()
	if r, err := p.await(false, 5*time.Second); err != nil || r.Seq != 2 || r.Phase != OK {
		t.Fatalf("a reload after the command: %+v, %v", r, err)
	}
	// No reload comes: the command says what it waited for.
	_, err := p.await(false, 10*poll)
	if want := filepath.Join(p.dir, File) + ": the proxy (PID "; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), " reported no reload after 2 within 100ms") {
		t.Errorf("with no reload: %v", err)
	}
}

// A proxy that keeps no record is not signalled: the command cannot say
// how the reload went, and says why.
func TestAwaitWithoutRecord(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "records")
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP)
	defer signal.Stop(sigs)
	_, err := Await(context.Background(), Options{Dir: dir, PID: os.Getpid(), Signal: true})
	want := filepath.Join(dir, File) + ": no reload record from the proxy (PID "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "): it started before this version was installed (restart the service), or its /tmp is not this command's (the units need PrivateTmp=yes)") {
		t.Errorf("got %v", err)
	}
	select {
	case <-sigs:
		t.Error("signalled")
	case <-time.After(50 * time.Millisecond):
	}
	// A record of another process is none.
	if _, err := Open(dir, os.Getpid()+1); err != nil {
		t.Fatal(err)
	}
	if _, err := Await(context.Background(), Options{Dir: dir, PID: os.Getpid()}); err == nil || !strings.Contains(err.Error(), "no reload record") {
		t.Errorf("a record of another PID: %v", err)
	}
}

// A proxy that exits during the wait ends it at once.
func TestAwaitProxyExits(t *testing.T) {
	cmd := exec.Command("sleep", "0.2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "records")
	if _, err := Open(dir, cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	start := time.Now()
	_, err := Await(context.Background(), Options{Dir: dir, PID: cmd.Process.Pid})
	if want := "exited before it reported the reload"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v", took)
	}
}

func TestDir(t *testing.T) {
	t.Setenv("TMPDIR", "/run/test")
	for id, want := range map[string]string{
		"":                                 "",
		"4aa6c4ca7a1448178e7afb44b14dd317": "/run/test/quantum-safe-proxy-4aa6c4ca7a1448178e7afb44b14dd317",
	} {
		if got, err := Dir(id); got != want || err != nil {
			t.Errorf("Dir(%q) = %q, %v; want %q", id, got, err, want)
		}
	}
	for _, id := range []string{"../../etc", "4AA6C4CA7A1448178E7AFB44B14DD317", "4aa6c4ca"} {
		if got, err := Dir(id); err == nil {
			t.Errorf("Dir(%q) = %q, want an error", id, got)
		}
	}
}

// A directory another user could have made, or one open to others, is
// not used: where /tmp is shared, its records could be read or forged.
func TestOpenRefusesADirectoryNotItsOwn(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "quantum-safe-proxy-x")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, os.Getpid()); err == nil || !strings.HasSuffix(err.Error(), ": not a directory of this user (uid "+strconv.Itoa(os.Getuid())+") with mode 0700") {
		t.Errorf("Open of a 0755 directory: %v", err)
	}
	link := dir + "-link"
	os.Chmod(dir, 0o700)
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(link, os.Getpid()); err == nil {
		t.Error("Open through a symbolic link succeeded")
	}
	if _, err := Await(context.Background(), Options{Dir: link, PID: os.Getpid()}); err == nil {
		t.Error("Await through a symbolic link succeeded")
	}
	// Close removes what Open made.
	p, err := Open(dir, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("after Close: %v", err)
	}
}
