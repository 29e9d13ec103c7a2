package forward

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests count pooled buffers (see buffersOut).
func init() { countBuffers = true }

var (
	certOnce sync.Once
	testCert tls.Certificate
	testPool *x509.CertPool
)

// serverCert makes one self-signed ECDSA certificate for every test.
func serverCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "forward test"},
			DNSNames:     []string{"forward.test"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(der)
		testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		testPool = x509.NewCertPool()
		testPool.AddCert(leaf)
	})
	return testCert, testPool
}

// forwarded is one connection through [Run]: the client's end, the
// backend's end, and Run's result once it returns.
type forwarded struct {
	client  *tls.Conn
	backend *net.TCPConn
	result  chan Result
	server  chan *tls.Conn // the tls.Conn Run forwards from, as Run starts
}

// forward connects a Go client (defaults, but for trusting the test
// certificate) through Run to a loopback backend. With small, the
// client's receive buffer and the proxy's send buffer toward it are a
// few KiB, so that a write to a slow client blocks part way.
func forward(t *testing.T, opts Options, small ...bool) *forwarded {
	t.Helper()
	cert, pool := serverCert(t)
	front := listen(t)
	back := listen(t)
	f := &forwarded{result: make(chan Result, 1), server: make(chan *tls.Conn, 1)}
	go func() {
		raw, err := front.Accept()
		if err != nil {
			return
		}
		if len(small) > 0 {
			raw.(*net.TCPConn).SetWriteBuffer(4096)
		}
		tc, fc, bc, ok := shake(raw, &tls.Config{Certificates: []tls.Certificate{cert}}, back.Addr().String())
		if !ok {
			return
		}
		f.server <- tc
		f.result <- Run(tc, fc, bc, opts, nil)
	}()
	d := &tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: "forward.test"}}
	if len(small) > 0 {
		d.NetDialer = &net.Dialer{Control: smallReceiveBuffer}
	}
	nc, err := d.Dial("tcp", front.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := nc.(*tls.Conn)
	t.Cleanup(func() { c.Close() })
	f.client = c
	bc, err := back.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bc.Close() })
	f.backend = bc.(*net.TCPConn)
	return f
}

// shake serves raw's TLS side as the proxy does: the client's first
// flight is read once it arrives and handed to crypto/tls first, the
// handshake runs, and the backend is dialed. When a step fails it closes
// raw and reports false.
func shake(raw net.Conn, cfg *tls.Config, backend string) (*tls.Conn, *Conn, *Conn, bool) {
	first, err := AwaitFirst(raw)
	if err != nil {
		raw.Close()
		return nil, nil, nil, false
	}
	fc, _ := NewConnFirst(raw, &first)
	tc := tls.Server(fc, cfg)
	if err := tc.Handshake(); err != nil {
		raw.Close()
		return nil, nil, nil, false
	}
	b, err := net.Dial("tcp", backend)
	if err != nil {
		raw.Close()
		return nil, nil, nil, false
	}
	bc, _ := NewConn(b)
	return tc, fc, bc, true
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// wait returns Run's result and checks that the connection gave back
// every pooled buffer.
func (f *forwarded) wait(t *testing.T) Result {
	t.Helper()
	select {
	case r := <-f.result:
		if n := buffersOut.Load(); n != 0 {
			t.Errorf("%d pooled buffers still taken after Run returned", n)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	return Result{}
}

// smallReceiveBuffer sets SO_RCVBUF before connect, when it still bounds
// the window TCP advertises (tcp(7)).
func smallReceiveBuffer(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	return errors.Join(err, serr)
}
