package probe

// input takes big-endian fields off the front of a byte slice, as the TLS
// presentation language lays them out (RFC 8446, Section 3). Every method
// reports false rather than read past the end, so that a parser of bytes
// from the network cannot panic on short or lying input, and nothing is
// allocated from a length the peer sent: vectors are sub-slices.
type input []byte

func (s *input) u8() (uint8, bool) {
	if len(*s) < 1 {
		return 0, false
	}
	v := (*s)[0]
	*s = (*s)[1:]
	return v, true
}

func (s *input) u16() (uint16, bool) {
	b, ok := s.bytes(2)
	if !ok {
		return 0, false
	}
	return uint16(b[0])<<8 | uint16(b[1]), true
}

func (s *input) u24() (int, bool) {
	b, ok := s.bytes(3)
	if !ok {
		return 0, false
	}
	return int(b[0])<<16 | int(b[1])<<8 | int(b[2]), true
}

// bytes takes the next n bytes.
func (s *input) bytes(n int) ([]byte, bool) {
	if n < 0 || len(*s) < n {
		return nil, false
	}
	v := (*s)[:n:n]
	*s = (*s)[n:]
	return v, true
}

// vec takes a vector whose length is in the next lenBytes (1, 2 or 3) bytes.
func (s *input) vec(lenBytes int) (input, bool) {
	var n int
	var ok bool
	switch lenBytes {
	case 1:
		var v uint8
		v, ok = s.u8()
		n = int(v)
	case 2:
		var v uint16
		v, ok = s.u16()
		n = int(v)
	case 3:
		n, ok = s.u24()
	}
	if !ok {
		return nil, false
	}
	b, ok := s.bytes(n)
	return input(b), ok
}

// u16s reads a vector of 16-bit values with a 2-byte length, as
// supported_groups and signature_algorithms are written.
func (s *input) u16s() ([]uint16, bool) {
	list, ok := s.vec(2)
	if !ok || len(list)%2 != 0 {
		return nil, false
	}
	out := make([]uint16, 0, len(list)/2) // at most 32767: bounded by the 2-byte length
	for len(list) > 0 {
		v, _ := list.u16()
		out = append(out, v)
	}
	return out, true
}

// output appends big-endian fields; only the probe's own messages are
// written with it, so lengths are known to fit.
type output []byte

func (o *output) u8(v uint8)         { *o = append(*o, v) }
func (o *output) u16(v uint16)       { *o = append(*o, byte(v>>8), byte(v)) }
func (o *output) add(b ...byte)      { *o = append(*o, b...) }
func (o *output) addString(s string) { *o = append(*o, s...) }

// vec writes a vector with a lenBytes-byte length whose contents fill
// writes.
func (o *output) vec(lenBytes int, fill func(*output)) {
	start := len(*o)
	*o = append(*o, make([]byte, lenBytes)...)
	fill(o)
	n := len(*o) - start - lenBytes
	for i := lenBytes - 1; i >= 0; i-- {
		(*o)[start+i] = byte(n)
		n >>= 8
	}
}
