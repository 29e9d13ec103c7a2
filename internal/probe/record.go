package probe

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Bounds on what is read from a server, so that its lengths cannot make
// the probe allocate much: a record is at most 2^14 bytes of plaintext
// plus 256 of AEAD expansion (RFC 8446, Section 5.2); a handshake message
// at most 256 KiB, crypto/tls's bound for a Certificate message
// (maxHandshakeCertificateMsg in its conn.go), which holds any real
// chain, ML-DSA-87 ones included (about 7.5 KiB per certificate).
const (
	maxCiphertext = 1<<14 + 256
	maxMessage    = 256 << 10
)

// AlertError is a TLS alert the server sent.
type AlertError struct {
	Description uint8
}

func (e *AlertError) Error() string { return "the server sent alert " + AlertName(e.Description) }

// errNotTLS is a peer whose first bytes are not a TLS record.
var errNotTLS = errors.New("the server's answer is not TLS")

// recordReader reads what a server sends, record by record (RFC 8446,
// Section 5), and hands out whole handshake messages, decrypting the
// records once keys are set.
type recordReader struct {
	r       io.Reader
	started bool   // a record has been read
	hs      []byte // handshake bytes read but not handed out yet
	aead    cipher.AEAD
	iv      []byte
	seq     uint64
	header  [5]byte
}

// setKeys makes the reader decrypt from the next record on with an
// AES-GCM key and IV (RFC 8446, Section 5.3). A handshake message may not
// span a change of keys (Section 5.1).
func (c *recordReader) setKeys(key, iv []byte) error {
	if len(c.hs) > 0 {
		return errors.New("the server's handshake message spans a change of keys")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	c.aead, err = cipher.NewGCM(block)
	c.iv, c.seq = iv, 0
	return err
}

// message returns the next handshake message, its 4-byte header
// included. An alert from the server is an *AlertError.
func (c *recordReader) message() ([]byte, error) {
	for {
		if len(c.hs) >= 4 {
			n := int(c.hs[1])<<16 | int(c.hs[2])<<8 | int(c.hs[3])
			if n > maxMessage {
				return nil, fmt.Errorf("the server sent a handshake message of %d bytes, more than the %d allowed", n, maxMessage)
			}
			if len(c.hs) >= 4+n {
				msg := c.hs[: 4+n : 4+n]
				c.hs = c.hs[4+n:]
				return msg, nil
			}
		}
		typ, data, err := c.record()
		if err != nil {
			return nil, err
		}
		switch typ {
		case recordHandshake:
			if len(data) == 0 {
				return nil, errors.New("the server sent an empty handshake record")
			}
			c.hs = append(c.hs, data...)
		case recordAlert:
			if len(data) != 2 {
				return nil, errors.New("the server sent a malformed alert")
			}
			return nil, &AlertError{Description: data[1]}
		default:
			return nil, fmt.Errorf("the server sent a record of type %d during the handshake", typ)
		}
	}
}

// record reads the next record that is not a change_cipher_spec (which
// TLS 1.3 servers in middlebox compatibility mode send and a client
// ignores, RFC 8446, Section 5) and, once keys are set, decrypts it: the
// type returned is then the inner content type (Section 5.2).
func (c *recordReader) record() (uint8, []byte, error) {
	for {
		if _, err := io.ReadFull(c.r, c.header[:]); err != nil {
			if !c.started && err == io.EOF {
				return 0, nil, errors.New("the server closed the connection without answering")
			}
			return 0, nil, fmt.Errorf("reading from the server: %w", unexpectedEOF(err))
		}
		typ, n := c.header[0], int(binary.BigEndian.Uint16(c.header[3:]))
		if c.header[1] != 3 || typ < recordChangeCipherSpec || typ > recordApplicationData {
			if !c.started {
				return 0, nil, fmt.Errorf("%w (its first bytes are %q)", errNotTLS, c.header[:])
			}
			return 0, nil, fmt.Errorf("the server sent a malformed record header %x", c.header[:])
		}
		c.started = true
		if n > maxCiphertext {
			return 0, nil, fmt.Errorf("the server sent a record of %d bytes, more than the %d allowed", n, maxCiphertext)
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(c.r, data); err != nil {
			return 0, nil, fmt.Errorf("reading from the server: %w", unexpectedEOF(err))
		}
		switch {
		case typ == recordChangeCipherSpec && n == 1 && data[0] == 1:
			continue
		case c.aead == nil || typ == recordAlert && n == 2:
			// Before keys, and a plaintext alert a server sends when it
			// fails before it can encrypt.
			return typ, data, nil
		case typ != recordApplicationData:
			return 0, nil, fmt.Errorf("the server sent an unencrypted record of type %d after its ServerHello", typ)
		}
		return c.open(data)
	}
}

// open decrypts a TLS 1.3 record (RFC 8446, Section 5.2-5.3): the nonce
// is the IV XORed with the record's sequence number, the additional data
// the record's header, and the plaintext ends with its real content type
// followed by any zero padding.
func (c *recordReader) open(data []byte) (uint8, []byte, error) {
	nonce := make([]byte, len(c.iv))
	copy(nonce, c.iv)
	for i := 0; i < 8; i++ {
		nonce[len(nonce)-1-i] ^= byte(c.seq >> (8 * i))
	}
	c.seq++
	plain, err := c.aead.Open(data[:0], nonce, data, c.header[:])
	if err != nil {
		return 0, nil, errors.New("a record from the server does not decrypt under the handshake keys (bad_record_mac)")
	}
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 {
		return 0, nil, errors.New("the server sent an encrypted record with no content type")
	}
	return plain[i], plain[:i], nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
