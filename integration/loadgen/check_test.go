package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/mldsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
)

// Every check of client.check can fail, each naming itself: the
// integration test TestLoadgenChecksFail reaches only the certificate,
// group and client auth checks through a real proxy (no configuration
// of it makes a Go client skip resumption or TLS 1.3), so the others are
// proven here on the connection states a misbehaving server would give.
func TestCheckNamesEveryFailure(t *testing.T) {
	mk, err := mldsa.GenerateKey(mldsa.MLDSA65())
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	mldsaLeaf := &x509.Certificate{PublicKey: mk.Public()}
	ecdsaLeaf := &x509.Certificate{PublicKey: ek.Public()}
	// good is what a correct server gives a client of an ML-DSA-65 workload.
	good := func() tls.ConnectionState {
		return tls.ConnectionState{
			Version:          tls.VersionTLS13,
			CurveID:          tls.X25519MLKEM768,
			PeerCertificates: []*x509.Certificate{mldsaLeaf},
			VerifiedChains:   [][]*x509.Certificate{{mldsaLeaf}},
		}
	}
	for _, tc := range []struct {
		name   string
		c      client
		cs     func(*tls.ConnectionState)
		asked  bool
		failed string // the check named, "" for none
	}{
		{"full handshake as expected", client{leaf: "ML-DSA-65", conns: 5}, nil, false, ""},
		{"TLS 1.2", client{leaf: "ML-DSA-65", conns: 1}, func(cs *tls.ConnectionState) { cs.Version = tls.VersionTLS12 }, false, "version"},
		{"classical group", client{leaf: "ML-DSA-65", conns: 1}, func(cs *tls.ConnectionState) { cs.CurveID = tls.X25519 }, false, "group"},
		{"no verified chain", client{leaf: "ML-DSA-65", conns: 1}, func(cs *tls.ConnectionState) { cs.VerifiedChains = nil }, false, "chain"},
		{"ECDSA leaf", client{leaf: "ML-DSA-65", conns: 1}, func(cs *tls.ConnectionState) { cs.PeerCertificates = []*x509.Certificate{ecdsaLeaf} }, false, "certificate"},
		{"first connection of a resuming client", client{leaf: "ML-DSA-65", resume: true, conns: 1}, nil, false, ""},
		{"resumed as expected", client{leaf: "ML-DSA-65", resume: true, conns: 2}, func(cs *tls.ConnectionState) { cs.DidResume = true }, false, ""},
		{"no resumption", client{leaf: "ML-DSA-65", resume: true, conns: 2}, nil, false, "resumption"},
		{"resumed in a full-handshake workload", client{leaf: "ML-DSA-65", conns: 2}, func(cs *tls.ConnectionState) { cs.DidResume = true }, false, "resumption"},
		{"mTLS, certificate asked", client{leaf: "ML-DSA-65", mtls: true, conns: 1}, nil, true, ""},
		{"mTLS, certificate not asked", client{leaf: "ML-DSA-65", mtls: true, conns: 1}, nil, false, "client auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := good()
			if tc.cs != nil {
				tc.cs(&cs)
			}
			err := tc.c.check(cs, tc.asked)
			var ce *checkError
			switch {
			case tc.failed == "" && err != nil:
				t.Errorf("check failed: %v", err)
			case tc.failed != "" && !errors.As(err, &ce):
				t.Errorf("err = %v, want the %s check to fail", err, tc.failed)
			case tc.failed != "" && ce.check != tc.failed:
				t.Errorf("the %s check failed (%v), want the %s check", ce.check, err, tc.failed)
			}
		})
	}
}
