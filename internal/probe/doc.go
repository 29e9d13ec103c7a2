// Package probe finds out what a TLS server gives each kind of client,
// and whether it is PQ-ready: whether it completes a handshake with a
// hybrid post-quantum key exchange (X25519MLKEM768 and its kin, FIPS 203
// ML-KEM with ECDH) when that is all a client offers.
//
// [Run] connects several ways, each on a connection of its own: with
// crypto/tls's client, offering only hybrid groups, only classical ones,
// its default ClientHello (which offers ML-DSA), TLS 1.2 only, and with a
// client certificate; and with a small TLS 1.3 handshake reader of its
// own (handshake.go), for what crypto/tls cannot offer: a ClientHello
// without ML-DSA, and one that offers ML-DSA for certificate signatures
// too. The reader sends its ClientHello, derives the handshake keys (RFC
// 8446, Section 7.1), decrypts the server's flight, checks its
// CertificateVerify, and closes after the server's Finished.
//
// For crypto/tls's attempts, what crypto/tls does not report (the scheme
// the server signed with; how far a failed handshake got) is read from
// the bytes the server sent on that connection, decrypted with the
// handshake secret the connection logged (decode.go).
//
// Every byte from the server is parsed with bounds checked before use,
// and nothing is allocated from a length it sent beyond fixed bounds
// (record.go); the parsers are fuzzed.
package probe
