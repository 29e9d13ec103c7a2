package forward

import (
	"sync"
	"sync/atomic"
)

// Copies use pooled buffers of two sizes. A burst starts in a small one:
// four full TLS records (RFC 8446, Section 5.1: at most 2^14 bytes of
// plaintext each), so that one read(2) from the backend becomes one
// write(2) of four records, and up to four records from the client become
// one write(2) to the backend. A read that fills it means more is
// waiting: that side's next reads use a big buffer (64 records) until a
// read comes back under the small size. The syscall count, not AES-GCM,
// dominates a naive proxy's profile (DESIGN.md); on a bulk transfer,
// reads and writes of 1 MiB instead of 64 KiB cut the proxy's CPU per
// GiB by a third. A connection takes a buffer only while bytes flow, a
// big one only while a transfer keeps its socket full.
const (
	bufSize    = 64 << 10
	bigBufSize = 1 << 20
)

// maxRecord is the largest plaintext one TLS record carries.
const maxRecord = 16 << 10

// gatherCap holds size bytes of plaintext as TLS records: 22 bytes of
// header, content type and AES-GCM tag per record (RFC 8446, Section 5.2).
func gatherCap(size int) int { return size + size/maxRecord*64 }

var pools = [2]sync.Pool{
	{New: func() any { b := make([]byte, gatherCap(bufSize)); return &b }},
	{New: func() any { b := make([]byte, gatherCap(bigBufSize)); return &b }},
}

// buffersOut counts buffers taken and not yet returned, so tests can see
// that idle and finished connections hold none. Only tests set
// countBuffers: a counter every connection writes on every burst would
// bounce one cache line between the cores.
var (
	countBuffers bool
	buffersOut   atomic.Int64
)

// bigBudget caps the big buffers out at once, all connections together:
// past it, a transfer that keeps its socket full goes on in small buffers,
// as fast as before big ones existed. Without a cap, a thousand busy
// downloads would hold one to two GiB. The budget counts every big
// buffer out, read and gather buffers alike, and is checked when a read
// takes one; the gather buffer of a big read is taken past it, so the
// proxy's big buffers stay under twice the budget, 128 MiB, however many
// busy connections stall. The check is soft: two takers may pass it by
// one buffer each at the same instant.
const bigBudget = 64

// bigOut counts the big buffers taken and not yet returned. It changes
// once per MiB moved, not per burst.
var bigOut atomic.Int64

// getBuf takes a read buffer, of bigBufSize when big and the budget
// allows, else bufSize, only while bytes flow; idle connections hold none.
func getBuf(big bool) *[]byte {
	return takeBuf(big && bigOut.Load() < bigBudget)
}

// takeBuf takes a buffer of bigBufSize when big, else bufSize.
func takeBuf(big bool) *[]byte {
	if countBuffers {
		buffersOut.Add(1)
	}
	size, i := bufSize, 0
	if big {
		size, i = bigBufSize, 1
		bigOut.Add(1)
	}
	b := pools[i].Get().(*[]byte)
	*b = (*b)[:size]
	return b
}

// bufFor takes a buffer that holds n bytes of plaintext as records: a
// big one only when a big read buffer, already counted, holds the n bytes.
func bufFor(n int) *[]byte { return takeBuf(n > bufSize) }

func putBuf(b *[]byte) {
	if countBuffers {
		buffersOut.Add(-1)
	}
	i := 0
	if cap(*b) > gatherCap(bufSize) {
		i = 1
		bigOut.Add(-1)
	}
	pools[i].Put(b)
}
