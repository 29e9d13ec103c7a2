package forward

import (
	"sync"
	"sync/atomic"
)

// bufSize is the copy buffer: four full TLS records (RFC 8446, Section
// 5.1: at most 2^14 bytes of plaintext each), so that one read(2) from the
// backend becomes one write(2) of four records, and up to four records
// from the client become one write(2) to the backend. The syscall count,
// not AES-GCM, dominates a naive proxy's profile (DESIGN.md).
const bufSize = 64 << 10

// maxRecord is the largest plaintext one TLS record carries.
const maxRecord = 16 << 10

// gatherCap holds bufSize of plaintext as TLS records: 22 bytes of header,
// content type and AES-GCM tag per record (RFC 8446, Section 5.2).
const gatherCap = bufSize + 4*64

var pool = sync.Pool{New: func() any {
	b := make([]byte, gatherCap)
	return &b
}}

// buffersOut counts buffers taken and not yet returned, so tests can see
// that idle and finished connections hold none. Only tests set
// countBuffers: a counter every connection writes on every burst would
// bounce one cache line between the cores.
var (
	countBuffers bool
	buffersOut   atomic.Int64
)

// getBuf takes a buffer only while bytes flow; idle connections hold none.
func getBuf() *[]byte {
	if countBuffers {
		buffersOut.Add(1)
	}
	b := pool.Get().(*[]byte)
	*b = (*b)[:bufSize]
	return b
}

func putBuf(b *[]byte) {
	if countBuffers {
		buffersOut.Add(-1)
	}
	pool.Put(b)
}
