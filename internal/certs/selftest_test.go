package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/mldsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

// damagedExpanded writes a copy of testdata/mldsa65-expanded.key with one
// bit flipped at offset into the FIPS 204 expanded key (rho 32 | K 32 |
// tr 64 | s1 | s2 | t0). Such a key still matches its certificate: the
// public key follows from rho, s1 and s2 alone.
func damagedExpanded(t *testing.T, offset int) string {
	t.Helper()
	data, err := os.ReadFile(td + "mldsa65-expanded.key")
	if err != nil {
		t.Fatal(err)
	}
	der := mustPEM(t, data)
	expanded := der[len(der)-4032:] // the OCTET STRING ends the PKCS#8 DER
	expanded[offset] ^= 0x10
	p := filepath.Join(t.TempDir(), "damaged.key")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A key without seed whose tr or t0 is damaged is refused at load, naming
// the file: before, it loaded, matched its certificate, passed check, and
// then every (tr) or some (t0) handshake signatures failed.
func TestLoadChainRefusesDamagedExpandedKey(t *testing.T) {
	for offset, part := range map[int]string{
		64 + 7:     "its tr (bytes 64 to 127) is not the hash of its public key",
		4032 - 1:   "its t0 does not follow from s1 and s2",
		4032 - 900: "its t0 does not follow from s1 and s2",
	} {
		bad := damagedExpanded(t, offset)
		_, err := LoadChain(td+"mldsa65.crt", bad)
		want := bad + ": ML-DSA-65 expanded private key (no seed) is damaged: " + part + "; regenerate the key and reissue its certificate"
		if err == nil || err.Error() != want {
			t.Errorf("byte %d: err = %v\nwant %s", offset, err, want)
		}
	}
}

// The signing self-test of LoadChain catches a damaged tr on its own: a
// signer built past the load-time check never makes a signature that verifies.
func TestSignVerifyCatchesDamagedTR(t *testing.T) {
	data, err := os.ReadFile(td + "mldsa65-expanded.key")
	if err != nil {
		t.Fatal(err)
	}
	der := mustPEM(t, data)
	expanded := append([]byte(nil), der[len(der)-4032:]...)
	expanded[64] ^= 1
	sk, err := circlScheme(mldsa.MLDSA65()).UnmarshalBinaryPrivateKey(expanded)
	if err != nil {
		t.Fatal(err)
	}
	leaf := mustLeaf(t)
	s := &circlSigner{params: mldsa.MLDSA65(), sk: sk, pub: leaf.PublicKey.(*mldsa.PublicKey)}
	if err := signVerify(s, leaf.PublicKey); err == nil || err.Error() != "mldsa: invalid signature" {
		t.Errorf("signVerify = %v, want mldsa: invalid signature", err)
	}
}

// checkExpanded accepts every genuine expanded key of every parameter set
// (derived by circl, an independent implementation, from random seeds)
// and refuses each one with a bit flipped in tr, s1, s2 or t0.
func TestCheckExpanded(t *testing.T) {
	for _, params := range []mldsa.Parameters{mldsa.MLDSA44(), mldsa.MLDSA65(), mldsa.MLDSA87()} {
		for range 3 {
			seed := make([]byte, 32)
			rand.Read(seed)
			pk, sk := circlScheme(params).DeriveKey(seed)
			skb, _ := sk.MarshalBinary()
			pkb, _ := pk.MarshalBinary()
			if err := checkExpanded(params, skb, pkb); err != nil {
				t.Fatalf("%s: genuine key refused: %v", params, err)
			}
			k, l, _ := mldsaShape(params)
			etaBytes := (len(skb) - 128 - k*416) / (k + l)
			for _, off := range []int{64, 127, 128, 128 + l*etaBytes, len(skb) - k*416, len(skb) - 1} {
				bad := append([]byte(nil), skb...)
				bad[off] ^= 0x04
				if checkExpanded(params, bad, pkb) == nil {
					t.Errorf("%s: flipped byte %d accepted", params, off)
				}
			}
		}
	}
}

// Every kind of served key passes the self-test the way crypto/tls signs.
func TestSignVerifyEveryKeyType(t *testing.T) {
	for _, file := range []string{"mldsa65-seed.key", "mldsa65-both.key", "mldsa65-expanded.key", "mldsa44-both.key", "mldsa87-both.key"} {
		key, _, err := LoadKey(td + file)
		if err != nil {
			t.Fatal(err)
		}
		if err := signVerify(key, key.Public()); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
	for name, gen := range map[string]func() (crypto.Signer, error){
		"ECDSA P-256": func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) },
		"ECDSA P-384": func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) },
		"ECDSA P-521": func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P521(), rand.Reader) },
		"RSA 2048":    func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) },
		"Ed25519":     func() (crypto.Signer, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err },
	} {
		key, err := gen()
		if err != nil {
			t.Fatal(err)
		}
		if err := signVerify(key, key.Public()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// And a key that is not the certificate's is caught.
		other, _ := gen()
		if err := signVerify(key, other.Public()); err == nil {
			t.Errorf("%s: a signature verified under another key", name)
		}
	}
}

func mustLeaf(t *testing.T) *x509.Certificate {
	t.Helper()
	c, err := LoadCertificates(td + "mldsa65.crt")
	if err != nil {
		t.Fatal(err)
	}
	return c[0]
}

// ML-DSA-44 and -87 load seed-only and expanded-only too, and sign.
func TestOtherParameterSetsEveryForm(t *testing.T) {
	for file, alg := range map[string]string{"mldsa44-both.key": "ML-DSA-44", "mldsa87-both.key": "ML-DSA-87"} {
		forms := otherForms(t, readTestdata(t, file))
		for i, want := range []KeyForm{FormSeed, FormExpanded} {
			key, form, err := ParseKey(forms[i])
			if err != nil || form != want || Algorithm(key.Public()) != alg {
				t.Fatalf("%s as %s: %v %q", file, want, err, form)
			}
			if err := signVerify(key, key.Public()); err != nil {
				t.Errorf("%s as %s: %v", file, want, err)
			}
		}
	}
}

// BenchmarkLoadTimeChecks is the cost added to each start and reload per
// served key: the expanded-key check (keys without seed only) and the
// signing self-test.
func BenchmarkLoadTimeChecks(b *testing.B) {
	for _, params := range []mldsa.Parameters{mldsa.MLDSA44(), mldsa.MLDSA65(), mldsa.MLDSA87()} {
		pk, sk := circlScheme(params).DeriveKey(make([]byte, 32))
		skb, _ := sk.MarshalBinary()
		pkb, _ := pk.MarshalBinary()
		b.Run("checkExpanded/"+params.String(), func(b *testing.B) {
			for b.Loop() {
				if err := checkExpanded(params, skb, pkb); err != nil {
					b.Fatal(err)
				}
			}
		})
		key, err := newExpandedSigner(params, skb)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("signVerify/"+params.String(), func(b *testing.B) {
			for b.Loop() {
				if err := signVerify(key, key.Public()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
