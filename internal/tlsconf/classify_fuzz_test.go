package tlsconf

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// firstConn is the server's end of a pipe, recording what [recordHello]
// learns and the client's first bytes, as the proxy's connection does.
type firstConn struct {
	net.Conn
	hello Hello
	first []byte
}

func (c *firstConn) Hello() *Hello { return &c.hello }

func (c *firstConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if len(c.first) < 8 {
		c.first = append(c.first, b[:min(n, 8-len(c.first))]...)
	}
	return n, err
}

// knownReasons are the reasons a client's bytes alone can produce.
var knownReasons = map[string]bool{
	ReasonTimeout: true, ReasonNotTLS: true, ReasonClientGone: true, ReasonProtocolVersion: true,
	ReasonSSLv2Hello: true, ReasonMalformedHello: true, ReasonNoPQGroup: true, ReasonOther: true,
	ReasonClientRefused: true, ReasonNoSharedSigAlg: true,
	// A ClientHello whose suites are all ones not served here (CBC only),
	// and early data sent after a ClientHello that announces it.
	ReasonNoSharedCipher: true, ReasonEarlyData: true,
}

// FuzzClassifyHello feeds a client's bytes to a real tls.Server under the
// proxy's policy, then classifies the failure: no panic, and a reason
// from the known set, whatever arrives.
func FuzzClassifyHello(f *testing.F) {
	cfg := config.Default()
	cfg.Certificates = []config.CertPair{{CertPath: "../../testdata/mldsa65.crt", KeyPath: "../../testdata/mldsa65-seed.key"}}
	srv, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"\x00\x8f\x3a\x11\xfe\x02\x99\x41\x07",
		"\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10\x01\x00\x80\x02\x00\x80",
		"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03\x01\x02\x03",
		"\x16\x03\x01\xff\xff",
		"\x16\x03\x01\x00\x04\x01\xff\xff\xff",
		"\x16\x03\x01\x00\x08\x01\x00\x00\x04\xde\xad\xbe\xef",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Add(clientHello(f, tls.VersionTLS10))
	f.Add(clientHello(f, tls.VersionTLS13))
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		sc := &firstConn{Conn: server}
		go func() {
			client.Write(in)
			client.Close()
		}()
		server.SetDeadline(time.Now().Add(200 * time.Millisecond))
		err := tls.Server(sc, srv.TLS).Handshake()
		server.Close()
		if err == nil {
			t.Fatal("a handshake completed with a client that cannot answer")
		}
		reason, _ := srv.ClassifyFirst(err, &sc.hello, sc.first)
		if !knownReasons[reason] {
			t.Fatalf("reason %q for %q (%v)", reason, in, err)
		}
	})
}

// clientHello returns the first flight of a Go client offering only vers.
func clientHello(f *testing.F, vers uint16) []byte {
	client, server := net.Pipe()
	go tls.Client(client, &tls.Config{MinVersion: vers, MaxVersion: vers, ServerName: "localhost"}).Handshake()
	defer client.Close()
	buf := make([]byte, 4096)
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := server.Read(buf)
	if err != nil {
		f.Fatal(err)
	}
	return buf[:n]
}
