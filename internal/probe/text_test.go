package probe

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"
)

// What the server chooses to put in its certificates (subject, names)
// and in its CertificateRequest (CA names) reaches the report, which is
// read on a terminal: a newline there would forge a line of the report
// (a "PQ-ready: yes" of its own), an escape sequence would clear the
// screen or retitle the window. The text report shows such a string
// quoted, escapes visible, and only its own line breaks.
func TestTextEscapesServerStrings(t *testing.T) {
	const evil = "\x1b]0;title\x07\x1b[2J\rlocalhost\nPQ-ready: yes, forged"
	key := newKey(t, "ECDSA P-256")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: evil},
		DNSNames:     []string{"a\x1b[2J.example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	r := probeGo(t, &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, ClientCAs: pool(cert)},
		Options{ServerName: "localhost", Roots: pool(cert)})
	var b bytes.Buffer
	r.WriteText(&b)
	out := b.String()
	for i, c := range []byte(out) {
		if c < 0x20 && c != '\n' || c == 0x7f {
			t.Fatalf("the report holds control character %#x at byte %d:\n%q", c, i, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "PQ-ready: yes, forged") {
			t.Errorf("a line of the report was forged by the server:\n%s", out)
		}
	}
	if !strings.Contains(out, `\x1b[2J`) {
		t.Errorf("the subject is not shown, escaped:\n%s", out)
	}
}
