package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// prober makes the attempts of one probe.
type prober struct {
	address string
	opts    Options
	name    string // the server name: SNI and the name verified
}

// hybridGroups and classicalGroups are the groups offered by the
// attempts that offer only one kind: every hybrid crypto/tls knows (pure
// MLKEM1024 aside, which no browser offers), and the classical curves
// browsers offer.
var (
	hybridGroups    = []tls.CurveID{tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024}
	classicalGroups = []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384}
)

// attempts lists the attempts in the order they are made: hybrid first,
// as the one the verdict rests on.
func (p *prober) attempts() []func(context.Context) Attempt {
	list := []func(context.Context) Attempt{
		func(ctx context.Context) Attempt {
			return p.goAttempt(ctx, AttemptHybrid, "hybrid groups only: "+groupList(hybridGroups),
				&tls.Config{CurvePreferences: hybridGroups, MinVersion: tls.VersionTLS13}, nil)
		},
		func(ctx context.Context) Attempt {
			return p.goAttempt(ctx, AttemptClassical, "classical groups only: "+groupList(classicalGroups),
				&tls.Config{CurvePreferences: classicalGroups, MinVersion: tls.VersionTLS13}, nil)
		},
		func(ctx context.Context) Attempt {
			return p.goAttempt(ctx, AttemptMLDSA, "Go's default ClientHello, which offers ML-DSA", &tls.Config{}, nil)
		},
		func(ctx context.Context) Attempt {
			return p.readerAttempt(ctx, AttemptMLDSACerts, "ML-DSA for the handshake and for certificate signatures (no signature_algorithms_cert), as OpenSSL 3.5 offers it",
				offerMLDSACerts(p.name))
		},
		func(ctx context.Context) Attempt {
			return p.readerAttempt(ctx, AttemptNoMLDSA, "a ClientHello without ML-DSA: classical signature algorithms",
				offerWithoutMLDSA(p.name))
		},
		func(ctx context.Context) Attempt {
			return p.goAttempt(ctx, AttemptTLS12, "TLS 1.2 only", &tls.Config{MaxVersion: tls.VersionTLS12}, nil)
		},
	}
	if p.opts.ClientCert != nil {
		list = append(list, func(ctx context.Context) Attempt {
			return p.goAttempt(ctx, AttemptClientCert, "Go's default ClientHello, presenting the client certificate", &tls.Config{}, p.opts.ClientCert)
		})
	}
	return list
}

func groupList(gs []tls.CurveID) string {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = GroupName(g)
	}
	return strings.Join(names, ", ")
}

// dial connects for one attempt, whose context bounds it.
func (p *prober) dial(ctx context.Context) (net.Conn, error) {
	dial := p.opts.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	c, err := dial(ctx, "tcp", p.address)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	return c, nil
}

func (p *prober) timeout() time.Duration {
	if p.opts.Timeout > 0 {
		return p.opts.Timeout
	}
	return defaultTimeout
}

// goAttempt makes one attempt with crypto/tls's client. The chain is not
// verified in the handshake but after it, so that an untrusted chain is
// reported rather than ending the attempt: a probe is for diagnosis.
// What crypto/tls does not say is read from the bytes the server sent
// ([decodeFlight]), decrypted with the handshake secret this connection
// logs; the secret never leaves the process, and the connection carries
// no data.
func (p *prober) goAttempt(ctx context.Context, name, offered string, cfg *tls.Config, cert *tls.Certificate) Attempt {
	a := Attempt{Name: name, Offered: offered}
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	conn, err := p.dial(ctx)
	if err != nil {
		a.Error, a.silent, a.unconnected = err.Error(), true, true
		return a
	}
	defer conn.Close()
	tap := &tap{Conn: conn}
	keys := &keyLog{}
	cfg.ServerName = p.name
	cfg.InsecureSkipVerify = true // verified below: see the doc comment
	cfg.KeyLogWriter = keys
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		a.ClientCertRequested = true
		a.ClientCertCAs = distinguishedNames(cri.AcceptableCAs)
		if cert != nil {
			a.ClientCertSent = true
			return cert, nil
		}
		return &tls.Certificate{}, nil // none: the server decides whether that will do
	}
	tc := tls.Client(tap, cfg)
	start := time.Now()
	err = tc.HandshakeContext(ctx)
	st := tc.ConnectionState()
	if err == nil && a.ClientCertRequested && st.Version == tls.VersionTLS13 {
		err = settle(tc, time.Since(start))
	}
	f, ferr := decodeFlight(tap.bytes(), keys.serverHandshake())
	a.fromFlight(f, p)
	if err != nil && errors.Is(ferr, errNotTLS) {
		err = ferr // it shows what the server sent
	}
	if st.HandshakeComplete {
		a.Handshake = true
		a.Version, a.CipherSuite, a.HelloRetry = versionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.HelloRetryRequest
		a.setGroup(st.CurveID)
		a.setChain(st.PeerCertificates, p)
	}
	a.fail(err, tap.n == 0, p.timeout())
	return a
}

// settle waits, after a TLS 1.3 handshake in which the server asked for a
// client certificate, for the server's verdict on it: in TLS 1.3 the
// client finishes first, and a server that refuses the certificate (or
// its absence) says so with an alert after reading the client's Finished
// (RFC 8446, Section 4.4.2.4). It waits twice as long as the handshake
// took (which covers the round trip), at least 250 ms (a busy host's
// scheduling) and at most 2 s; a server that says nothing by then, or
// sends data, has accepted.
func settle(tc *tls.Conn, handshake time.Duration) error {
	wait := min(max(2*handshake, 250*time.Millisecond), 2*time.Second)
	tc.SetReadDeadline(time.Now().Add(wait))
	var b [1]byte
	_, err := tc.Read(b[:])
	if _, ok := alertOf(err); ok {
		return err
	}
	return nil
}

// readerAttempt makes an attempt with [handshake13], for offers
// crypto/tls cannot make: it offers ML-DSA in every TLS 1.3 ClientHello
// and cannot be told not to (golang.org/issue/81307), and it leaves
// ML-DSA out of signature_algorithms_cert (golang.org/issue/82536), so
// that an OpenSSL server whose chain is signed with ML-DSA refuses it.
func (p *prober) readerAttempt(ctx context.Context, name, offered string, of offer) Attempt {
	a := Attempt{Name: name, Offered: offered}
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	conn, err := p.dial(ctx)
	if err != nil {
		a.Error, a.silent, a.unconnected = err.Error(), true, true
		return a
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	tap := &tap{Conn: conn}
	f, err := handshake13(tap, of)
	a.fromFlight(f, p)
	a.Handshake = f.finished && err == nil
	a.fail(err, tap.n == 0, p.timeout())
	return a
}

// fail records how an attempt ended: OK, or the alert or error. silent:
// the server sent no byte on the connection, which was given timeout.
func (a *Attempt) fail(err error, silent bool, timeout time.Duration) {
	if err == nil {
		a.OK = true
		return
	}
	if d, ok := alertOf(err); ok {
		a.reached = true
		a.Alert = AlertName(d)
		a.Error = "the server refused with alert " + a.Alert
		if a.Handshake {
			a.Error = "the server refused the connection after the handshake with alert " + a.Alert
		}
		return
	}
	a.Error = err.Error()
	a.silent = silent && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded))
	if a.silent {
		// Said plainly: the error is a read's timeout or the context's,
		// which reads like a failure to connect.
		a.Error = "connected, but the server sent nothing in " + timeout.String()
	}
}

// alertOf finds the alert the server sent in an error of crypto/tls
// ("remote error: tls: handshake failure", a net.OpError around its
// unexported alert type, whose text is that of [tls.AlertError]) or of
// the handshake reader.
func alertOf(err error) (uint8, bool) {
	var ae *AlertError
	if errors.As(err, &ae) {
		return ae.Description, true
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	for d := range 256 {
		if tls.AlertError(d).Error() == op.Err.Error() {
			return uint8(d), true
		}
	}
	return 0, false
}

// tap keeps what the server sends, up to maxTapped bytes: a first flight
// (under 64 KiB with ML-DSA-87 chains) and what follows it.
type tap struct {
	net.Conn
	buf bytes.Buffer
	n   int // bytes read in all
}

const maxTapped = 1 << 20

func (t *tap) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	t.n += n
	if room := maxTapped - t.buf.Len(); room > 0 {
		t.buf.Write(b[:min(n, room)])
	}
	return n, err
}

func (t *tap) bytes() []byte { return t.buf.Bytes() }

// keyLog takes the server handshake traffic secret from the lines
// crypto/tls writes to Config.KeyLogWriter (NSS key log format).
type keyLog struct{ secret []byte }

func (k *keyLog) Write(line []byte) (int, error) {
	f := strings.Fields(string(line))
	if len(f) == 3 && f[0] == "SERVER_HANDSHAKE_TRAFFIC_SECRET" {
		k.secret, _ = hex.DecodeString(f[2])
	}
	return len(line), nil
}

func (k *keyLog) serverHandshake() []byte { return k.secret }

var _ io.Writer = (*keyLog)(nil)

// fromFlight records what a server's flight shows.
func (a *Attempt) fromFlight(f *flight, p *prober) {
	if f.version == 0 {
		return
	}
	a.reached = true
	a.Version, a.HelloRetry = versionName(f.version), f.helloRetry
	if f.suite != 0 {
		a.CipherSuite = tls.CipherSuiteName(f.suite)
	}
	a.setGroup(f.group)
	if f.scheme != 0 {
		a.SignatureScheme = SchemeName(f.scheme)
	}
	if f.request != nil {
		a.ClientCertRequested = true
		a.ClientCertCAs = distinguishedNames(f.request.authorities)
	}
	if len(f.certs) > 0 {
		a.setChain(parseChain(f.certs), p)
	}
}

func (a *Attempt) setGroup(g tls.CurveID) {
	if g != 0 {
		a.Group, a.PQ = GroupName(g), IsPQGroup(g)
	}
}
