package certs

// An ML-DSA private key stored without its seed (FIPS 204, Algorithm 24
// skEncode: rho | K | tr | s1 | s2 | t0) repeats what the public key
// determines: tr = H(pk, 64) and t0, the low bits of t = A·s1 + s2
// (Algorithm 6, ML-DSA.KeyGen_internal). Neither circl nor crypto/mldsa
// checks them on load, and a damaged t0 still yields signatures that
// verify some of the time (FIPS 204, Algorithm 7: t0 only feeds the
// hints), so one test signature cannot prove such a key sound. This file
// recomputes both from rho, s1 and s2 and compares.

import (
	"bytes"
	"crypto/mldsa"
	"crypto/sha3"
	"fmt"
)

const (
	mldsaQ = 8380417 // FIPS 204, Section 4
	mldsaD = 13      // dropped bits of t
	mldsaN = 256
)

// mldsaShape is (k, l, eta) of each parameter set (FIPS 204, Table 1).
func mldsaShape(params mldsa.Parameters) (k, l, eta int) {
	switch params {
	case mldsa.MLDSA44():
		return 4, 4, 2
	case mldsa.MLDSA65():
		return 6, 5, 4
	default:
		return 8, 7, 2
	}
}

// checkExpanded reports which part of an expanded private key does not
// follow from the rest; pk is the public key encoding derived from it.
func checkExpanded(params mldsa.Parameters, sk, pk []byte) error {
	k, l, eta := mldsaShape(params)
	if !bytes.Equal(sk[64:128], shake256(pk, 64)) {
		return fmt.Errorf("its tr (bytes 64 to 127) is not the hash of its public key")
	}
	s1, s2, rest, err := unpackSecrets(sk[128:], k, l, eta)
	if err != nil {
		return err
	}
	t1, t0 := publicPart(sk[:32], s1, s2)
	if !bytes.Equal(pk[32:], t1) {
		return fmt.Errorf("its public key does not follow from s1 and s2")
	}
	if !bytes.Equal(rest, t0) {
		return fmt.Errorf("its t0 does not follow from s1 and s2")
	}
	return nil
}

// unpackSecrets decodes s1 (l polynomials) and s2 (k polynomials), each
// coefficient stored as eta - c (FIPS 204, Algorithm 17 BitPack), into
// coefficients mod q, and returns the bytes after them (t0).
func unpackSecrets(b []byte, k, l, eta int) (s1, s2 [][]uint32, rest []byte, err error) {
	bits := 3 // bitlen(2*eta) for eta 2
	if eta == 4 {
		bits = 4
	}
	s := make([][]uint32, k+l)
	for i := range s {
		raw := unpackBits(b, bits)
		b = b[bits*mldsaN/8:]
		s[i] = make([]uint32, mldsaN)
		for j, v := range raw {
			if v > uint32(2*eta) {
				return nil, nil, nil, fmt.Errorf("its s1 or s2 has a coefficient out of range")
			}
			s[i][j] = (uint32(eta) + mldsaQ - v) % mldsaQ
		}
	}
	return s[:l], s[l:], b, nil
}

// publicPart computes t = A*s1 + s2 and returns the encodings of its high
// bits t1 (as pkEncode, Algorithm 22) and low bits t0 (as skEncode,
// Algorithm 24), split by Power2Round (Algorithm 35).
func publicPart(rho []byte, s1, s2 [][]uint32) (t1, t0 []byte) {
	s1hat := make([][]uint32, len(s1))
	for j := range s1 {
		s1hat[j] = append([]uint32(nil), s1[j]...)
		ntt(s1hat[j])
	}
	for i := range s2 {
		t := make([]uint32, mldsaN)
		for j := range s1hat {
			a := expandA(rho, i, j)
			for c := range t {
				t[c] = uint32((uint64(t[c]) + uint64(a[c])*uint64(s1hat[j][c])) % mldsaQ)
			}
		}
		invNTT(t)
		lo, hi := make([]uint32, mldsaN), make([]uint32, mldsaN)
		for c := range t {
			r := (t[c] + s2[i][c]) % mldsaQ
			r0 := int32(r % (1 << mldsaD)) // r mod± 2^d
			if r0 > 1<<(mldsaD-1) {
				r0 -= 1 << mldsaD
			}
			hi[c] = uint32((int32(r) - r0) >> mldsaD)
			lo[c] = uint32(1<<(mldsaD-1) - r0)
		}
		t1 = packBits(t1, hi, 10) // bitlen(q-1) - d
		t0 = packBits(t0, lo, mldsaD)
	}
	return t1, t0
}

func shake256(in []byte, n int) []byte {
	h := sha3.NewSHAKE256()
	h.Write(in)
	out := make([]byte, n)
	h.Read(out)
	return out
}

// expandA is entry (r, s) of the matrix A in the NTT domain (FIPS 204,
// Algorithms 32 ExpandA and 30 RejNTTPoly).
func expandA(rho []byte, r, s int) []uint32 {
	h := sha3.NewSHAKE128()
	h.Write(rho)
	h.Write([]byte{byte(s), byte(r)})
	out := make([]uint32, 0, mldsaN)
	var b [3]byte
	for len(out) < mldsaN {
		h.Read(b[:])
		if v := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2]&0x7f)<<16; v < mldsaQ {
			out = append(out, v)
		}
	}
	return out
}

// zetas[m] is 1753^BitRev8(m) mod q (FIPS 204, Appendix B).
var zetas = func() (z [mldsaN]uint32) {
	for m := range z {
		rev := 0
		for b := range 8 {
			rev |= (m >> b & 1) << (7 - b)
		}
		p := uint64(1)
		for range rev {
			p = p * 1753 % mldsaQ
		}
		z[m] = uint32(p)
	}
	return z
}()

// ntt is FIPS 204, Algorithm 41.
func ntt(w []uint32) {
	m := 0
	for n := 128; n >= 1; n /= 2 {
		for start := 0; start < mldsaN; start += 2 * n {
			m++
			z := uint64(zetas[m])
			for j := start; j < start+n; j++ {
				t := uint32(z * uint64(w[j+n]) % mldsaQ)
				w[j+n] = (w[j] + mldsaQ - t) % mldsaQ
				w[j] = (w[j] + t) % mldsaQ
			}
		}
	}
}

// invNTT is FIPS 204, Algorithm 42.
func invNTT(w []uint32) {
	m := mldsaN
	for n := 1; n < mldsaN; n *= 2 {
		for start := 0; start < mldsaN; start += 2 * n {
			m--
			z := uint64(mldsaQ - zetas[m])
			for j := start; j < start+n; j++ {
				t := w[j]
				w[j] = (t + w[j+n]) % mldsaQ
				w[j+n] = uint32(z * uint64((t+mldsaQ-w[j+n])%mldsaQ) % mldsaQ)
			}
		}
	}
	for j := range w {
		w[j] = uint32(uint64(w[j]) * 8347681 % mldsaQ) // 256^-1 mod q
	}
}

// unpackBits reads 256 little-endian bits-wide values (FIPS 204,
// Algorithms 18 and 19).
func unpackBits(b []byte, bits int) []uint32 {
	out := make([]uint32, mldsaN)
	for i := range out {
		for k := range bits {
			pos := i*bits + k
			out[i] |= uint32(b[pos/8]>>(pos%8)&1) << k
		}
	}
	return out
}

// packBits appends 256 values of bits bits each (FIPS 204, Algorithms 16 and 17).
func packBits(dst []byte, v []uint32, bits int) []byte {
	buf := make([]byte, len(v)*bits/8)
	for i, x := range v {
		for k := range bits {
			pos := i*bits + k
			buf[pos/8] |= byte(x>>k&1) << (pos % 8)
		}
	}
	return append(dst, buf...)
}
