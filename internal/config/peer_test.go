package config

import (
	"slices"
	"testing"
)

// The lists take every source's form, and each source replaces the one
// before it.
func TestListSources(t *testing.T) {
	base := []string{"--cert", "a.crt", "--key", "a.key", "--ca-cert", "ca.crt"}
	cases := []struct {
		name   string
		file   string
		args   []string
		env    []string
		cn     []string
		uri    []string
		mode   ClientCertMode
		source string
	}{
		{name: "file array", file: `{"allow_cn": ["alice", "bob"]}`, cn: []string{"alice", "bob"}, mode: ClientCertRequired, source: "config.json: allow_cn"},
		{name: "file string", file: `{"allow_cn": "alice"}`, cn: []string{"alice"}, mode: ClientCertRequired, source: "config.json: allow_cn"},
		{name: "repeated flag", args: []string{"--allow-cn", "alice", "--allow-cn=bob"}, cn: []string{"alice", "bob"}, mode: ClientCertRequired, source: "--allow-cn"},
		{name: "flag replaces file", file: `{"allow_cn": ["alice"]}`, args: []string{"--allow-cn", "carol"}, cn: []string{"carol"}, mode: ClientCertRequired, source: "--allow-cn"},
		{name: "variable", args: []string{"--from-env"}, env: []string{"QUANTUM_SAFE_PROXY_ALLOW_URI=spiffe://example.org/ns/a/, spiffe://example.org/ns/b/sa/x,"},
			uri: []string{"spiffe://example.org/ns/a/", "spiffe://example.org/ns/b/sa/x"}, mode: ClientCertRequired, source: "QUANTUM_SAFE_PROXY_ALLOW_URI"},
		{name: "no rules keep optional", mode: ClientCertOptional},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lc := loadCase{file: tc.file, args: append(slices.Clone(base), tc.args...), env: tc.env}
			c, err := lc.load(t)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.AllowCN, tc.cn) || !slices.Equal(c.AllowURI, tc.uri) {
				t.Errorf("allow_cn %q, allow_uri %q; want %q, %q", c.AllowCN, c.AllowURI, tc.cn, tc.uri)
			}
			if c.ClientCertMode != tc.mode {
				t.Errorf("client_cert_mode %s, want %s", c.ClientCertMode, tc.mode)
			}
		})
	}
}

func TestPeerRuleProblems(t *testing.T) {
	pki := []string{"--cert", "a.crt", "--key", "a.key"}
	checkProblems(t, []loadCase{
		{name: "rules without client certificates", args: append(slices.Clone(pki), "--allow-cn", "alice"),
			want: []string{"--allow-cn: allow rules apply to client certificates, and client_cert_mode is none; set ca_cert_path (--ca-cert) and client_cert_mode required"}},
		{name: "rules with optional", args: append(slices.Clone(pki), "--ca-cert", "ca.crt", "--client-cert-mode", "optional", "--allow-ou", "eng", "--allow-dns", "*.example.com"),
			want: []string{"--allow-ou, --allow-dns: allow rules with client_cert_mode optional would admit every client that presents no certificate; set client_cert_mode required"}},
		{name: "crl without client certificates", file: `{"crl_files": ["a.crl"]}`, args: pki,
			want: []string{"config.json: crl_files: CRLs revoke client certificates, and client_cert_mode is none; set ca_cert_path (--ca-cert) and client_cert_mode required or optional"}},
		{name: "bad entries", file: `{"ca_cert_path": "ca.crt", "allow_dns": ["*.*.example.com", "a b"], "allow_uri": ["/ns/prod"], "allow_spki_sha256": ["abc"], "allow_cn": [""], "allow_ou": 5}`, args: pki,
			want: []string{
				"config.json: allow_cn: an empty value matches nothing; remove it",
				`config.json: allow_dns: "*.*.example.com" is not a DNS name or a wildcard such as *.example.com (the * stands for one whole label)`,
				`config.json: allow_dns: "a b" is not a DNS name or a wildcard such as *.example.com (the * stands for one whole label)`,
				`config.json: allow_ou: must be a list of strings such as ["a", "b"], not 5`,
				`config.json: allow_spki_sha256: "abc" is not a SHA-256 pin: give 64 hex digits or 44 base64 characters of the SHA-256 of the DER SubjectPublicKeyInfo (quantum-safe-proxy certs inspect prints it)`,
				`config.json: allow_uri: "/ns/prod" is not an absolute URI such as spiffe://example.org/ns/prod/sa/web (or a prefix ending in /)`,
			}},
		{name: "client options in server mode", args: append(slices.Clone(pki), "--server-name", "a.example", "--advertise-mldsa", "false"),
			want: []string{
				"--server-name: server_name applies to mode client (the name the remote server must hold); in server mode, bind a chain to names with certificates[].server_names",
				"--advertise-mldsa: advertise_mldsa applies to mode client (what its ClientHello offers); remove it",
			}},
		{name: "client mode without CA", args: []string{"--mode", "client", "--target", "pq.example.com:443"},
			want: []string{"mode client needs ca_cert_path (--ca-cert FILE), the roots the server's certificate must chain to; for public servers, /etc/ssl/certs/ca-certificates.crt"}},
		{name: "server options in client mode", args: []string{"--mode", "client", "--ca-cert", "ca.crt", "--target", "unix:/run/x.sock", "--client-cert-mode", "required", "--proxy-protocol", "v2", "--pqc-mode", "strict", "--advertise-mldsa", "false"},
			want: []string{
				`--target: "unix:/run/x.sock": in mode client the target is the remote TLS server, host:port (e.g. pq.example.com:443)`,
				"--client-cert-mode: client_cert_mode applies to mode server; in mode client, the certificates configured are presented when the server asks",
				"--proxy-protocol: proxy_protocol applies to mode server (a header for the plain-text backend); remove it",
				"--advertise-mldsa: false cannot be used with pqc_mode strict, which requires the server to authenticate with ML-DSA; use pqc_mode hybrid",
			}},
		{name: "misspelt mode hides the rest", args: []string{"--mode", "clinet", "--target", "pq.example.com:443"},
			want: []string{`--mode: "clinet" is not one of server, client`}},
		{name: "relative unix listener", args: append(slices.Clone(pki), "--listen", "unix:app.sock"),
			want: []string{`--listen: "unix:app.sock": a unix socket needs an absolute path, e.g. unix:/run/quantum-safe-proxy/app.sock`}},
	})
}

// Client mode needs no certificate and takes server_name from the target.
func TestClientModeDefaults(t *testing.T) {
	c, err := Load([]string{"--mode", "client", "--ca-cert", "ca.crt", "--target", "[2001:db8::1]:443", "--listen", "unix:/run/app.sock", "--allow-uri", "spiffe://example.org/ns/prod/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerName != "2001:db8::1" || c.ClientCertMode != ClientCertNone || len(c.Certificates) != 0 {
		t.Errorf("server_name %q, client_cert_mode %s, %d certificates", c.ServerName, c.ClientCertMode, len(c.Certificates))
	}
}

func TestParseSPKIPin(t *testing.T) {
	want := [32]byte{0xde, 0xad, 0xbe, 0xef}
	for _, v := range []string{
		"deadbeef00000000000000000000000000000000000000000000000000000000",
		"DE:AD:BE:EF:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00",
		"3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	} {
		got, err := ParseSPKIPin(v)
		if err != nil || got != want {
			t.Errorf("ParseSPKIPin(%q) = %x, %v", v, got, err)
		}
	}
	for _, v := range []string{"", "deadbeef", "3q2+7w==", "zz" + string(make([]byte, 62))} {
		if _, err := ParseSPKIPin(v); err == nil {
			t.Errorf("ParseSPKIPin(%q) accepted", v)
		}
	}
}
