package proxy

import (
	"bytes"
	"errors"
	"testing"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// A client's handshake bytes, however the reads cut them, leave the
// start of its last record in lastRecord, and a plaintext alert there
// turns bad record MAC into the reason the alert gives.
func TestLastRecordExplainsPlaintextAlert(t *testing.T) {
	hello := append([]byte{22, 3, 1, 0, 40}, bytes.Repeat([]byte{0xaa}, 40)...)
	ccs := []byte{20, 3, 3, 0, 1, 1}
	macErr := errors.New("local error: tls: bad record MAC")
	for _, tc := range []struct {
		name   string
		stream []byte
		last   []byte
		reason string // "" for not explained
		alert  string
	}{
		// OpenSSL in middlebox compatibility mode refusing the chain.
		{"unknown_ca", cat(hello, ccs, []byte{21, 3, 3, 0, 2, 2, 48}), []byte{21, 3, 3, 0, 2, 2, 48},
			tlsconf.ReasonClientRefused, "unknown_ca (sent in plaintext)"},
		{"certificate_expired", cat(hello, ccs, []byte{21, 3, 3, 0, 2, 2, 45}), []byte{21, 3, 3, 0, 2, 2, 45},
			tlsconf.ReasonClientRefused, "certificate_expired (sent in plaintext)"},
		{"decode_error", cat(hello, ccs, []byte{21, 3, 3, 0, 2, 2, 50}), []byte{21, 3, 3, 0, 2, 2, 50},
			"client_alert_decode_error", "decode_error (sent in plaintext)"},
		{"empty record before the alert", cat(hello, []byte{23, 3, 3, 0, 0}, []byte{21, 3, 3, 0, 2, 2, 48}), []byte{21, 3, 3, 0, 2, 2, 48},
			tlsconf.ReasonClientRefused, "unknown_ca (sent in plaintext)"},
		// An encrypted record (TLS 1.3 hides the alert in application_data).
		{"encrypted", cat(hello, ccs, []byte{23, 3, 3, 0, 19}, bytes.Repeat([]byte{7}, 19)), []byte{23, 3, 3, 0, 19, 7, 7}, "", ""},
		// A TLS 1.2 alert after ChangeCipherSpec, encrypted: longer than 2.
		{"encrypted TLS 1.2 alert", cat(hello, ccs, []byte{21, 3, 3, 0, 26}, bytes.Repeat([]byte{9}, 26)), []byte{21, 3, 3, 0, 26, 9, 9}, "", ""},
		// The alert's header came, its description did not.
		{"truncated alert", cat(hello, ccs, []byte{21, 3, 3, 0, 2, 2}), []byte{21, 3, 3, 0, 2, 2}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Every cut of the stream into two reads, and one byte a read.
			for cut := 0; cut <= len(tc.stream); cut++ {
				var r lastRecord
				r.feed(tc.stream[:cut])
				r.feed(tc.stream[cut:])
				checkLast(t, &r, tc.last, macErr, tc.reason, tc.alert)
			}
			var r lastRecord
			for i := range tc.stream {
				r.feed(tc.stream[i : i+1])
			}
			checkLast(t, &r, tc.last, macErr, tc.reason, tc.alert)
		})
	}
	// Another error with the same last record is not the alert's doing.
	var r lastRecord
	r.feed(cat(hello, ccs, []byte{21, 3, 3, 0, 2, 2, 48}))
	checkLast(t, &r, []byte{21, 3, 3, 0, 2, 2, 48}, errors.New("EOF"), "", "")
}

func checkLast(t *testing.T, r *lastRecord, last []byte, err error, reason, alert string) {
	t.Helper()
	if !bytes.Equal(r.bytes(), last) {
		t.Fatalf("last record %x, want %x", r.bytes(), last)
	}
	got, hint, gotAlert, ok := tlsconf.ClassifyPlaintextAlert(err, r.bytes())
	if ok != (reason != "") || got != reason || gotAlert != alert {
		t.Fatalf("ClassifyPlaintextAlert(%v, %x) = %q, %q, %v; want %q, %q", err, last, got, gotAlert, ok, reason, alert)
	}
	if reason == tlsconf.ReasonClientRefused && hint == "" {
		t.Fatalf("no hint for %s", reason)
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
