package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"unicode"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/access"
)

// certKeys are the keys of one entry of "certificates".
var certKeys = []string{"cert_path", "key_path", "server_names"}

// loadFile reads the JSON file. Keys match exactly, at every level:
// encoding/json would match struct fields case-insensitively and keep the
// last of duplicate keys silently (encoding/json, "Unmarshal"), so the file
// is read into maps of raw values and every key is checked here.
func (l *loader) loadFile(path string) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrPermission) {
		l.failUncertain("%v", access.Explain(path, access.ConfigFile, err))
		return
	}
	if err != nil {
		l.failUncertain("%s: cannot read the config file: %v", path, unwrapPathError(err))
		return
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		l.failUncertain("%s: %s", path, describeJSONError(data, err))
		return
	}
	for _, d := range duplicateKeys(data) {
		l.fail("%s: line %d: %s: duplicate key (first at line %d); keep one", path, d.line, d.path, d.first)
	}
	byKey := map[string]*option{}
	for _, table := range [][]option{options, rustOptions} {
		for i := range table {
			if table[i].key != "" {
				byKey[table[i].key] = &table[i]
			}
		}
	}
	var certPath, keyPath *string
	var list []CertPair
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		switch k {
		case "cert_path":
			certPath = l.fileString(path, k, v)
			continue
		case "key_path":
			keyPath = l.fileString(path, k, v)
			continue
		case "certificates":
			list = l.fileCertificates(path, v)
			continue
		}
		o := byKey[k]
		if o == nil {
			l.failUncertain("%s: %s: unknown key%s", path, printable(k), suggest(k, knownKeys()))
			continue
		}
		if o.list != nil {
			items, err := fileList(v)
			if err != nil {
				l.fail("%s: %s: %v", path, k, err)
				continue
			}
			l.applyList(o, items, path+": "+k)
			continue
		}
		s, err := scalar(v)
		if err != nil && o.rust {
			// A Rust option is refused (or mapped) by name, whatever its value.
			s, err = string(bytes.TrimSpace(v)), nil
		}
		if err != nil {
			l.fail("%s: %s: %v", path, k, err)
			continue
		}
		l.apply(o, s, path+": "+k)
	}
	switch {
	case certPath != nil && keyPath != nil:
		list = append([]CertPair{{CertPath: *certPath, KeyPath: *keyPath}}, list...)
	case l.uncertain:
		// A misspelt key_path or cert_path has been reported already.
	case certPath != nil:
		l.fail("%s: cert_path is set but key_path is not; add \"key_path\"", path)
	case keyPath != nil:
		l.fail("%s: key_path is set but cert_path is not; add \"cert_path\"", path)
	}
	if len(list) > 0 {
		l.cfg.Certificates = list
		l.src["certificates"] = path + ": certificates"
	}
}

// fileString decodes a value that must be a JSON string; nil if it is not.
func (l *loader) fileString(path, label string, v json.RawMessage) *string {
	var s string
	if err := json.Unmarshal(v, &s); err != nil || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		l.failUncertain("%s: %s: must be a string (a file path), not %s", path, label, bytes.TrimSpace(v))
		return nil
	}
	return &s
}

// fileCertificates reads "certificates": a list of objects with exactly
// the keys cert_path, key_path and (optionally) server_names.
func (l *loader) fileCertificates(path string, v json.RawMessage) []CertPair {
	var entries []json.RawMessage
	if err := json.Unmarshal(v, &entries); err != nil {
		l.failUncertain(`%s: certificates: must be a list such as [{"cert_path": "a.crt", "key_path": "a.key"}], not %s`, path, short(v))
		return nil
	}
	var list []CertPair
	for i, e := range entries {
		label := fmt.Sprintf("certificates[%d]", i)
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(e, &fields); err != nil || fields == nil {
			l.failUncertain(`%s: %s: must be an object such as {"cert_path": "a.crt", "key_path": "a.key"}, not %s`, path, label, short(e))
			continue
		}
		var p CertPair
		ok := true
		for _, k := range sortedKeys(fields) {
			f := fields[k]
			switch k {
			case "cert_path", "key_path":
				s := l.fileString(path, label+"."+k, f)
				if s == nil {
					ok = false
				} else if k == "cert_path" {
					p.CertPath = *s
				} else {
					p.KeyPath = *s
				}
			case "server_names":
				if err := json.Unmarshal(f, &p.ServerNames); err != nil {
					l.fail(`%s: %s.server_names: must be a list of names such as ["example.com", "*.example.com"], not %s`, path, label, short(f))
					ok = false
				}
			default:
				l.failUncertain("%s: %s: %s: unknown key%s", path, label, printable(k), suggest(k, certKeys))
				ok = false
			}
		}
		if ok && (p.CertPath == "" || p.KeyPath == "") {
			l.fail("%s: %s: needs both cert_path and key_path", path, label)
			ok = false
		}
		if ok {
			list = append(list, p)
		}
	}
	return list
}

// printable returns a key as it is when it holds only printable
// characters, else quoted, so that an error stays on one line.
func printable(k string) string {
	for _, r := range k {
		if !unicode.IsPrint(r) {
			return strconv.Quote(k)
		}
	}
	return k
}

// short quotes a JSON value in an error, cut so that a whole file is
// never echoed back.
func short(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) > 40 {
		return string(v[:37]) + "..."
	}
	return string(v)
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// scalar turns a JSON string, number or boolean into the text a flag
// would carry. Numbers keep their text, so that one beyond float64 (1e400)
// reaches the setting's own check instead of failing here.
func scalar(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	if string(v) == "null" {
		return "", errors.New("must be a string, number or boolean, not null")
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil && len(v) > 0 && v[0] == '"' {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil && len(v) > 0 && v[0] != '"' {
		return n.String(), nil
	}
	if string(v) == "true" || string(v) == "false" {
		return string(v), nil
	}
	return "", fmt.Errorf("must be a string, number or boolean, not %s", short(v))
}

// duplicate is a key that appears twice in one JSON object.
type duplicate struct {
	path        string // e.g. "target" or "certificates[1].key_path"
	line, first int
}

// duplicateKeys walks the tokens of a valid JSON document and returns
// every key repeated within its object, with the lines of both.
func duplicateKeys(data []byte) []duplicate {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := &dupWalker{dec: dec, data: data}
	w.value("")
	return w.found
}

type dupWalker struct {
	dec   *json.Decoder
	data  []byte
	found []duplicate
}

func (w *dupWalker) line() int {
	off := min(int(w.dec.InputOffset()), len(w.data))
	return 1 + bytes.Count(w.data[:off], []byte("\n"))
}

// value reads one value; prefix names where it sits ("" at the top).
func (w *dupWalker) value(prefix string) {
	tok, err := w.dec.Token()
	if err != nil {
		return
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]int{}
		for w.dec.More() {
			tok, err := w.dec.Token()
			k, ok := tok.(string)
			if err != nil || !ok {
				return
			}
			name := printable(k)
			if prefix != "" {
				name = prefix + "." + name
			}
			if first, dup := seen[k]; dup {
				w.found = append(w.found, duplicate{path: name, line: w.line(), first: first})
			} else {
				seen[k] = w.line()
			}
			w.value(name)
		}
		w.dec.Token() // '}'
	case json.Delim('['):
		for i := 0; w.dec.More(); i++ {
			w.value(fmt.Sprintf("%s[%d]", prefix, i))
		}
		w.dec.Token() // ']'
	}
}

func describeJSONError(data []byte, err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line := 1 + bytes.Count(data[:min(int(syn.Offset), len(data))], []byte("\n"))
		return fmt.Sprintf("line %d: invalid JSON: %v", line, syn)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return "the file must hold one JSON object of settings"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "invalid JSON: the file ends inside a value"
	}
	return "invalid JSON: " + err.Error()
}
