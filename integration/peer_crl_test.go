package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// CRLs made by `openssl ca -gencrl`, by an ECDSA CA (OpenSSL clients) and
// by an ML-DSA CA (Go clients: OpenSSL withholds a client leaf its issuer
// signed with ML-DSA, DESIGN.md). A CRL that revokes A refuses A and
// admits B; after SIGHUP with a CRL that also revokes B, B is refused on
// its next connection, resumed or not. With the ML-DSA CA the new CRL is
// written over the old one and the file watch reloads it, unasked.
func TestCRLRevokesAndReloads(t *testing.T) {
	for _, tc := range []struct {
		alg    string
		client func(t *testing.T, crt, key string) peer
		watch  bool
	}{
		{"EC", func(t *testing.T, crt, key string) peer { return newOpenSSLPeer(t, crt, key) }, false},
		{"ML-DSA-65", func(t *testing.T, crt, key string) peer { return &goPeer{crt: crt, key: key} }, true},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			ca := newOpenSSLCA(t, tc.alg)
			aCrt, aKey := ca.client("a", "/CN=client-a", "")
			bCrt, bKey := ca.client("b", "/CN=client-b", "")
			a, b := tc.client(t, aCrt, aKey), tc.client(t, bCrt, bKey)
			dir := t.TempDir()
			crl, cfgPath := filepath.Join(dir, "ca.crl"), filepath.Join(dir, "config.json")
			ca.revoke(aCrt)
			ca.crl(crl)
			backend := echoBackend(t)
			peerConfig(t, cfgPath, backend, ca.cert, map[string]any{"crl_files": []string{crl}})
			p := startProxy(t, "--config-file", cfgPath)
			l := &logs{p: p}

			rec := l.refused(t, "A, revoked", a.connect(t, p.addr, true), "revoked")
			if rec["serial"] != ca.serial(aCrt) || rec["crl"] != crl || rec["issuer"] != "CN=Test "+tc.alg+" CA" || rec["revocation_reason"] != "keyCompromise" {
				t.Errorf("refusal of A: %v; want serial %s (as OpenSSL prints it), crl %s", rec, ca.serial(aCrt), crl)
			}
			l.admitted(t, "B", b.connect(t, p.addr, true), "client-b")

			ca.revoke(bCrt)
			if tc.watch {
				ca.crl(crl + ".new")
				if err := os.Rename(crl+".new", crl); err != nil {
					t.Fatal(err)
				}
				if rec := l.next(t, "reloaded: configured files changed"); rec["changed"] != "CRLs" {
					t.Errorf("reload by the file watch: %v", rec)
				}
			} else {
				next := filepath.Join(dir, "ca-2.crl")
				ca.crl(next)
				peerConfig(t, cfgPath, backend, ca.cert, map[string]any{"crl_files": []string{next}})
				p.cmd.Process.Signal(syscall.SIGHUP)
				if rec := l.next(t, "reloaded"); rec["changed"] != "crl_files, CRLs" {
					t.Errorf("reload: %v", rec)
				}
			}
			o := b.connect(t, p.addr, false)
			if !o.resumed {
				t.Fatalf("B after the new CRL: did not resume; the test needs a resumed session\n%s", o.out)
			}
			l.refused(t, "B, revoked, resuming", o, "revoked")
			l.refused(t, "B, revoked, full handshake", b.connect(t, p.addr, true), "revoked")
		})
	}
}

// A CRL past its nextUpdate (`openssl ca -gencrl` with dates in the past)
// refuses every client, revoked or not; with unsafe_allow_expired_crl a
// client it does not list gets in, and one it lists is still refused. A
// fresh CRL written over the file admits again, with no reload asked for.
func TestExpiredCRL(t *testing.T) {
	ca := newOpenSSLCA(t, "EC")
	aCrt, aKey := ca.client("a", "/CN=client-a", "")
	bCrt, bKey := ca.client("b", "/CN=client-b", "")
	ca.revoke(aCrt)
	dir := t.TempDir()
	crl := filepath.Join(dir, "ca.crl")
	ca.crl(crl, "-crl_lastupdate", "20200101000000Z", "-crl_nextupdate", "20200102000000Z")
	backend := echoBackend(t)
	for _, unsafe := range []bool{false, true} {
		cfgPath := filepath.Join(t.TempDir(), "config.json")
		peerConfig(t, cfgPath, backend, ca.cert, map[string]any{"crl_files": []string{crl}, "unsafe_allow_expired_crl": unsafe})
		p := startProxy(t, "--config-file", cfgPath)
		l := &logs{p: p}
		a, b := newOpenSSLPeer(t, aCrt, aKey), newOpenSSLPeer(t, bCrt, bKey)
		if !unsafe {
			for name, c := range map[string]peer{"A": a, "B": b} {
				rec := l.refused(t, name+", expired CRL", c.connect(t, p.addr, true), "crl_expired")
				if rec["next_update"] != "2020-01-02T00:00:00Z" || rec["crl"] != crl {
					t.Errorf("refusal of %s: %v", name, rec)
				}
			}
			// A fresh CRL lands in place of the expired one.
			ca.crl(crl + ".new")
			if err := os.Rename(crl+".new", crl); err != nil {
				t.Fatal(err)
			}
			l.next(t, "reloaded: configured files changed")
			l.admitted(t, "B, fresh CRL", b.connect(t, p.addr, true), "client-b")
			l.refused(t, "A, fresh CRL", a.connect(t, p.addr, true), "revoked")
			// Back to the expired CRL for the unsafe run.
			ca.crl(crl, "-crl_lastupdate", "20200101000000Z", "-crl_nextupdate", "20200102000000Z")
			continue
		}
		warned := false
		for _, rec := range p.snapshot() {
			msg, _ := rec["msg"].(string)
			warned = warned || strings.HasPrefix(msg, "unsafe_allow_expired_crl is set")
		}
		if !warned {
			t.Error("no warning at start about unsafe_allow_expired_crl")
		}
		l.admitted(t, "B, expired CRL allowed", b.connect(t, p.addr, true), "client-b")
		l.refused(t, "A, expired CRL allowed", a.connect(t, p.addr, true), "revoked")
	}
}
