package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
)

// sslSubTLVs reads a PROXY v2 header from r and returns the client field
// of its PP2_TYPE_SSL and the sub-TLVs by type. The full check of every
// TLV, with a parser of its own, is integration/proxyproto_test.go's.
func sslSubTLVs(r io.Reader) (byte, map[byte]string, error) {
	fixed := make([]byte, 16)
	if _, err := io.ReadFull(r, fixed); err != nil {
		return 0, nil, err
	}
	body := make([]byte, binary.BigEndian.Uint16(fixed[14:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	body = body[map[byte]int{0x11: 12, 0x21: 36}[fixed[13]]:]
	for len(body) >= 3 {
		typ, n := body[0], int(binary.BigEndian.Uint16(body[1:]))
		v := body[3 : 3+n]
		body = body[3+n:]
		if typ != 0x20 {
			continue
		}
		subs := map[byte]string{}
		for s := v[5:]; len(s) >= 3; {
			m := int(binary.BigEndian.Uint16(s[1:]))
			subs[s[0]] = string(s[3 : 3+m])
			s = s[3+m:]
		}
		return v[0], subs, nil
	}
	return 0, nil, io.ErrUnexpectedEOF
}

// A resumed session's header names the chain served when it began, from
// the ticket: on TLS 1.3 no certificate is chosen at all, and on TLS 1.2
// the one chosen first is not sent.
func TestProxyHeaderOfResumedSession(t *testing.T) {
	type seen struct {
		client byte
		subs   map[byte]string
	}
	got := make(chan seen, 1)
	h := start(t, baseConfig(), func(c net.Conn) {
		client, subs, err := sslSubTLVs(c)
		if err != nil {
			t.Errorf("backend: %v", err)
		}
		got <- seen{client, subs}
		io.Copy(c, c)
		c.Close()
	})
	s := snapshot(t, baseConfig(), h.backend.Addr().String())
	s.ProxyV2 = true
	h.proxy.Swap(s)
	for _, tc := range []struct {
		max                     uint16
		version, sigAlg, keyAlg string
	}{{tls.VersionTLS13, "TLSv1.3", "ML-DSA-65", "ML-DSA-65"}, {tls.VersionTLS12, "TLSv1.2", "ecdsa-with-SHA256", "EC256"}} {
		cc := resumingClient(t)
		cc.MaxVersion = tc.max
		for i := range 2 {
			cs, err := exchange(h.addr, cc)
			if err != nil || cs.DidResume != (i == 1) {
				t.Fatalf("%s connection %d: resumed %v, %v", tc.version, i+1, cs.DidResume, err)
			}
			g := <-got
			if g.client != 0x01 || g.subs[0x21] != tc.version || g.subs[0x24] != tc.sigAlg || g.subs[0x25] != tc.keyAlg {
				t.Errorf("%s connection %d: client %#x, sub-TLVs %q; want version, SIG_ALG %s, KEY_ALG %s", tc.version, i+1, g.client, g.subs, tc.sigAlg, tc.keyAlg)
			}
		}
	}
}

// fakeConn has the addresses of an accepted TCP connection.
type fakeConn struct {
	net.Conn
	local, remote net.Addr
}

func (f fakeConn) LocalAddr() net.Addr  { return f.local }
func (f fakeConn) RemoteAddr() net.Addr { return f.remote }

// The header of a connection with a client certificate costs one
// allocation, its buffer (a URI SAN adds its string).
func TestProxyHeaderAllocations(t *testing.T) {
	leaf := func(name string) *x509.Certificate {
		chain, err := certs.LoadCertificates(filepath.Join(pki(t), name))
		if err != nil {
			t.Fatal(err)
		}
		return chain[0]
	}
	client := leaf(certs.ClientMLDSACert)
	cs := &tls.ConnectionState{
		Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256, CurveID: tls.X25519MLKEM768,
		ServerName: "localhost", PeerCertificates: []*x509.Certificate{client}, VerifiedChains: [][]*x509.Certificate{{client}},
	}
	var raw net.Conn = fakeConn{
		local:  &net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 8443},
		remote: &net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 40000},
	}
	served := leaf(certs.ServerMLDSACert)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := proxyHeader(raw, cs, served); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("%v allocations per header, want 1", allocs)
	}
}

// A header the format cannot hold (over 64 KiB) gets the client a reset
// and the backend nothing: an identity is never sent cut short. Only a
// hostile client gets there: an SNI name of some 60 KiB (a ClientHello
// holds at most 64 KiB) and a client certificate with a long URI SAN,
// over TLS 1.2 without session tickets, since a session ticket carries
// all of that and more and crypto/tls fails the handshake when it cannot
// seal one that large (its length is 16 bits too).
func TestProxyHeaderTooLongResets(t *testing.T) {
	backendGot := make(chan []byte, 1)
	cfg := baseConfig()
	cfg.ClientCertMode = config.ClientCertOptional
	h := start(t, cfg, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		backendGot <- b
	})
	s := snapshot(t, cfg, h.backend.Addr().String())
	s.ProxyV2 = true
	h.proxy.Swap(s)

	root, err := tls.LoadX509KeyPair(filepath.Join(pki(t), certs.ECDSARootCert), filepath.Join(pki(t), certs.ECDSARootKey))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "huge"},
		URIs:      []*url.URL{{Scheme: "spiffe", Host: "example.org", Path: "/" + strings.Repeat("x", 4000)}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.Leaf, &key.PublicKey, root.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	cc := clientConfig(t)
	cc.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}
	// The hostile client's name is no name the server's certificate holds.
	cc.ServerName = strings.Repeat("a", 62000) + ".example"
	cc.InsecureSkipVerify = true
	cc.MaxVersion, cc.SessionTicketsDisabled = tls.VersionTLS12, true
	c, err := tls.Dial("tcp", h.addr, cc)
	if err == nil {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		// The reset reaches whichever of the write and the read comes
		// after it (the kernel reports it once).
		_, werr := io.WriteString(c, "hello\n")
		_, err = c.Read(make([]byte, 1))
		if werr != nil {
			err = werr
		}
		c.Close()
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Errorf("client got %v, want a reset", err)
	}
	if rec := h.log.wait(t, "connection closed"); rec["close_reason"] != ReasonProxyHeader || !strings.Contains(rec["error"], "longer than") {
		t.Errorf("logged %v", rec)
	}
	select {
	case b := <-backendGot:
		if len(b) != 0 {
			t.Errorf("the backend got %d bytes", len(b))
		}
	case <-time.After(5 * time.Second):
		t.Error("the backend connection was not ended")
	}
}
