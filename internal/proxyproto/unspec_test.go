package proxyproto

import "testing"

// TestUnspecIsLocal: a header without addresses (a client of a unix socket
// listener) must be one that PROXY v2 receivers accept. HAProxy's own sender
// says LOCAL (0x20) with AF_UNSPEC and still appends its TLVs
// (make_proxy_line_v2); as a receiver, HAProxy 2.6 (`accept-proxy`) resets
// a PROXY (0x21) + AF_UNSPEC header ("Received an invalid PROXY protocol
// header": it parses the TLVs from the wrong offset), and
// github.com/pires/go-proxyproto refuses it ("unsupported address family
// and protocol"); both accept LOCAL + AF_UNSPEC, and go-proxyproto returns
// its TLVs.
func TestUnspecIsLocal(t *testing.T) {
	h := Header{Authority: "localhost", TLS: &TLS{Client: ClientSSL, Version: "TLSv1.3"}}
	b, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if b[12] != 0x20 || b[13] != famUnspec {
		t.Fatalf("ver_cmd %#02x family %#02x without addresses; want 0x20 (LOCAL) 0x00, which HAProxy and go-proxyproto accept", b[12], b[13])
	}
}
