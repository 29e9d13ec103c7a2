package integration

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"os"
	"strings"
	"testing"
)

// needIPv6 fails under CI and skips elsewhere when this host has no IPv6
// loopback address.
func needIPv6(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		need(t, "IPv6 loopback (::1)", err.Error())
	}
	ln.Close()
}

// pqEcho connects to addr as a default Go client trusting the development
// PKI, checks that the handshake is post-quantum, and that a line comes
// back.
func pqEcho(t *testing.T, addr string) {
	t.Helper()
	ca, err := os.ReadFile(pki("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: poolFrom(ca), ServerName: "localhost"})
	if err != nil {
		t.Fatalf("%s: %v", addr, err)
	}
	defer c.Close()
	if cs := c.ConnectionState(); cs.CurveID != tls.X25519MLKEM768 {
		t.Errorf("%s: group %v, want X25519MLKEM768", addr, cs.CurveID)
	}
	line := "over " + addr + "\n"
	io.WriteString(c, line)
	if got, err := bufio.NewReader(c).ReadString('\n'); got != line {
		t.Errorf("%s: echo %q, %v; want %q", addr, got, err, line)
	}
}

// The default listen form, [::]:PORT, serves a client over IPv6 and one
// over IPv4 on one socket, and the log names each client as it came.
func TestDefaultListenServesIPv6AndIPv4(t *testing.T) {
	needIPv6(t)
	p := startProxy(t, servingBothChains(echoBackend(t), "--listen", "[::]:0")...)
	host, port, err := net.SplitHostPort(p.addr)
	if err != nil || host != "::" {
		t.Fatalf("the proxy listens on %q, want [::]:PORT", p.addr)
	}
	for i, client := range []string{"::1", "127.0.0.1"} {
		pqEcho(t, net.JoinHostPort(client, port))
		rec := p.wait(t, "connection closed", i+1)
		if addr, _ := rec["client"].(string); !strings.HasPrefix(addr, net.JoinHostPort(client, "")) {
			t.Errorf("client over %s logged as client=%q", client, addr)
		}
	}
}

// A target on the IPv6 loopback address is accepted as on this host and
// reached.
func TestIPv6LoopbackTarget(t *testing.T) {
	needIPv6(t)
	target := serveEachOn(t, "[::1]:0", func(c net.Conn) {
		io.Copy(c, c)
		c.Close()
	})
	p := startProxy(t, servingBothChains(target)...)
	if rec := p.wait(t, "listening"); rec["target"] != target {
		t.Errorf("listening with target=%v, want %s", rec["target"], target)
	}
	pqEcho(t, p.addr)
	if rec := p.wait(t, "connection closed"); rec["close_reason"] != "client_closed" {
		t.Errorf("proxy log: %v", rec)
	}
}
