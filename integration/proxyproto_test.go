package integration

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The backends here read the PROXY protocol v2 header with their own
// parser, written from HAProxy's doc/proxy-protocol.txt (section 2.2),
// not with the proxy's encoder, and every TLV is checked against what
// the client itself negotiated.

// pp2 is one header as the test backend read it.
type pp2 struct {
	fam      byte
	src, dst netip.AddrPort
	tlvs     map[byte]string // top-level TLVs by type, PP2_TYPE_SSL aside
	client   byte            // PP2_TYPE_SSL's client field
	verify   uint32
	ssl      map[byte]string // PP2_TYPE_SSL's sub-TLVs
	hasSSL   bool
}

// readPP2 reads a version 2 header, refusing anything the specification
// does not allow the proxy to send.
func readPP2(r io.Reader) (*pp2, error) {
	fixed := make([]byte, 16)
	if _, err := io.ReadFull(r, fixed); err != nil {
		return nil, err
	}
	if !bytes.Equal(fixed[:12], []byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}) {
		return nil, fmt.Errorf("no PROXY v2 signature: % x", fixed)
	}
	if fixed[12] != 0x21 {
		return nil, fmt.Errorf("version/command %#x, want 0x21 (v2, PROXY)", fixed[12])
	}
	body := make([]byte, u16(fixed[14:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	h := &pp2{fam: fixed[13]}
	switch h.fam {
	case 0x11:
		if len(body) < 12 {
			return nil, errors.New("short TCP4 address block")
		}
		h.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), u16(body[8:]))
		h.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[4:8])), u16(body[10:]))
		body = body[12:]
	case 0x21:
		if len(body) < 36 {
			return nil, errors.New("short TCP6 address block")
		}
		h.src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])), u16(body[32:]))
		h.dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[16:32])), u16(body[34:]))
		body = body[36:]
	case 0x00:
	default:
		return nil, fmt.Errorf("family %#x", h.fam)
	}
	var err error
	if h.tlvs, err = readTLVs(body); err != nil {
		return nil, err
	}
	if v, ok := h.tlvs[0x20]; ok {
		delete(h.tlvs, 0x20)
		if len(v) < 5 {
			return nil, errors.New("short PP2_TYPE_SSL")
		}
		h.hasSSL, h.client, h.verify = true, v[0], uint32(u16([]byte(v[1:3])))<<16|uint32(u16([]byte(v[3:5])))
		if h.ssl, err = readTLVs([]byte(v[5:])); err != nil {
			return nil, fmt.Errorf("PP2_TYPE_SSL: %v", err)
		}
	}
	return h, nil
}

// u16 reads a big-endian (network order) 16-bit number.
func u16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func readTLVs(b []byte) (map[byte]string, error) {
	m := map[byte]string{}
	for len(b) > 0 {
		if len(b) < 3 {
			return nil, fmt.Errorf("%d stray bytes after the TLVs", len(b))
		}
		typ, n := b[0], int(u16(b[1:3]))
		if len(b) < 3+n {
			return nil, fmt.Errorf("TLV %#x of %d bytes overruns the header", typ, n)
		}
		if _, dup := m[typ]; dup {
			return nil, fmt.Errorf("TLV %#x twice", typ)
		}
		m[typ] = string(b[3 : 3+n])
		b = b[3+n:]
	}
	return m, nil
}

// ppConn is what the test backend saw of one connection: the header,
// and every byte after it until the proxy passed the client's end on.
type ppConn struct {
	h     *pp2
	err   error
	after []byte
}

// ppBackend reads each connection's header, sends greeting (if any)
// before reading anything more, as a server that speaks first, then
// echoes, and reports each connection when it ends.
func ppBackend(t *testing.T, greeting string) (string, <-chan ppConn) {
	ch := make(chan ppConn, 16)
	addr := serveEach(t, func(c net.Conn) {
		defer c.Close()
		h, err := readPP2(c)
		if err != nil {
			ch <- ppConn{err: err}
			return
		}
		io.WriteString(c, greeting)
		var after bytes.Buffer
		io.Copy(io.MultiWriter(c, &after), c)
		ch <- ppConn{h: h, after: after.Bytes()}
	})
	return addr, ch
}

func nextPP(t *testing.T, ch <-chan ppConn) ppConn {
	t.Helper()
	select {
	case c := <-ch:
		if c.err != nil {
			t.Fatalf("backend: %v", c.err)
		}
		return c
	case <-time.After(20 * time.Second):
		t.Fatal("the backend saw no connection end")
	}
	return ppConn{}
}

// want is what a header must say; a "" string means the TLV is absent.
type want struct {
	client                         byte
	verified                       bool
	authority, version, cipher, cn string
	sigAlg, keyAlg, group, pq, uri string
}

func (h *pp2) check(t *testing.T, w want) {
	t.Helper()
	if !h.hasSSL {
		t.Fatal("no PP2_TYPE_SSL")
	}
	if h.client != w.client || (h.verify == 0) != w.verified {
		t.Errorf("PP2_TYPE_SSL client %#x verify %d, want client %#x, verified %v", h.client, h.verify, w.client, w.verified)
	}
	for _, c := range []struct {
		name string
		m    map[byte]string
		typ  byte
		want string
	}{
		{"PP2_TYPE_AUTHORITY", h.tlvs, 0x02, w.authority},
		{"PP2_TYPE_ALPN (the proxy offers no ALPN)", h.tlvs, 0x01, ""},
		{"PP2_SUBTYPE_SSL_VERSION", h.ssl, 0x21, w.version},
		{"PP2_SUBTYPE_SSL_CN", h.ssl, 0x22, w.cn},
		{"PP2_SUBTYPE_SSL_CIPHER", h.ssl, 0x23, w.cipher},
		{"PP2_SUBTYPE_SSL_SIG_ALG", h.ssl, 0x24, w.sigAlg},
		{"PP2_SUBTYPE_SSL_KEY_ALG", h.ssl, 0x25, w.keyAlg},
		{"group (0xE0)", h.tlvs, 0xE0, w.group},
		{"post-quantum (0xE1)", h.tlvs, 0xE1, w.pq},
		{"URI SAN (0xE2)", h.tlvs, 0xE2, w.uri},
	} {
		if got, ok := c.m[c.typ]; got != c.want || ok != (c.want != "") {
			t.Errorf("%s = %q (present %v), want %q", c.name, got, ok, c.want)
		}
	}
	for typ := range h.tlvs {
		if strings.IndexByte("\x01\x02\xE0\xE1\xE2", typ) < 0 {
			t.Errorf("unexpected TLV %#x: %q", typ, h.tlvs[typ])
		}
	}
	for typ := range h.ssl {
		if typ < 0x21 || typ > 0x25 {
			t.Errorf("unexpected PP2_TYPE_SSL sub-TLV %#x: %q", typ, h.ssl[typ])
		}
	}
}

var (
	sclientNew  = regexp.MustCompile(`(?m)^New, (TLSv1\.[23]), Cipher is (\S+)$`)
	sclientLeaf = regexp.MustCompile(`(?m)^\s+a:PKEY: ([^,]+), ([^;]+); sigalg: (\S+)$`)
)

// keyAlgOf turns s_client's description of the served leaf's key ("EC,
// (prime256v1)", "ML-DSA-65, 15616 (bit)") into the KEY_ALG expected.
func keyAlgOf(kind, size string) string {
	if kind == "EC" && size == "(prime256v1)" {
		return "EC256"
	}
	return kind
}

// Every TLV against what OpenSSL 3.5 negotiated and printed: a default
// (post-quantum) client, a classical one, with and without a client
// certificate, and TLS 1.2.
func TestProxyProtocolOpenSSL(t *testing.T) {
	backend, conns := ppBackend(t, "")
	p := startProxy(t, servingBothChains(backend, "--ca-cert", pki("ca.crt"), "--client-cert-mode", "optional", "--proxy-protocol", "v2")...)
	withCert := []string{"-cert", pki("client-ecdsa.crt"), "-key", pki("client-ecdsa.key")}
	for _, c := range []struct {
		name   string
		args   []string
		group  string
		pq     string
		client byte
		cn     string
	}{
		{"post-quantum, no client certificate", nil, "X25519MLKEM768", "1", 0x01, ""},
		{"post-quantum, client certificate", withCert, "X25519MLKEM768", "1", 0x07, "client-ecdsa"},
		{"classical, client certificate", append([]string{"-groups", "X25519"}, withCert...), "X25519", "0", 0x07, "client-ecdsa"},
		{"classical, ECDSA chain", []string{"-groups", "X25519", "-sigalgs", "ecdsa_secp256r1_sha256"}, "X25519", "0", 0x01, ""},
		// TLS 1.2 ties the ECDSA certificate's curve to the groups offered.
		{"TLS 1.2, client certificate", append([]string{"-tls1_2", "-groups", "X25519:P-256"}, withCert...), "X25519", "0", 0x07, "client-ecdsa"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runSClient(t, p.addr, append([]string{"-CAfile", pki("ca.crt")}, c.args...)...)
			if !r.echoed || r.group != c.group {
				t.Fatalf("group %q (want %s), echoed %v\n%s", r.group, c.group, r.echoed, r.out)
			}
			nw, leaf := sclientNew.FindStringSubmatch(r.out), sclientLeaf.FindStringSubmatch(r.out)
			if nw == nil || leaf == nil {
				t.Fatalf("s_client printed no version, cipher or served key\n%s", r.out)
			}
			got := nextPP(t, conns)
			if got.h.fam != 0x11 || got.h.src.Addr().String() != "127.0.0.1" || got.h.dst.String() != p.addr || got.h.src.Port() == 0 {
				t.Errorf("addresses: family %#x, %v -> %v; want TCP4 127.0.0.1:* -> %s", got.h.fam, got.h.src, got.h.dst, p.addr)
			}
			if !strings.HasPrefix(string(got.after), "ping-") {
				t.Errorf("after the header the backend got %q, want the client's line", got.after)
			}
			got.h.check(t, want{
				client: c.client, verified: c.cn != "", authority: "localhost",
				version: nw[1], cipher: nw[2], cn: c.cn,
				sigAlg: leaf[3], keyAlg: keyAlgOf(leaf[1], leaf[2]), group: c.group, pq: c.pq,
			})
		})
	}
}

const spiffeID = "spiffe://example.org/ns/prod/sa/web"

// spiffeClientCert is a client certificate, issued in the test by the
// development ECDSA root, whose SAN holds a SPIFFE ID.
func spiffeClientCert(t *testing.T) tls.Certificate {
	t.Helper()
	root, err := tls.LoadX509KeyPair(pki("ecdsa-root.crt"), pki("ecdsa-root.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	u, _ := url.Parse(spiffeID)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "web"},
		URIs:         []*url.URL{u, {Scheme: "spiffe", Host: "example.org", Path: "/second"}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.Leaf, &key.PublicKey, root.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// goVersions are the header's names of the versions a Go client negotiates.
var goVersions = map[uint16]string{tls.VersionTLS13: "TLSv1.3", tls.VersionTLS12: "TLSv1.2"}

// A default Go client (X25519MLKEM768, session cache) connects twice and
// resumes the second time: the header still names the chain served when
// the session began and the client certificate it carried, now from the
// session (PP2_CLIENT_CERT_SESS without PP2_CLIENT_CERT_CONN). The backend
// speaks first: the header reaches it before any client byte.
func TestProxyProtocolGoClientResumes(t *testing.T) {
	backend, conns := ppBackend(t, "hello from the backend\n")
	p := startProxy(t, servingBothChains(backend, "--ca-cert", pki("ca.crt"), "--client-cert-mode", "optional", "--proxy-protocol", "v2")...)
	for _, withCert := range []bool{false, true} {
		t.Run(fmt.Sprintf("client certificate %v", withCert), func(t *testing.T) {
			cc := goClient(t, "", "")
			if withCert {
				cc.Certificates = []tls.Certificate{spiffeClientCert(t)}
			}
			for i := range 2 {
				cs, local, remote, after := ppExchange(t, p.addr, cc)
				if cs.DidResume != (i == 1) {
					t.Fatalf("connection %d: resumed %v", i+1, cs.DidResume)
				}
				got := nextPP(t, conns)
				if got.h.fam != 0x11 || got.h.src != local || got.h.dst != remote {
					t.Errorf("connection %d: family %#x, %v -> %v; the client saw %v -> %v", i+1, got.h.fam, got.h.src, got.h.dst, local, remote)
				}
				if string(got.after) != after {
					t.Errorf("after the header the backend got %q, want exactly %q", got.after, after)
				}
				leaf := cs.PeerCertificates[0] // on resumption, the one the session began with
				w := want{
					client: 0x01, authority: "localhost", version: goVersions[cs.Version], cipher: tls.CipherSuiteName(cs.CipherSuite),
					sigAlg: "ML-DSA-65", keyAlg: "ML-DSA-65", group: cs.CurveID.String(), pq: "1",
				}
				if leaf.SignatureAlgorithm != x509.MLDSA65 || cs.CurveID != tls.X25519MLKEM768 {
					t.Fatalf("the Go client got a %v leaf over %v; this test expects the ML-DSA-65 chain over X25519MLKEM768", leaf.SignatureAlgorithm, cs.CurveID)
				}
				if withCert {
					w.client, w.verified, w.cn, w.uri = 0x05, true, "web", spiffeID
					if i == 0 {
						w.client = 0x07
					}
				}
				got.h.check(t, w)
			}
		})
	}
}

// ppExchange connects, reads the backend's greeting before sending a
// byte, then sends a payload, half-closes, and reads the echo. It returns
// the handshake, the addresses as the client saw them, and the payload.
func ppExchange(t *testing.T, addr string, cc *tls.Config) (tls.ConnectionState, netip.AddrPort, netip.AddrPort, string) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	greeting := "hello from the backend\n"
	got := make([]byte, len(greeting))
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != greeting {
		t.Fatalf("greeting %q, %v", got, err)
	}
	payload := fmt.Sprintf("payload %d\x00\r\n\r\n\x00\r\nQUIT\n", time.Now().UnixNano())
	io.WriteString(c, payload)
	c.CloseWrite()
	if echo, err := io.ReadAll(c); err != nil || string(echo) != payload {
		t.Fatalf("echo %q, %v; want %q", echo, err, payload)
	}
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	remote := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	return c.ConnectionState(), netip.AddrPortFrom(local.Addr().Unmap(), local.Port()), netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port()), payload
}

// Over IPv6 the header says TCP over IPv6; on a dual-stack listener an
// IPv4 client is TCP over IPv4, its IPv4-mapped addresses unmapped.
func TestProxyProtocolAddressFamilies(t *testing.T) {
	needIPv6(t)
	backend, conns := ppBackend(t, "hello from the backend\n")
	p := startProxy(t, servingBothChains(backend, "--proxy-protocol", "v2", "--listen", "[::]:0")...)
	_, port, _ := net.SplitHostPort(p.addr)
	for _, c := range []struct {
		host string
		fam  byte
	}{{"::1", 0x21}, {"127.0.0.1", 0x11}} {
		_, local, remote, _ := ppExchange(t, net.JoinHostPort(c.host, port), goClient(t, "", ""))
		got := nextPP(t, conns)
		if got.h.fam != c.fam || got.h.src != local || got.h.dst != remote {
			t.Errorf("client over %s: family %#x, %v -> %v; want %#x, %v -> %v", c.host, got.h.fam, got.h.src, got.h.dst, c.fam, local, remote)
		}
	}
}
