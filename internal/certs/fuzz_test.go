package certs

import (
	"os"
	"testing"
)

// FuzzParseKey feeds key files, seeded with every form OpenSSL 3.5 writes:
// parsing must never panic, whatever the bytes.
func FuzzParseKey(f *testing.F) {
	for _, name := range []string{"mldsa65-seed.key", "mldsa65-both.key", "mldsa65-expanded.key", "mldsa44-both.key"} {
		data, err := os.ReadFile(td + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		if der := mustPEMf(data); der != nil {
			f.Add(der)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseKey(data)
		parsePKCS8(data)
	})
}

func mustPEMf(data []byte) []byte {
	b, _ := pemDecode(data)
	return b
}
