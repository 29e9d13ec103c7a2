package tlsconf

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// advertise_mldsa false: leaving ML-DSA out of the ClientHello.
//
// crypto/tls lists ML-DSA-44/65/87 in the signature_algorithms of every
// TLS 1.3 ClientHello (defaults.go, defaultSupportedSignatureAlgorithms)
// and has no Config field to change that. Some TLS-inspecting middleboxes
// reset such ClientHellos (golang.org/issue/81199). The GODEBUG setting
// tlsmldsa=0 proposed there (golang/go PR 81307) would leave them out;
// whether the Go this binary was built with knows it is found out, not
// assumed: the setting is put in force and a real ClientHello is built
// and read. A build whose ClientHello still lists ML-DSA refuses the
// configuration rather than ship a setting that does nothing.

// godebugMLDSAOff is the GODEBUG entry that leaves ML-DSA out.
const godebugMLDSAOff = "tlsmldsa=0"

// godebug guards the process's GODEBUG variable, which crypto/tls reads
// afresh once it changes (os.Setenv tells the runtime; internal/godebug).
var godebug struct {
	mu    sync.Mutex
	added bool // GODEBUG holds godebugMLDSAOff because Apply put it there
}

// errMLDSAStillListed is the refusal of advertise_mldsa false by a Go
// that cannot honour it.
var errMLDSAStillListed = fmt.Errorf("advertise_mldsa: false is not possible with this build: its Go (%s) lists ML-DSA in every ClientHello even with GODEBUG %s (golang.org/issue/81199); remove advertise_mldsa, or have the middlebox let this host's TLS through uninspected",
	runtime.Version(), godebugMLDSAOff)

// checkMLDSAOmitted puts GODEBUG tlsmldsa=0 in force for as long as it
// takes to build a ClientHello, then restores GODEBUG, and reports
// whether that ClientHello left ML-DSA out. A handshake that another
// goroutine starts meanwhile sees the setting too: the moment is short,
// and all the setting does is leave out what the snapshot asks to leave
// out. [Client.Apply] puts it in force for good.
func checkMLDSAOmitted() error {
	godebug.mu.Lock()
	defer godebug.mu.Unlock()
	old, had := os.LookupEnv("GODEBUG")
	os.Setenv("GODEBUG", addGodebug(old))
	hello, err := buildClientHello()
	if had {
		os.Setenv("GODEBUG", old)
	} else {
		os.Unsetenv("GODEBUG")
	}
	if err != nil {
		return fmt.Errorf("advertise_mldsa: building a ClientHello to check that ML-DSA is left out: %v", err)
	}
	return mldsaOmitted(hello)
}

// mldsaOmitted reads a ClientHello record and reports [errMLDSAStillListed]
// if its signature_algorithms lists ML-DSA.
func mldsaOmitted(record []byte) error {
	schemes, err := helloSignatureSchemes(record)
	if err != nil {
		return fmt.Errorf("advertise_mldsa: reading the ClientHello built to check it: %v", err)
	}
	if slices.ContainsFunc(schemes, isMLDSAScheme) {
		return errMLDSAStillListed
	}
	return nil
}

func isMLDSAScheme(s tls.SignatureScheme) bool {
	return s == tls.MLDSA44 || s == tls.MLDSA65 || s == tls.MLDSA87
}

// Apply puts the snapshot's advertise_mldsa in force for the process,
// which GODEBUG is for: tlsmldsa=0 added when ML-DSA is to be left out,
// and taken out again (if Apply added it) when not. The daemon calls it
// as the snapshot goes into force.
func (c *Client) Apply() {
	godebug.mu.Lock()
	defer godebug.mu.Unlock()
	v := os.Getenv("GODEBUG")
	switch {
	case c.OmitMLDSA && !slices.Contains(strings.Split(v, ","), godebugMLDSAOff):
		os.Setenv("GODEBUG", addGodebug(v))
		godebug.added = true
	case !c.OmitMLDSA && godebug.added:
		kept := slices.DeleteFunc(strings.Split(v, ","), func(e string) bool { return e == godebugMLDSAOff })
		os.Setenv("GODEBUG", strings.Join(kept, ","))
		godebug.added = false
	}
}

func addGodebug(v string) string {
	if v == "" {
		return godebugMLDSAOff
	}
	return v + "," + godebugMLDSAOff
}

// buildClientHello builds the ClientHello crypto/tls sends now and returns its
// first record: a tls.Client writes it into one end of a pipe and this
// reads it from the other, then closes both, which ends that handshake.
func buildClientHello() ([]byte, error) {
	ours, theirs := net.Pipe()
	defer ours.Close()
	defer theirs.Close()
	go tls.Client(theirs, &tls.Config{ServerName: "advertise-mldsa.invalid", MinVersion: tls.VersionTLS13}).Handshake()
	ours.SetDeadline(time.Now().Add(5 * time.Second))
	header := make([]byte, 5)
	if _, err := io.ReadFull(ours, header); err != nil {
		return nil, err
	}
	record := make([]byte, 5+int(binary.BigEndian.Uint16(header[3:])))
	copy(record, header)
	if _, err := io.ReadFull(ours, record[5:]); err != nil {
		return nil, err
	}
	return record, nil
}

// helloSignatureSchemes parses a TLS record holding a ClientHello (RFC
// 8446, Sections 5.1 and 4.1.2) and returns the schemes of its
// signature_algorithms extension (Section 4.2.3, type 13).
func helloSignatureSchemes(record []byte) ([]tls.SignatureScheme, error) {
	r := reader(record)
	if typ, ok := r.u8(); !ok || typ != 22 {
		return nil, errors.New("not a handshake record")
	}
	r.skip(2) // legacy_record_version
	body, ok := r.vec(2)
	if !ok {
		return nil, errors.New("truncated record")
	}
	r = body
	if typ, ok := r.u8(); !ok || typ != 1 {
		return nil, errors.New("not a ClientHello")
	}
	if hello, ok := r.vec(3); ok {
		r = hello
	} else {
		return nil, errors.New("truncated ClientHello")
	}
	r.skip(2 + 32)     // legacy_version, random
	_, ok1 := r.vec(1) // legacy_session_id
	_, ok2 := r.vec(2) // cipher_suites
	_, ok3 := r.vec(1) // legacy_compression_methods
	exts, ok4 := r.vec(2)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, errors.New("truncated ClientHello")
	}
	for len(exts) > 0 {
		typ, ok1 := exts.u16()
		data, ok2 := exts.vec(2)
		if !ok1 || !ok2 {
			return nil, errors.New("truncated extension")
		}
		if typ != 13 {
			continue
		}
		list, ok := data.vec(2)
		if !ok || len(list)%2 != 0 {
			return nil, errors.New("malformed signature_algorithms")
		}
		var out []tls.SignatureScheme
		for len(list) > 0 {
			s, _ := list.u16()
			out = append(out, tls.SignatureScheme(s))
		}
		return out, nil
	}
	return nil, errors.New("no signature_algorithms extension")
}

// reader takes big-endian fields off the front of a byte slice.
type reader []byte

func (r *reader) u8() (byte, bool) {
	if len(*r) < 1 {
		return 0, false
	}
	v := (*r)[0]
	*r = (*r)[1:]
	return v, true
}

func (r *reader) u16() (uint16, bool) {
	if len(*r) < 2 {
		return 0, false
	}
	v := binary.BigEndian.Uint16(*r)
	*r = (*r)[2:]
	return v, true
}

func (r *reader) skip(n int) { *r = (*r)[min(n, len(*r)):] }

// vec takes a vector whose length is in the next lenBytes bytes.
func (r *reader) vec(lenBytes int) (reader, bool) {
	if len(*r) < lenBytes {
		return nil, false
	}
	n := 0
	for _, b := range (*r)[:lenBytes] {
		n = n<<8 | int(b)
	}
	rest := (*r)[lenBytes:]
	if len(rest) < n {
		return nil, false
	}
	*r = rest[n:]
	return rest[:n], true
}
