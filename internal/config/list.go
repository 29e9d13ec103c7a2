package config

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// List settings (the allow rules, crl_files) take several values: a JSON
// array of strings, a repeated flag, or a comma-separated variable. A
// source replaces the list of the sources before it, as a scalar setting
// does, so --allow-cn on the command line replaces the file's allow_cn.

// applyList sets a list option to items, from source.
func (l *loader) applyList(o *option, items []string, source string) {
	l.src[o.key] = source
	list := o.list(l.cfg)
	*list = nil
	for _, v := range items {
		if err := o.item(v); err != nil {
			l.fail("%s: %v", source, err)
			continue
		}
		*list = append(*list, v)
	}
}

// fileList reads a list option's JSON value: an array of strings, or one
// string for a list of one.
func fileList(v json.RawMessage) ([]string, error) {
	v = bytes.TrimSpace(v)
	var one string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &one) == nil {
		return []string{one}, nil
	}
	var items []string
	if err := json.Unmarshal(v, &items); err != nil || len(v) == 0 || v[0] != '[' {
		return nil, fmt.Errorf(`must be a list of strings such as ["a", "b"], not %s`, short(v))
	}
	return items, nil
}

// envList splits a variable's value at commas; spaces around an item and
// empty items are dropped.
func envList(v string) []string {
	var items []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			items = append(items, s)
		}
	}
	return items
}

func nonEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("an empty value matches nothing; remove it")
	}
	return nil
}

// checkDNSRule accepts a DNS name, or a wildcard whose "*" is the whole
// leftmost label (RFC 6125 section 6.4.3): *.example.com.
func checkDNSRule(v string) error {
	name := strings.TrimSuffix(strings.ToLower(v), ".")
	rest, wild := strings.CutPrefix(name, "*.")
	if !wild {
		rest = name
	}
	bad := rest == "" || strings.Contains(rest, "*") || strings.ContainsAny(rest, " /:@,") || strings.Contains(rest, "..") || strings.HasPrefix(rest, ".")
	if bad {
		return fmt.Errorf("%q is not a DNS name or a wildcard such as *.example.com (the * stands for one whole label)", v)
	}
	return nil
}

// checkURIRule accepts an absolute URI: spiffe://example.org/ns/prod/sa/web,
// or a prefix ending in "/".
func checkURIRule(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Opaque == "" && u.Host == "" {
		return fmt.Errorf("%q is not an absolute URI such as spiffe://example.org/ns/prod/sa/web (or a prefix ending in /)", v)
	}
	return nil
}

// ParseSPKIPin reads a SHA-256 pin of a SubjectPublicKeyInfo: 64 hex
// digits (colons allowed, as openssl prints them) or 44 characters of
// base64 (standard or URL alphabet, padding optional), as
// `openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64`
// and HPKP pins write it.
func ParseSPKIPin(v string) ([32]byte, error) {
	var pin [32]byte
	s := strings.TrimSpace(v)
	if h := strings.ReplaceAll(s, ":", ""); len(h) == 64 {
		if b, err := hex.DecodeString(h); err == nil {
			copy(pin[:], b)
			return pin, nil
		}
	}
	s = strings.TrimRight(s, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			copy(pin[:], b)
			return pin, nil
		}
	}
	return pin, fmt.Errorf("%q is not a SHA-256 pin: give 64 hex digits or 44 base64 characters of the SHA-256 of the DER SubjectPublicKeyInfo (quantum-safe-proxy certs inspect prints it)", v)
}
