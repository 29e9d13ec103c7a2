package proxy

import (
	"encoding/binary"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// A ClientHello near its 64 KiB limit, with a 20,000-byte server name and
// 8,000 cipher suites the proxy does not serve (crypto/tls lists each in
// its error), is refused with a line of bounded size that still shows the
// start of what the client sent and how long it was.
func TestClientChosenTextIsBoundedInLogs(t *testing.T) {
	cfg := baseConfig()
	// The ECDSA chain alone, so that crypto/tls refuses the hello for its
	// cipher suites (an ML-DSA chain would be refused first, to TLS 1.2).
	dir := pki(t)
	cfg.Certificates = []config.CertPair{{CertPath: filepath.Join(dir, certs.ServerECDSACert), KeyPath: filepath.Join(dir, certs.ServerECDSAKey)}}
	h := start(t, cfg, nil)
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sni := strings.Repeat("a", 20000)
	if _, err := c.Write(bigHello(sni, 8000)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.Read(make([]byte, 64)) // the alert
	rec := h.log.wait(t, "handshake refused")
	for _, key := range []string{"sni", "error"} {
		if v := rec[key]; len(v) > 600 || !strings.HasSuffix(v, " bytes)") {
			t.Errorf("%s logged as %d bytes ending %q, want at most 600 ending with the length sent", key, len(v), v[max(0, len(v)-40):])
		}
	}
	if !strings.Contains(rec["error"], "no cipher suite supported") {
		t.Errorf("error logged as %q, want crypto/tls's cipher suite refusal", rec["error"])
	}
	if want := "aaaaaaaa... (20000 bytes)"; !strings.HasSuffix(rec["sni"], want) {
		t.Errorf("sni logged ending %q, want %q", rec["sni"][max(0, len(rec["sni"])-40):], want)
	}
}

// bigHello is a TLS 1.2 ClientHello, split into records of at most
// 16 KiB (RFC 5246 section 6.2.1), asking for sni and offering n cipher
// suites from a range crypto/tls implements none of.
func bigHello(sni string, n int) []byte {
	var suites []byte
	for i := range n {
		suites = binary.BigEndian.AppendUint16(suites, uint16(0x0100+i))
	}
	// server_name (RFC 6066 section 3): list length, type host_name, name.
	name := binary.BigEndian.AppendUint16([]byte{0}, uint16(len(sni)))
	name = append(name, sni...)
	ext := binary.BigEndian.AppendUint16([]byte{0, 0}, uint16(len(name)+2))
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(name)))
	ext = append(ext, name...)

	body := append([]byte{3, 3}, make([]byte, 32)...) // version, random
	body = append(body, 0)                            // no session id
	body = binary.BigEndian.AppendUint16(body, uint16(len(suites)))
	body = append(body, suites...)
	body = append(body, 1, 0) // null compression only
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	msg := append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)

	var out []byte
	for len(msg) > 0 {
		k := min(len(msg), 16384)
		out = append(out, 22, 3, 1, byte(k>>8), byte(k))
		out = append(out, msg[:k]...)
		msg = msg[k:]
	}
	return out
}
