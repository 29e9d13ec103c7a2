package certs

import "encoding/pem"

func pemDecode(data []byte) ([]byte, []byte) {
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, rest
	}
	return b.Bytes, rest
}
