package forward

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"runtime"
	"strings"
	"unsafe"
)

// crypto/tls keeps the buffers it reads records into for the life of the
// connection: rawInput (a bytes.Buffer whose capacity is that of the
// largest record read so far plus 512 bytes: the ClientHello's ~1.8 KiB,
// or ~17 KiB after one full record) and hand (the handshake messages,
// ~1.5 KiB after a post-quantum ClientHello). bytes.Buffer never gives
// capacity back, so every idle connection would keep them: 3.3 KiB of
// the 10 KiB of heap an idle post-quantum connection holds after one echo
// (pprof, integration BenchmarkIdleMemory), and up to 19 KiB after a
// transfer. [dropTLSInput] lets them go when the forwarder is about to
// wait and they hold no bytes; the next record allocates afresh.
//
// The fields are unexported, so their offsets are looked up once, by name
// and type, with reflect. If a Go release renames or retypes them,
// tlsInput.ok is false, nothing is dropped (the connection keeps working,
// only holds more memory), and TestTLSInputFieldsFound fails. A release
// could also start using them elsewhere than in Read (another goroutine,
// Write): the drop is on only for the Go release whose crypto/tls was
// read for this (checkedGo), and the test fails on any other, so that
// the next toolchain bump rereads crypto/tls before moving checkedGo.
// checkedGo is the Go release whose crypto/tls touches rawInput, input
// and hand only inside Read, the handshake and QUIC (go1.27.4, read).
const checkedGo = "go1.27."

var tlsInput = func() (f struct {
	ok                    bool
	rawInput, input, hand uintptr
}) {
	t := reflect.TypeFor[tls.Conn]()
	field := func(name string, typ reflect.Type) (uintptr, bool) {
		sf, ok := t.FieldByName(name)
		return sf.Offset, ok && sf.Type == typ && len(sf.Index) == 1
	}
	buf, rd := reflect.TypeFor[bytes.Buffer](), reflect.TypeFor[bytes.Reader]()
	var ok1, ok2, ok3 bool
	f.rawInput, ok1 = field("rawInput", buf)
	f.input, ok2 = field("input", rd)
	f.hand, ok3 = field("hand", buf)
	f.ok = ok1 && ok2 && ok3 && strings.HasPrefix(runtime.Version(), checkedGo)
	return f
}()

// tlsInputBuffers returns tc's rawInput, input and hand, or nils when
// their offsets are unknown.
func tlsInputBuffers(tc *tls.Conn) (raw *bytes.Buffer, in *bytes.Reader, hand *bytes.Buffer) {
	if !tlsInput.ok {
		return nil, nil, nil
	}
	p := unsafe.Pointer(tc)
	return (*bytes.Buffer)(unsafe.Add(p, tlsInput.rawInput)),
		(*bytes.Reader)(unsafe.Add(p, tlsInput.input)),
		(*bytes.Buffer)(unsafe.Add(p, tlsInput.hand))
}

// dropTLSInput lets tc's read buffers go when they hold no bytes: no
// partial record, no decrypted bytes not yet taken, no handshake message.
// Only the goroutine that reads tc may call it, between reads: crypto/tls
// touches these fields only under its input lock, inside Read (and the
// handshake, which is over).
func dropTLSInput(tc *tls.Conn) {
	raw, in, hand := tlsInputBuffers(tc)
	if raw == nil || raw.Len() != 0 || in.Len() != 0 || hand.Len() != 0 {
		return
	}
	if raw.Cap() != 0 {
		*raw = bytes.Buffer{}
	}
	in.Reset(nil) // it pointed into rawInput's array
	if hand.Cap() != 0 {
		*hand = bytes.Buffer{}
	}
}

// parkedHook, set only by tests, sees the tls.Conn each time its reading
// goroutine is about to wait, on that goroutine.
var parkedHook func(*tls.Conn)
