package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Headless Chromium fetches a page through the proxy and negotiates
// X25519MLKEM768. Chromium advertises ML-DSA but trusts no ML-DSA root
// (DESIGN.md), so the configuration binds the ML-DSA chain to a server
// name and Chromium, asking for localhost, is served the ECDSA chain.
// The page holds a second page in an iframe and three images, and every
// response ends its connection (Connection: close), so Chromium comes back
// on new TCP connections and resumes its TLS session, as browsers do.
func TestChromiumNegotiatesX25519MLKEM768(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		need(t, "chromium", "apt-get install chromium (make test-deps does it, as root)")
	}
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		need(t, "certutil", "apt-get install libnss3-tools (make test-deps does it, as root)")
	}
	peerVersion(chromium, "--version")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan struct{}, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		if r.URL.Path == "/second" {
			second <- struct{}{}
			fmt.Fprint(w, "<html><body>the second page</body></html>")
			return
		}
		if strings.HasPrefix(r.URL.Path, "/img") {
			w.Header().Set("Content-Type", "image/svg+xml")
			fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>`)
			return
		}
		fmt.Fprint(w, "<html><body><p id=marker>served through quantum-safe-proxy</p><iframe src=/second></iframe>"+
			"<img src=/img1.svg><img src=/img2.svg><img src=/img3.svg></body></html>")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{
  "target": %q,
  "certificates": [
    {"cert_path": %q, "key_path": %q, "server_names": ["pq.localhost"]},
    {"cert_path": %q, "key_path": %q}
  ]
}`, ln.Addr().String(), pki("server-mldsa.crt"), pki("server-mldsa.key"), pki("server-ecdsa.crt"), pki("server-ecdsa.key"))), 0o600)
	p := startProxy(t, "--config-file", cfg)
	_, port, _ := net.SplitHostPort(p.addr)

	// Chromium on Linux trusts roots in $HOME/.pki/nssdb.
	home := filepath.Join(dir, "home")
	nssdb := filepath.Join(home, ".pki", "nssdb")
	os.MkdirAll(nssdb, 0o700)
	for _, args := range [][]string{
		{"-d", "sql:" + nssdb, "-N", "--empty-password"},
		{"-d", "sql:" + nssdb, "-A", "-t", "C,,", "-n", "quantum-safe-proxy development ECDSA root", "-i", pki("ecdsa-root.crt")},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--dump-dom", "https://localhost:"+port+"/")
	cmd.Env = append(os.Environ(), "HOME="+home)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "served through quantum-safe-proxy") {
		t.Fatalf("chromium did not get the page through the proxy:\n%s", out)
	}
	select {
	case <-second:
	default:
		t.Fatal("chromium never asked for the second page")
	}
	rec := p.wait(t, "connection closed")
	if rec["group"] != "X25519MLKEM768" || rec["pq"] != true || rec["cert_alg"] != "ECDSA P-256" || rec["resumed"] != false {
		t.Errorf("chromium's first connection: %v", rec)
	}
	// Chromium opens a spare connection while the first is still in its
	// handshake, before any ticket arrived, and uses it for the next
	// request; the connections it opens after reading the page resume.
	p.wait(t, "connection closed", 2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var closed []map[string]any
		resumed := 0
		for _, l := range p.snapshot() {
			if l["msg"] == "connection closed" {
				closed = append(closed, l)
				if l["resumed"] == true && l["cert_alg"] == "ECDSA P-256" && l["pq"] == true {
					resumed++
				}
			}
		}
		if resumed > 0 {
			t.Logf("chromium made %d connections, %d of them resumed", len(closed), resumed)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("none of chromium's %d connections resumed: %v", len(closed), closed)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
