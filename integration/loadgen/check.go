package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/mldsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// checkError is a handshake that did not give what the workload expects:
// a hard failure of the whole run, never a statistic.
type checkError struct {
	check string // version, group, chain, certificate, resumption, client auth
	msg   string
}

func (e *checkError) Error() string { return "check failed: " + e.check + ": " + e.msg }

// client is one sequential client of a workload: its configuration (with
// its own session cache when the workload resumes) and what it expects.
type client struct {
	cfg  *tls.Config
	leaf string // the served leaf's key: "ML-DSA-65" or "ECDSA P-256"
	// resume: every connection after this client's first must resume.
	resume bool
	mtls   bool
	conns  int // connections made so far
	asked  int // CertificateRequests seen (GetClientCertificate calls)
}

// newClient makes a client of workload w with Go's defaults: the test CA
// as the only root, SNI localhost, every group and signature algorithm Go
// offers (the checks, not the configuration, hold the handshake to
// X25519MLKEM768 and the workload's certificate).
func (b *bench) newClient(w *workload) *client {
	c := &client{leaf: w.leaf, resume: w.kind == resumed, mtls: w.mtls}
	c.cfg = &tls.Config{RootCAs: b.roots, ServerName: "localhost"}
	if c.resume {
		c.cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	}
	if c.mtls {
		// A callback rather than Certificates, to see that the server
		// asked for a certificate on every full handshake.
		c.cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c.asked++
			return &b.clientCert, nil
		}
	}
	return c
}

// dial connects to addr, completes and checks the handshake, and echoes
// one byte through the tunnel (which also reads the session tickets a TLS
// 1.3 server sends after its handshake). The caller closes the connection.
func (c *client) dial(addr string) (*tls.Conn, error) {
	raw, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, c.cfg)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	asked := c.asked
	if err := conn.HandshakeContext(context.Background()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	c.conns++
	if err := c.check(conn.ConnectionState(), c.asked > asked); err != nil {
		conn.Close()
		return nil, err
	}
	if err := echoByte(conn); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

// check holds one handshake to what the workload serves. crypto/tls has
// already verified the chain (no InsecureSkipVerify) and the peer's
// CertificateVerify with the leaf's key; Go 1.27's ConnectionState does
// not expose the signature scheme the peer used (only an unexported
// testing field), so the leaf's key stands for it: in TLS 1.3 an ML-DSA-65
// key signs only with mldsa65 and a P-256 key only with
// ecdsa_secp256r1_sha256 (RFC 8446 section 4.2.3).
func (c *client) check(cs tls.ConnectionState, asked bool) error {
	switch {
	case cs.Version != tls.VersionTLS13:
		return &checkError{"version", fmt.Sprintf("got %s, want TLS 1.3", tls.VersionName(cs.Version))}
	case cs.CurveID != tls.X25519MLKEM768:
		return &checkError{"group", fmt.Sprintf("got %v, want X25519MLKEM768", cs.CurveID)}
	case len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0:
		return &checkError{"chain", "no chain verified against the test CA"}
	}
	if got := keyName(cs.PeerCertificates[0].PublicKey); got != c.leaf {
		return &checkError{"certificate", fmt.Sprintf("the server's leaf key is %s, want %s", got, c.leaf)}
	}
	if c.resume && c.conns > 1 && !cs.DidResume {
		return &checkError{"resumption", fmt.Sprintf("connection %d of a client with a session cache made a full handshake", c.conns)}
	}
	if !c.resume && cs.DidResume {
		return &checkError{"resumption", "resumed where a full handshake was measured"}
	}
	if c.mtls && !cs.DidResume && !asked {
		return &checkError{"client auth", "the server asked for no client certificate"}
	}
	return nil
}

// refusesAnonymous checks that a server meant to require client
// certificates refuses a client without one: in TLS 1.3 the client's
// handshake completes first, and the refusal arrives as an alert on the
// first read.
func (b *bench) refusesAnonymous(addr string) error {
	cfg := &tls.Config{RootCAs: b.roots, ServerName: "localhost"}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil // refused during the handshake
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if echoByte(conn) == nil {
		return &checkError{"client auth", "a client without a certificate was served"}
	}
	return nil
}

// echoByte sends one byte and reads it back.
func echoByte(conn net.Conn) error {
	buf := []byte{'x'}
	if _, err := conn.Write(buf); err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	if _, err := io.ReadFull(conn, buf); err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	return nil
}

// keyName names a public key as the checks and the table do.
func keyName(pub any) string {
	switch k := pub.(type) {
	case *mldsa.PublicKey:
		return k.Parameters().String()
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	}
	return fmt.Sprintf("%T", pub)
}

// loadRoots reads the test CA.
func loadRoots(pemData []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, errors.New("no certificate in the CA file")
	}
	return pool, nil
}
