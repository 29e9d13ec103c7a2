package proxyproto

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/mldsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

// sig is the 12-byte signature, written out from proxy-protocol.txt
// section 2.2 rather than taken from the code under test.
const sig = "0d0a0d0a000d0a515549540a"

// unhex reads hex written with spaces, comments ("# ...") and quoted
// ASCII ("'localhost'") for legibility.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		for len(line) > 0 {
			line = strings.TrimLeft(line, " \t")
			if line == "" {
				break
			}
			if line[0] == '\'' {
				end := strings.IndexByte(line[1:], '\'')
				out = append(out, line[1:1+end]...)
				line = line[2+end:]
				continue
			}
			word, rest, _ := strings.Cut(line, " ")
			b, err := hex.DecodeString(word)
			if err != nil {
				t.Fatalf("bad hex %q in the expected bytes", word)
			}
			out = append(out, b...)
			line = rest
		}
	}
	return out
}

func TestAppendHandComputed(t *testing.T) {
	v4 := netip.MustParseAddrPort("192.0.2.1:56324")
	v4dst := netip.MustParseAddrPort("198.51.100.2:443")
	loop := netip.MustParseAddrPort("127.0.0.1:40000")
	loopDst := netip.MustParseAddrPort("127.0.0.1:8443")
	cases := []struct {
		name string
		h    Header
		want string
	}{{
		name: "IPv4, no TLV",
		h:    Header{Source: v4, Destination: v4dst},
		want: sig + ` 21 11 000c
			c0000201 c6336402 # 192.0.2.1, 198.51.100.2
			dc04 01bb         # 56324, 443`,
	}, {
		name: "IPv4-mapped addresses of a dual-stack listener are IPv4",
		h: Header{
			Source:      netip.MustParseAddrPort("[::ffff:127.0.0.1]:40000"),
			Destination: netip.MustParseAddrPort("[::ffff:127.0.0.1]:8443"),
		},
		want: sig + ` 21 11 000c 7f000001 7f000001 9c40 20fb`,
	}, {
		name: "IPv6 with SNI",
		h: Header{
			Source:      netip.MustParseAddrPort("[::1]:40000"),
			Destination: netip.MustParseAddrPort("[2001:db8::2]:8443"),
			Authority:   "a.b",
		},
		want: sig + ` 21 21 002a # 36 address bytes, 6 of TLV
			00000000000000000000000000000001
			20010db8000000000000000000000002
			9c40 20fb
			02 0003 'a.b'`,
	}, {
		name: "families differ: LOCAL with AF_UNSPEC, no addresses, TLVs kept",
		h:    Header{Source: netip.MustParseAddrPort("[::1]:1"), Destination: loopDst, ALPN: "h2"},
		want: sig + ` 20 00 0005 01 0002 'h2'`,
	}, {
		name: "no addresses (a unix socket listener), classical TLS 1.2 without a client certificate",
		h:    Header{TLS: &TLS{Client: ClientSSL, Version: "TLSv1.2"}},
		want: sig + ` 20 00 0012
			20 000f 01 00000001 # SSL, verify 1: no verified certificate
			21 0007 'TLSv1.2'`,
	}, {
		name: "everything",
		h: Header{Source: loop, Destination: loopDst, Authority: "localhost", TLS: &TLS{
			Client:   ClientSSL | ClientCertConn | ClientCertSess,
			Verified: true, Version: "TLSv1.3", CN: "c", Cipher: "TLS_AES_128_GCM_SHA256",
			SigAlg: "ML-DSA-65", KeyAlg: "ML-DSA-65", Group: "X25519MLKEM768", PQ: true, URI: "spiffe://e/x",
		}},
		want: sig + ` 21 11 0083 # 12 + 12 + 71 + 17 + 4 + 15 = 131
			7f000001 7f000001 9c40 20fb
			02 0009 'localhost'
			20 0044 07 00000000 # 5 + 10 + 4 + 25 + 12 + 12 = 68
			21 0007 'TLSv1.3'
			22 0001 'c'
			23 0016 'TLS_AES_128_GCM_SHA256'
			24 0009 'ML-DSA-65'
			25 0009 'ML-DSA-65'
			e0 000e 'X25519MLKEM768'
			e1 0001 '1'
			e2 000c 'spiffe://e/x'`,
	}, {
		name: "classical group",
		h:    Header{TLS: &TLS{Client: ClientSSL, Group: "X25519"}},
		want: sig + ` 20 00 0015
			20 0005 01 00000001
			e0 0006 'X25519'
			e1 0001 '0'`,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := unhex(t, c.want)
			prefix := []byte("before")
			got, err := c.h.Append(prefix)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
				t.Fatalf("got\n%x\nwant\n%x", got[len(prefix):], want)
			}
			if n := c.h.Size(); n < len(want) {
				t.Errorf("Size() = %d, less than the %d bytes written", n, len(want))
			}
		})
	}
}

// A header the format cannot hold is refused whole, never cut short.
func TestAppendRefusesOverlongHeader(t *testing.T) {
	h := Header{TLS: &TLS{Client: ClientSSL, URI: "spiffe://e/" + strings.Repeat("x", 0xFFFF)}}
	b, err := h.Append([]byte("kept"))
	if err == nil || string(b) != "kept" {
		t.Fatalf("got %d bytes, error %v; want the buffer as it was and an error", len(b), err)
	}
	// The longest that fits is sent.
	h.TLS.URI = strings.Repeat("x", 0xFFFF-8-3)
	b, err = h.Append(nil)
	if err != nil || len(b) != 16+0xFFFF {
		t.Fatalf("got %d bytes, error %v; want %d", len(b), err, 16+0xFFFF)
	}
}

// Building a header sized by Size takes one allocation, its buffer.
func TestAppendAllocatesOnce(t *testing.T) {
	h := Header{
		Source: netip.MustParseAddrPort("127.0.0.1:40000"), Destination: netip.MustParseAddrPort("127.0.0.1:8443"),
		Authority: "localhost",
		TLS: &TLS{Client: ClientSSL, Version: "TLSv1.3", Cipher: "TLS_AES_128_GCM_SHA256",
			SigAlg: "ML-DSA-65", KeyAlg: "ML-DSA-65", Group: "X25519MLKEM768", PQ: true},
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := h.Append(make([]byte, 0, h.Size())); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("%v allocations, want 1", allocs)
	}
}

func TestNames(t *testing.T) {
	if got := VersionName(tls.VersionTLS13); got != "TLSv1.3" {
		t.Errorf("VersionName(1.3) = %q", got)
	}
	if got := VersionName(tls.VersionTLS12); got != "TLSv1.2" {
		t.Errorf("VersionName(1.2) = %q", got)
	}
	for id, want := range map[uint16]string{
		tls.TLS_AES_128_GCM_SHA256:                  "TLS_AES_128_GCM_SHA256",
		tls.TLS_CHACHA20_POLY1305_SHA256:            "TLS_CHACHA20_POLY1305_SHA256",
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: "ECDHE-ECDSA-AES128-GCM-SHA256",
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:   "ECDHE-RSA-AES256-GCM-SHA384",
	} {
		if got := CipherName(id); got != want {
			t.Errorf("CipherName(%#04x) = %q, want %q", id, got, want)
		}
	}
	for alg, want := range map[x509.SignatureAlgorithm]string{
		x509.ECDSAWithSHA256: "ecdsa-with-SHA256", x509.SHA256WithRSA: "RSA-SHA256",
		x509.SHA256WithRSAPSS: "RSASSA-PSS", x509.PureEd25519: "ED25519", x509.MLDSA65: "ML-DSA-65",
	} {
		if got := SigAlgName(alg); got != want {
			t.Errorf("SigAlgName(%v) = %q, want %q", alg, got, want)
		}
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	ml, _ := mldsa.GenerateKey(mldsa.MLDSA65())
	for _, c := range []struct {
		pub  any
		want string
	}{{&p256.PublicKey, "EC256"}, {&p384.PublicKey, "EC384"}, {&rsaKey.PublicKey, "RSA2048"}, {edPub, "ED25519"}, {ml.PublicKey(), "ML-DSA-65"}} {
		if got := KeyAlgName(c.pub); got != c.want {
			t.Errorf("KeyAlgName(%T) = %q, want %q", c.pub, got, c.want)
		}
	}
}
