package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// peer is a client with a certificate, OpenSSL's s_client or Go's, that
// keeps its session between connections as it ships: s_client through
// -sess_out/-sess_in, Go through its session cache.
type peer interface {
	// connect makes one connection; fresh forgets the session first.
	connect(t *testing.T, addr string, fresh bool) outcome
}

// outcome is what a client saw of one connection.
type outcome struct {
	echoed  bool   // its line came back through the proxy
	resumed bool   // the handshake resumed its session
	alert   bool   // the proxy refused it with bad_certificate (42)
	out     string // what it printed or the error, for failures
}

type opensslPeer struct{ crt, key, sess string }

func newOpenSSLPeer(t *testing.T, crt, key string) *opensslPeer {
	return &opensslPeer{crt, key, filepath.Join(t.TempDir(), "session.pem")}
}

func (p *opensslPeer) connect(t *testing.T, addr string, fresh bool) outcome {
	t.Helper()
	args := []string{"-cert", p.crt, "-key", p.key, "-sess_out", p.sess}
	if !fresh {
		args = append(args, "-sess_in", p.sess)
	}
	r := runSClient(t, addr, args...)
	return outcome{echoed: r.echoed, resumed: strings.Contains(r.out, "Reused, TLSv1.3"),
		alert: strings.Contains(r.out, "alert bad certificate") && strings.Contains(r.out, "SSL alert number 42"), out: r.out}
}

type goPeer struct {
	crt, key string
	cache    *recordingCache // the session cache kept between connections
}

func (p *goPeer) connect(t *testing.T, addr string, fresh bool) outcome {
	t.Helper()
	cc, cache := peerClient(t, p.crt, p.key)
	if !fresh && p.cache != nil {
		cc.ClientSessionCache, cache = p.cache, p.cache
	}
	p.cache = cache
	offered := cache.offered.Load()
	cs, err := goExchange(addr, cc)
	o := outcome{echoed: err == nil, resumed: cs.DidResume, out: fmt.Sprint(err)}
	o.alert = err != nil && strings.Contains(err.Error(), "remote error: tls: bad certificate")
	if o.resumed && cache.offered.Load() == offered {
		t.Fatal("the Go client resumed a session its cache never handed out")
	}
	return o
}

// logs hands out the proxy's lines of one message in order.
type logs struct {
	p    *proxyProc
	seen map[string]int
}

func (l *logs) next(t *testing.T, msg string) map[string]any {
	t.Helper()
	if l.seen == nil {
		l.seen = map[string]int{}
	}
	l.seen[msg]++
	return l.p.wait(t, msg, l.seen[msg])
}

// admitted wants o echoed, and the proxy's closing line to name cn.
func (l *logs) admitted(t *testing.T, what string, o outcome, cn string) {
	t.Helper()
	if !o.echoed {
		t.Fatalf("%s: not served\n%s", what, o.out)
	}
	if rec := l.next(t, "connection closed"); rec["identity"] != cn {
		t.Errorf("%s: proxy log %v, want identity %s", what, rec, cn)
	}
}

// refused wants o refused with the bad_certificate alert and the proxy's
// refusal line to give reason; it returns that line.
func (l *logs) refused(t *testing.T, what string, o outcome, reason string) map[string]any {
	t.Helper()
	if o.echoed || !o.alert {
		t.Fatalf("%s: echoed %v, alert %v; want refused with bad_certificate\n%s", what, o.echoed, o.alert, o.out)
	}
	rec := l.next(t, "handshake refused")
	if rec["reason"] != reason {
		t.Errorf("%s: proxy log %v, want reason %s", what, rec, reason)
	}
	if rec["resumed"] != map[bool]any{true: true, false: nil}[o.resumed] {
		t.Errorf("%s: the client resumed %v, the proxy logged resumed=%v", what, o.resumed, rec["resumed"])
	}
	return rec
}

// Each allow rule with OpenSSL 3.5 clients whose certificates OpenSSL
// made with a chosen CN, OU, SAN DNS and SAN URI: exactly who gets in,
// and for who does not, the rule sets and identity in the log.
func TestOpenSSLClientAllowRules(t *testing.T) {
	ca := newOpenSSLCA(t, "EC")
	alice, aliceKey := ca.client("alice", "/CN=alice/OU=eng", "DNS:alice.example.com,URI:spiffe://example.org/ns/prod/sa/web")
	bob, bobKey := ca.client("bob", "/CN=bob/OU=ops", "DNS:bob.svc.example.com,URI:spiffe://example.org/ns/dev/sa/api")
	backend := echoBackend(t)
	for _, tc := range []struct {
		name       string
		flags      []string
		rules      string
		alice, bob bool
	}{
		{"CN", []string{"--allow-cn", "alice"}, "allow_cn", true, false},
		{"CN exactly", []string{"--allow-cn", "Alice", "--allow-cn", "bo"}, "allow_cn", false, false},
		{"OU", []string{"--allow-ou", "ops"}, "allow_ou", false, true},
		{"DNS wildcard, one label", []string{"--allow-dns", "*.svc.example.com"}, "allow_dns", false, true},
		{"DNS wildcard, not two labels", []string{"--allow-dns", "*.example.com"}, "allow_dns", true, false},
		{"DNS exact, any case", []string{"--allow-dns", "BOB.svc.example.com"}, "allow_dns", false, true},
		{"URI prefix", []string{"--allow-uri", "spiffe://example.org/ns/prod/"}, "allow_uri", true, false},
		{"URI exact", []string{"--allow-uri", "spiffe://example.org/ns/dev/sa/api"}, "allow_uri", false, true},
		{"URI without / is no prefix", []string{"--allow-uri", "spiffe://example.org/ns/dev/sa"}, "allow_uri", false, false},
		{"SPKI pin from openssl", []string{"--allow-spki-sha256", spkiPin(t, bob)}, "allow_spki_sha256", false, true},
		{"any rule admits", []string{"--allow-cn", "alice", "--allow-uri", "spiffe://example.org/ns/dev/"}, "allow_cn, allow_uri", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, servingBothChains(backend, append([]string{"--client-cert-mode", "required", "--ca-cert", ca.cert}, tc.flags...)...)...)
			l := &logs{p: p}
			for _, c := range []struct {
				cn, crt, key string
				admit        bool
			}{{"alice", alice, aliceKey, tc.alice}, {"bob", bob, bobKey, tc.bob}} {
				o := newOpenSSLPeer(t, c.crt, c.key).connect(t, p.addr, true)
				if c.admit {
					l.admitted(t, c.cn, o, c.cn)
					continue
				}
				rec := l.refused(t, c.cn, o, "peer_not_allowed")
				if id, _ := rec["peer_identity"].(string); rec["rules"] != tc.rules || !strings.HasPrefix(id, `CN="`+c.cn+`" OU=`) {
					t.Errorf("%s: refusal logged rules %v, identity %q; want rules %s", c.cn, rec["rules"], id, tc.rules)
				}
			}
		})
	}
}

// A rule added by a reload refuses a client on its next connection,
// which resumes the session it began before the reload: OpenSSL reports
// "Reused" and then the alert, the Go client resumed a session from its
// cache, and the proxy logs the refusal as resumed. A client the rule
// admits still gets in.
func TestRuleAddedByReloadRefusesResumedSession(t *testing.T) {
	ca := newOpenSSLCA(t, "EC")
	alice, aliceKey := ca.client("alice", "/CN=alice", "")
	bob, bobKey := ca.client("bob", "/CN=bob", "")
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	backend := echoBackend(t)
	peerConfig(t, cfgPath, backend, ca.cert, nil)
	p := startProxy(t, "--config-file", cfgPath)
	l := &logs{p: p}
	clients := map[string]peer{"OpenSSL": newOpenSSLPeer(t, alice, aliceKey), "Go": &goPeer{crt: alice, key: aliceKey}}
	for _, name := range []string{"OpenSSL", "Go"} {
		o := clients[name].connect(t, p.addr, true)
		l.admitted(t, name+" before the reload", o, "alice")
	}
	peerConfig(t, cfgPath, backend, ca.cert, map[string]any{"allow_cn": []string{"bob"}})
	p.cmd.Process.Signal(syscall.SIGHUP)
	if rec := l.next(t, "reloaded"); rec["changed"] != "allow_cn" {
		t.Errorf("reload: %v", rec)
	}
	for _, name := range []string{"OpenSSL", "Go"} {
		o := clients[name].connect(t, p.addr, false)
		if !o.resumed {
			t.Fatalf("%s after the reload: did not resume; the test needs a resumed session\n%s", name, o.out)
		}
		l.refused(t, name+" resumed after the reload", o, "peer_not_allowed")
	}
	l.admitted(t, "bob", newOpenSSLPeer(t, bob, bobKey).connect(t, p.addr, true), "bob")
}
