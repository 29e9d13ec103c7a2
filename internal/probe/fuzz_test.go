package probe

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// recordFlight runs a crypto/tls handshake with a server of cfg, as an
// attempt does, and returns what the server sent and the logged server
// handshake traffic secret (none for TLS 1.2).
func recordFlight(t testing.TB, server, client *tls.Config) (sent, secret []byte) {
	t.Helper()
	addr, _ := goServer(t, server)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tp, keys := &tap{Conn: c}, &keyLog{}
	client.InsecureSkipVerify, client.KeyLogWriter = true, keys
	if err := tls.Client(tp, client).Handshake(); err != nil {
		t.Fatal(err)
	}
	return tp.bytes(), keys.serverHandshake()
}

// flightSeeds are real flights: TLS 1.3 with both chains (ML-DSA served),
// after a HelloRetryRequest, with a CertificateRequest, and TLS 1.2.
func flightSeeds(t testing.TB) [][2][]byte {
	ml, ec := selfSigned(t, newKey(t, "ML-DSA-65")), selfSigned(t, newKey(t, "ECDSA P-256"))
	var out [][2][]byte
	for _, tc := range []struct{ server, client *tls.Config }{
		{&tls.Config{Certificates: []tls.Certificate{ml, ec}}, &tls.Config{}},
		{&tls.Config{Certificates: []tls.Certificate{ec}, CurvePreferences: []tls.CurveID{tls.SecP384r1MLKEM1024}}, &tls.Config{}},
		{&tls.Config{Certificates: []tls.Certificate{ec}, ClientAuth: tls.RequestClientCert, ClientCAs: pool(ml, ec)}, &tls.Config{}},
		{&tls.Config{Certificates: []tls.Certificate{ec}, ClientAuth: tls.RequestClientCert, ClientCAs: pool(ml, ec)}, &tls.Config{MaxVersion: tls.VersionTLS12}},
	} {
		sent, secret := recordFlight(t, tc.server, tc.client)
		out = append(out, [2][]byte{sent, secret})
	}
	return out
}

// The seeds decode as they should, so that the fuzzers start from flights
// that reach every message.
func TestDecodeFlightSeeds(t *testing.T) {
	for i, s := range flightSeeds(t) {
		f, err := decodeFlight(s[0], s[1])
		if err != nil || !f.finished || len(f.certs) == 0 || f.scheme == 0 {
			t.Errorf("seed %d: %v, %+v", i, err, f)
		}
		if i >= 2 && (f.request == nil || len(f.request.authorities) != 2) {
			t.Errorf("seed %d: certificate request %+v", i, f.request)
		}
	}
}

// FuzzDecodeFlight feeds arbitrary server bytes and secrets to the flight
// decoder: it must return, without panicking.
func FuzzDecodeFlight(f *testing.F) {
	for _, s := range flightSeeds(f) {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, sent, secret []byte) {
		decodeFlight(sent, secret)
	})
}

// plainFlight is a TLS 1.3 seed flight decrypted: the handshake messages
// from EncryptedExtensions to Finished, as readEncrypted reads them.
func plainFlight(t testing.TB, sent, secret []byte) []byte {
	c := &recordReader{r: bytes.NewReader(sent)}
	var f flight
	_, sh, err := f.readServerHello(c)
	if err == nil && sh.retry {
		_, sh, err = f.readServerHello(c)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, _ := suiteFor(sh.suite)
	c.setKeys(s.trafficKeys(secret))
	var out []byte
	for {
		msg, err := c.message()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, msg...)
		if msg[0] == typeFinished {
			return out
		}
	}
}

// FuzzReadEncrypted feeds arbitrary handshake messages, as if decrypted,
// to the reader of a server's encrypted flight, CertificateVerify check
// included: it must return, without panicking.
func FuzzReadEncrypted(f *testing.F) {
	for _, s := range flightSeeds(f)[:3] {
		f.Add(plainFlight(f, s[0], s[1]))
	}
	offered := append(append([]tls.SignatureScheme{}, mldsaSchemes...), classicalSchemes...)
	f.Fuzz(func(t *testing.T, stream []byte) {
		var records []byte
		for len(stream) > 0 {
			n := min(len(stream), 1<<14)
			records = append(records, record(stream[:n], false)...)
			stream = stream[n:]
		}
		var fl flight
		fl.readEncrypted(&recordReader{r: bytes.NewReader(records)}, sha256.New(), offered)
	})
}

// fakeServer answers the reader's ClientHellos with fixed bytes.
type fakeServer struct{ io.Reader }

func (fakeServer) Write(b []byte) (int, error) { return len(b), nil }

// FuzzHandshakeReader runs the handshake reader against a server that
// sends arbitrary bytes: ServerHellos, HelloRetryRequests and alerts
// however malformed. It must return, without panicking.
func FuzzHandshakeReader(f *testing.F) {
	for _, s := range flightSeeds(f) {
		f.Add(s[0])
	}
	f.Add([]byte("\x15\x03\x03\x00\x02\x02\x28")) // a handshake_failure alert
	f.Fuzz(func(t *testing.T, sent []byte) {
		handshake13(fakeServer{bytes.NewReader(sent)}, offerWithoutMLDSA("fuzz.example"))
	})
}

// FuzzParsers feeds one arbitrary message to every parser.
func FuzzParsers(f *testing.F) {
	for _, s := range flightSeeds(f)[:3] {
		plain := plainFlight(f, s[0], s[1])
		for len(plain) >= 4 {
			n := 4 + (int(plain[1])<<16 | int(plain[2])<<8 | int(plain[3]))
			f.Add(plain[:n])
			plain = plain[n:]
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		parseServerHello(msg)
		parseCertRequest13(msg)
		parseCertRequest12(msg)
		parseCertificate(msg, true)
		parseCertificate(msg, false)
		parseCertificateVerify(msg)
		parseServerKeyExchange12(msg)
		if cr, err := parseCertRequest13(msg); err == nil {
			distinguishedNames(cr.authorities)
		}
	})
}

// Lengths from the server are checked before anything is allocated for
// them: a record longer than TLS allows and a handshake message longer
// than the bound are refused at their headers.
func TestReaderBounds(t *testing.T) {
	for _, tc := range []struct {
		sent, want string
	}{
		{"\x16\x03\x03\xff\xff", "record of 65535 bytes"},
		{"\x16\x03\x03\x00\x04\x02\xff\xff\xff", "handshake message of 16777215 bytes"},
		{"HTTP/1.1 400", "not TLS"},
		{"", "closed the connection without answering"},
	} {
		c := &recordReader{r: strings.NewReader(tc.sent)}
		if _, err := c.message(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.sent, err, tc.want)
		}
	}
}
