package proxy

import "github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"

// lastRecord follows the TLS record boundaries in what a client sends
// and keeps the header and first bytes of the last record begun, for
// [tlsconf.ClassifyPlaintextAlert]. It lives in the connection, a fixed
// array, so that feeding it allocates nothing.
type lastRecord struct {
	buf  [tlsconf.LastRecordLen]byte
	n    uint8  // bytes of the current record held in buf
	left uint16 // bytes of its body yet to come, once its header is complete
}

const recordHeaderLen = 5

// feed follows p, the next bytes the client sent.
func (r *lastRecord) feed(p []byte) {
	for len(p) > 0 {
		if r.n >= recordHeaderLen && r.left == 0 {
			r.n = 0 // the last record is complete: p begins the next
		}
		if r.n < recordHeaderLen {
			k := copy(r.buf[r.n:recordHeaderLen], p)
			r.n += uint8(k)
			p = p[k:]
			if r.n == recordHeaderLen {
				r.left = uint16(r.buf[3])<<8 | uint16(r.buf[4])
			}
			continue
		}
		k := min(len(p), int(r.left))
		r.n += uint8(copy(r.buf[r.n:], p[:k]))
		r.left -= uint16(k)
		p = p[k:]
	}
}

// bytes is the last record's header and first bytes, as far as they came.
func (r *lastRecord) bytes() []byte { return r.buf[:r.n] }
