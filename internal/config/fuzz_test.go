package config

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad feeds a config file, command-line arguments (one per line) and
// QUANTUM_SAFE_PROXY_* variables (one per line) to Load together. Whatever
// the bytes, it returns a configuration that holds up or one-line
// problems, never panics, and gives the same answer twice; and what
// --print-config --json prints of it loads back to the same settings.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"listen": "0.0.0.0:8443", "target": "127.0.0.1:6000", "cert_path": "a", "key_path": "b", "hybrid_mode": true}`), "", "")
	f.Add([]byte(`{"certificates": [{"cert_path": "a", "key_path": "b", "server_names": ["x"]}], "handshake_timeout": 2.5}`), "--from-env", "QUANTUM_SAFE_PROXY_DRAIN_TIMEOUT=1e300")
	f.Add([]byte(`{"client_cert_mode": "requierd", "target": 1, "target": 2}`), "--cert\na\n--key\nb", "")
	f.Add([]byte(`{"certificates": [{"Cert_Path": "a", "key_path": "b", "key_path": "c"}], "idle_timeout": 9223372037}`), "--idle-timeout\n-1s", "")
	f.Add([]byte(`{"close_timeout": "inf", "max_connections": -1, "cert_path": null}`), "--from-env\n--pqc-mode\nstrict",
		"QUANTUM_SAFE_PROXY_CERT=${CREDENTIALS_DIRECTORY}/a\nQUANTUM_SAFE_PROXY_KEY=b\nCREDENTIALS_DIRECTORY=/run/c")
	f.Add([]byte(`{"buffer_size": 8192, "connection_timeout": 30, "cert": "a", "ca_cert_path": "c"}`), "--hybrid-mode\nfalse\n--classic-cert\nx\n--listne\n--cert\n--key\nb",
		"QUANTUM_SAFE_PROXY_CERT=a")
	if data, err := os.ReadFile("../../packaging/config.json"); err == nil {
		f.Add(data, "", "")
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, file []byte, args, env string) {
		p := filepath.Join(dir, "config.json")
		if err := os.WriteFile(p, file, 0o600); err != nil {
			t.Fatal(err)
		}
		argv := append([]string{"--config-file", p}, lines(args)...)
		environ := lines(env)
		c, err := Load(argv, environ)
		checkLoaded(t, c, err)
		if err == nil {
			checkPrinted(t, c, environ)
		}
		c2, err2 := Load(argv, environ)
		if !reflect.DeepEqual(c, c2) || (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("two loads differ:\n%+v %v\n%+v %v", c, err, c2, err2)
		}
	})
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// checkLoaded holds what Load promises about its result.
func checkLoaded(t *testing.T, c *Config, err error) {
	t.Helper()
	if err != nil {
		if errors.Is(err, ErrHelp) {
			return
		}
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) == 0 {
			t.Fatalf("error %T %q is not a *config.Error with problems", err, err)
		}
		for _, p := range ce.Problems {
			if msg := p.Error(); msg == "" || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("problem is not one line: %q", msg)
			}
		}
		return
	}
	for _, d := range []struct {
		name string
		v    any
	}{{"handshake", c.HandshakeTimeout}, {"dial", c.DialTimeout}, {"idle", c.IdleTimeout}, {"close", c.CloseTimeout}, {"drain", c.DrainTimeout}} {
		if v := reflect.ValueOf(d.v).Int(); v < 0 || v > int64(maxDuration) {
			t.Fatalf("%s timeout %v accepted", d.name, d.v)
		}
	}
	if len(c.Certificates) == 0 {
		t.Fatal("accepted without a certificate")
	}
	for _, p := range c.Certificates {
		if p.CertPath == "" || p.KeyPath == "" {
			t.Fatalf("accepted a half pair %+v", p)
		}
	}
	if oneOf(string(c.PQCMode), "hybrid", "strict", "classical") != nil ||
		oneOf(string(c.ClientCertMode), "required", "optional", "none") != nil ||
		oneOf(c.MinTLSVersion, "1.2", "1.3") != nil || c.MaxConnections < 0 {
		t.Fatalf("accepted %+v", c)
	}
	if c.PQCMode == PQCStrict && c.MinTLSVersion != "1.3" {
		t.Fatal("strict mode accepted with TLS 1.2")
	}
}

// checkPrinted holds what --print-config --json promises: its "config"
// loads to the same settings. A value that is not UTF-8 is refused
// instead (TestPrintJSONRefusesNonUTF8).
func checkPrinted(t *testing.T, c *Config, environ []string) {
	t.Helper()
	if err := c.PrintJSON(io.Discard); err != nil && strings.Contains(err.Error(), "is not UTF-8") {
		return
	}
	c2, printed, printed2 := roundTrip(t, c, environ)
	if got, want := settingsOf(c2), settingsOf(c); !reflect.DeepEqual(got, want) {
		t.Fatalf("printed configuration loads to other settings:\n%+v\nwant:\n%+v\nprinted:\n%s", got, want, printed)
	}
	if !bytes.Equal(printed, printed2) {
		t.Fatalf("printed again:\n%s\nfirst:\n%s", printed2, printed)
	}
}
