package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfigFile: any file content yields a config or errors, never a panic.
func FuzzConfigFile(f *testing.F) {
	f.Add([]byte(`{"listen": "0.0.0.0:8443", "target": "127.0.0.1:6000", "cert_path": "a", "key_path": "b", "hybrid_mode": true}`))
	f.Add([]byte(`{"certificates": [{"cert_path": "a", "key_path": "b", "server_names": ["x"]}], "handshake_timeout": 2.5}`))
	f.Add([]byte(`{"client_cert_mode": "requierd"}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "config.json")
		os.WriteFile(p, data, 0o600)
		Load([]string{"--config-file", p}, nil)
	})
}
