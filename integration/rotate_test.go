package integration

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// servedLeaf returns the DER of the leaf a Go client is served. The
// config has no session cache (crypto/tls's default): a resumed session
// would report the certificate of the handshake it resumes.
func servedLeaf(t *testing.T, addr string, cfg *tls.Config) []byte {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Raw
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	// os.WriteFile truncates and rewrites the file in place: the same
	// inode, as `cp new.crt server.crt` does.
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A certificate and key in a directory of the operator's choosing,
// rewritten in place as `cp` does, are served within a few seconds with
// nothing sent to the process; a mismatched or half-written pair that
// follows is refused and the chain in force keeps serving, until the
// files are whole again.
func TestRotationInPlaceWithoutSignal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "srv", "tls")
	os.MkdirAll(dir, 0o755)
	crt, key := filepath.Join(dir, "site.crt"), filepath.Join(dir, "site.key")
	copyFile(t, pki("server-mldsa.crt"), crt)
	copyFile(t, pki("server-mldsa.key"), key)
	next := filepath.Join(t.TempDir(), "next")
	if out, err := exec.Command(binary, "certs", "init", "--dir", next).CombinedOutput(); err != nil {
		t.Fatalf("certs init: %v\n%s", err, out)
	}
	newLeaf, err := certsFromFile(filepath.Join(next, "server-mldsa.crt"))
	if err != nil {
		t.Fatal(err)
	}
	oldLeaf, _ := certsFromFile(pki("server-mldsa.crt"))
	p := startProxy(t, "--target", echoBackend(t), "--cert", crt, "--key", key)
	any := &tls.Config{InsecureSkipVerify: true}
	if !bytes.Equal(servedLeaf(t, p.addr, any), oldLeaf) {
		t.Fatal("the first chain is not served")
	}

	// The key first, then the certificate: for a moment the pair does not
	// match, and the burst of changes is reloaded once, whole.
	rotated := time.Now()
	copyFile(t, filepath.Join(next, "server-mldsa.key"), key)
	copyFile(t, filepath.Join(next, "server-mldsa.crt"), crt)
	for !bytes.Equal(servedLeaf(t, p.addr, any), newLeaf) {
		if time.Since(rotated) > 5*time.Second {
			t.Fatal("the rotated certificate was not served within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(rotated)
	p.wait(t, "reloading: configured files changed")
	p.wait(t, "reloaded: configured files changed")
	instances, watches := inotifyWatches(t, p.cmd.Process.Pid)
	if instances != 1 || watches != 1 {
		t.Errorf("%d inotify instances with %d watches for two files in one directory, want 1 and 1", instances, watches)
	}
	// A real client that trusts only the new CA verifies the new chain.
	if r := runSClient(t, p.addr, "-CAfile", filepath.Join(next, "ca.crt"), "-verify_return_error"); !r.verified || !r.echoed {
		t.Fatalf("OpenSSL 3.5 does not verify the rotated chain against the new CA: %v\n%s", r.err, r.out)
	}

	// The old key with the new certificate: refused, the new pair serves.
	copyFile(t, pki("server-mldsa.key"), key)
	p.wait(t, "reload failed: still serving the previous configuration", 1)
	if !bytes.Equal(servedLeaf(t, p.addr, any), newLeaf) {
		t.Fatal("a mismatched pair replaced the chain in force")
	}
	// A certificate caught half-written: refused as well.
	copyFile(t, filepath.Join(next, "server-mldsa.key"), key)
	data, _ := os.ReadFile(filepath.Join(next, "server-mldsa.crt"))
	p.wait(t, "reloaded: configured files changed", 2)
	os.WriteFile(crt, data[:len(data)/2], 0o600)
	p.wait(t, "reload failed: still serving the previous configuration", 2)
	if !bytes.Equal(servedLeaf(t, p.addr, any), newLeaf) {
		t.Fatal("a half-written certificate replaced the chain in force")
	}
	// Whole again: the next write is reloaded.
	os.WriteFile(crt, data, 0o600)
	p.wait(t, "reloaded: configured files changed", 3)
	if i, w := inotifyWatches(t, p.cmd.Process.Pid); i != instances || w != watches {
		t.Errorf("after 5 reloads: %d inotify instances with %d watches, %d and %d after the first", i, w, instances, watches)
	}
	t.Logf("rotated chain served %v after the files were rewritten, with no signal", took.Round(time.Millisecond))
}

// inotifyWatches counts the inotify instances a process holds and their
// watches (proc(5): one "inotify wd:" line per watch in fdinfo).
func inotifyWatches(t *testing.T, pid int) (instances, watches int) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if link, _ := os.Readlink(filepath.Join(dir, e.Name())); link != "anon_inode:inotify" {
			continue
		}
		instances++
		info, _ := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, e.Name()))
		watches += strings.Count(string(info), "inotify wd:")
	}
	return instances, watches
}

// A Kubernetes Secret projected by the kubelet: tls.crt, tls.key and
// ca.crt are symlinks into ..data, itself a symlink to a timestamped
// directory that each update replaces with a rename. Two updates in a
// row are served (the second needs the watches moved to the new
// directory), with nothing sent to the process.
func TestRotationByKubeletDataSwap(t *testing.T) {
	vol := t.TempDir()
	swap := func(n int, from string) {
		ts := filepath.Join(vol, fmt.Sprintf("..2026_11_23_22_00_0%d.1", n))
		os.Mkdir(ts, 0o755)
		copyFile(t, filepath.Join(from, "server-mldsa.crt"), filepath.Join(ts, "tls.crt"))
		copyFile(t, filepath.Join(from, "server-mldsa.key"), filepath.Join(ts, "tls.key"))
		copyFile(t, filepath.Join(from, "ca.crt"), filepath.Join(ts, "ca.crt"))
		old, _ := os.Readlink(filepath.Join(vol, "..data"))
		os.Symlink(filepath.Base(ts), filepath.Join(vol, "..data_tmp"))
		if err := os.Rename(filepath.Join(vol, "..data_tmp"), filepath.Join(vol, "..data")); err != nil {
			t.Fatal(err)
		}
		if old != "" {
			os.RemoveAll(filepath.Join(vol, old))
		}
	}
	swap(1, filepath.Dir(pki("ca.crt")))
	for _, f := range []string{"tls.crt", "tls.key", "ca.crt"} {
		os.Symlink("..data/"+f, filepath.Join(vol, f))
	}
	p := startProxy(t, "--target", echoBackend(t), "--cert", filepath.Join(vol, "tls.crt"), "--key", filepath.Join(vol, "tls.key"),
		"--ca-cert", filepath.Join(vol, "ca.crt"), "--client-cert-mode", "optional")
	any := &tls.Config{InsecureSkipVerify: true}
	for n := 2; n <= 3; n++ {
		next := filepath.Join(t.TempDir(), "pki")
		if out, err := exec.Command(binary, "certs", "init", "--dir", next).CombinedOutput(); err != nil {
			t.Fatalf("certs init: %v\n%s", err, out)
		}
		want, _ := certsFromFile(filepath.Join(next, "server-mldsa.crt"))
		updated := time.Now()
		swap(n, next)
		for !bytes.Equal(servedLeaf(t, p.addr, any), want) {
			if time.Since(updated) > 5*time.Second {
				t.Fatalf("update %d of the projected volume was not served within 5 s", n-1)
			}
			time.Sleep(50 * time.Millisecond)
		}
		rec := p.wait(t, "reloading: configured files changed", n-1)
		if files := rec["files"].(string); !strings.Contains(files, "ca.crt") || !strings.Contains(files, "tls.key") {
			t.Errorf("the reload names %q, not the CA and key that changed too", files)
		}
		t.Logf("update %d of the projected volume served %v later", n-1, time.Since(updated).Round(time.Millisecond))
	}
}
