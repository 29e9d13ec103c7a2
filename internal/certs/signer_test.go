package certs

import (
	"bytes"
	"crypto"
	"crypto/fips140"
	"crypto/mldsa"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var allParams = []mldsa.Parameters{mldsa.MLDSA44(), mldsa.MLDSA65(), mldsa.MLDSA87()}

// writeKeyForms writes the key of seed in each of the three PKCS#8 forms
// (RFC 9881, Section 6) and returns their paths by form. The expanded
// key comes from circl, as OpenSSL would write it.
func writeKeyForms(t testing.TB, params mldsa.Parameters, seed []byte) map[KeyForm]string {
	t.Helper()
	_, sk := circlScheme(params).DeriveKey(seed)
	expanded, err := sk.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	oid := map[mldsa.Parameters]asn1.ObjectIdentifier{mldsa.MLDSA44(): oidMLDSA44, mldsa.MLDSA65(): oidMLDSA65, mldsa.MLDSA87(): oidMLDSA87}[params]
	seedOnly, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: seed})
	expandedOnly, _ := asn1.Marshal(expanded)
	both, _ := asn1.Marshal(bothForm{Seed: seed, Expanded: expanded})
	dir := t.TempDir()
	out := map[KeyForm]string{}
	for form, inner := range map[KeyForm][]byte{FormSeed: seedOnly, FormBoth: both, FormExpanded: expandedOnly} {
		var p pkcs8
		p.Algo.Algorithm = oid
		p.PrivateKey = inner
		der, err := asn1.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, strings.ReplaceAll(string(form), " ", "-")+".key")
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		out[form] = path
	}
	return out
}

// Every form of every parameter set loads as circl's signer, whose
// Public is the *mldsa.PublicKey crypto/mldsa derives from the seed, and
// every signature it makes, with and without a context, verifies with
// crypto/mldsa and with circl, and with neither under another context.
// Signing is hedged (two signatures of one message differ) and pure:
// pre-hashed signing is refused.
func TestCirclSignerEveryFormAndSet(t *testing.T) {
	if fips140.Enabled() {
		t.Skip("FIPS 140-3 mode: see TestFIPSModeSignsWithCryptoMLDSA")
	}
	msg := []byte("TLS 1.3, server CertificateVerify")
	for _, params := range allParams {
		seed := make([]byte, mldsa.PrivateKeySize)
		rand.Read(seed)
		std, err := mldsa.NewPrivateKey(params, seed)
		if err != nil {
			t.Fatal(err)
		}
		for form, path := range writeKeyForms(t, params, seed) {
			t.Run(params.String()+"/"+string(form), func(t *testing.T) {
				key, gotForm, err := LoadKey(path)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := key.(*circlSigner); !ok || gotForm != form || SignerName(key) != SignerCircl {
					t.Fatalf("loaded %T (%s), form %q, want circl's signer, form %q", key, SignerName(key), gotForm, form)
				}
				pub, ok := key.Public().(*mldsa.PublicKey)
				if !ok || !pub.Equal(std.PublicKey()) {
					t.Fatalf("Public() is %T, not crypto/mldsa's public key of the seed", key.Public())
				}
				for _, opts := range []crypto.SignerOpts{nil, crypto.Hash(0), &mldsa.Options{}, &mldsa.Options{Context: "quantum-safe-proxy test"}} {
					var ctx string
					if o, ok := opts.(*mldsa.Options); ok {
						ctx = o.Context
					}
					sig, err := key.Sign(nil, msg, opts)
					if err != nil {
						t.Fatalf("opts %#v: %v", opts, err)
					}
					if err := mldsa.Verify(pub, msg, sig, &mldsa.Options{Context: ctx}); err != nil {
						t.Errorf("context %q: crypto/mldsa rejects the signature: %v", ctx, err)
					}
					if !circlVerifyContext(pub, msg, sig, ctx) {
						t.Errorf("context %q: circl rejects the signature", ctx)
					}
					if mldsa.Verify(pub, msg, sig, &mldsa.Options{Context: ctx + "x"}) == nil || circlVerifyContext(pub, msg, sig, ctx+"x") {
						t.Errorf("context %q: the signature verifies under another context", ctx)
					}
					again, _ := key.Sign(nil, msg, opts)
					if bytes.Equal(sig, again) {
						t.Errorf("context %q: two signatures of one message are equal: signing is not hedged", ctx)
					}
				}
				for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA512, crypto.MLDSAMu} {
					if _, err := key.Sign(nil, msg, h); err == nil {
						t.Errorf("pre-hashed signing with %v was not refused", h)
					}
				}
				if _, err := key.Sign(nil, msg, &mldsa.Options{Context: strings.Repeat("c", 256)}); err == nil {
					t.Error("a 256-byte context was not refused (FIPS 204: at most 255)")
				}
			})
		}
	}
}

// One signer serves concurrent handshakes: signatures made at once from
// several goroutines all verify.
func TestCirclSignerConcurrent(t *testing.T) {
	key, _, err := LoadKey(td + "mldsa65-seed.key")
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public().(*mldsa.PublicKey)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				msg := []byte{byte(g), byte(i)}
				sig, err := crypto.SignMessage(key, rand.Reader, msg, crypto.Hash(0))
				if err != nil || mldsa.Verify(pub, msg, sig, nil) != nil {
					t.Errorf("goroutine %d signature %d: %v", g, i, err)
				}
			}
		})
	}
	wg.Wait()
}

// The load-time check is what refuses a signer whose signatures do not
// verify with crypto/mldsa: here circl is made to derive another key
// from the seed, and the key file is refused with one line that names
// it and says what to do.
func TestLoadRefusesSignerThatDoesNotVerify(t *testing.T) {
	if fips140.Enabled() {
		t.Skip("FIPS 140-3 mode signs with crypto/mldsa")
	}
	defer func(f func(mldsa.Parameters, []byte, *mldsa.PublicKey) *circlSigner) { deriveCircl = f }(deriveCircl)
	deriveCircl = func(params mldsa.Parameters, seed []byte, pub *mldsa.PublicKey) *circlSigner {
		other := bytes.Clone(seed)
		other[0] ^= 1
		return newSeedSigner(params, other, pub)
	}
	for _, file := range []string{"mldsa65-seed.key", "mldsa65-both.key", "mldsa44-both.key"} {
		_, _, err := LoadKey(td + file)
		params := "ML-DSA-65"
		if strings.HasPrefix(file, "mldsa44") {
			params = "ML-DSA-44"
		}
		want := td + file + ": " + params + " private key: a test signature made by circl does not verify with crypto/mldsa (mldsa: invalid signature); this is a bug in circl or Go, report it; until it is fixed, GODEBUG=fips140=on signs with crypto/mldsa"
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v\nwant %s", file, err, want)
		}
	}
	// The expanded-only key does not go through deriveCircl.
	if _, _, err := LoadKey(td + "mldsa65-expanded.key"); err != nil {
		t.Errorf("expanded-only key: %v", err)
	}
}

// A seed+expanded key whose expanded half is another key's is refused
// before any signer is made.
func TestLoadRefusesMismatchedExpandedPart(t *testing.T) {
	files := writeKeyForms(t, mldsa.MLDSA65(), make([]byte, 32))
	other := bytes.Repeat([]byte{1}, 32)
	_, sk := circlScheme(mldsa.MLDSA65()).DeriveKey(other)
	expanded, _ := sk.MarshalBinary()
	inner, _ := asn1.Marshal(bothForm{Seed: make([]byte, 32), Expanded: expanded})
	der, _ := asn1.Marshal(pkcs8{Algo: pkix.AlgorithmIdentifier{Algorithm: oidMLDSA65}, PrivateKey: inner})
	path := filepath.Join(filepath.Dir(files[FormBoth]), "mismatched.key")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	_, _, err := LoadKey(path)
	want := path + ": ML-DSA-65 private key is inconsistent: its expanded key was not derived from its seed; regenerate it"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

// fipsChildEnv marks the copy of the test binary that runs in FIPS 140-3 mode.
const fipsChildEnv = "QSP_TEST_FIPS_CHILD"

// With GODEBUG=fips140=on, seed-only and seed+expanded keys of every set
// sign with crypto/mldsa (the Go Cryptographic Module), named so, and an
// expanded-only key is refused with one line that says why and how to
// fix it. The mode is fixed at start, so the test binary runs itself.
func TestFIPSModeSignsWithCryptoMLDSA(t *testing.T) {
	if os.Getenv(fipsChildEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFIPSModeSignsWithCryptoMLDSA$", "-test.v")
		cmd.Env = append(os.Environ(), fipsChildEnv+"=1", "GODEBUG=fips140=on")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestFIPSModeSignsWithCryptoMLDSA") {
			t.Fatalf("in FIPS 140-3 mode: %v\n%s", err, out)
		}
		return
	}
	if !fips140.Enabled() {
		t.Fatal("GODEBUG=fips140=on did not turn FIPS 140-3 mode on")
	}
	msg := []byte("TLS 1.3, server CertificateVerify")
	for _, params := range allParams {
		seed := make([]byte, mldsa.PrivateKeySize)
		rand.Read(seed)
		files := writeKeyForms(t, params, seed)
		for _, form := range []KeyForm{FormSeed, FormBoth} {
			key, _, err := LoadKey(files[form])
			if err != nil {
				t.Fatalf("%s %s: %v", params, form, err)
			}
			if _, ok := key.(*mldsa.PrivateKey); !ok || SignerName(key) != SignerFIPS {
				t.Errorf("%s %s: signer %T (%s), want crypto/mldsa's", params, form, key, SignerName(key))
			}
			pub := key.Public().(*mldsa.PublicKey)
			sig, err := crypto.SignMessage(key, rand.Reader, msg, crypto.Hash(0))
			if err != nil || mldsa.Verify(pub, msg, sig, nil) != nil || !CirclVerify(pub, msg, sig) {
				t.Errorf("%s %s: signature does not verify (%v)", params, form, err)
			}
		}
		_, _, err := LoadKey(files[FormExpanded])
		want := files[FormExpanded] + ": " + params.String() + " private key is expanded-only (no seed), and Go's FIPS 140-3 module, in force here (GODEBUG fips140), signs only with a key it derives from its seed; regenerate the key with its seed (openssl genpkey -algorithm " + params.String() + "; or certs init) and reissue its certificate"
		if err == nil || err.Error() != want {
			t.Errorf("%s expanded-only: err = %v\nwant %s", params, err, want)
		}
	}
}
