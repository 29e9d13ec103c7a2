package config

import "testing"

// admin_listen takes host:port on loopback, or unix:/path; any other
// address needs unsafe_admin_listen, and the TLS listener's address is
// never the admin one. Each message names where the value came from.
func TestAdminListen(t *testing.T) {
	base := []string{"--cert", "a.crt", "--key", "a.key"}
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"none", nil, nil, ""},
		{"ipv4 loopback", []string{"--admin-listen", "127.0.0.1:9090"}, nil, "127.0.0.1:9090"},
		{"ipv6 loopback", []string{"--admin-listen", "[::1]:9090"}, nil, "[::1]:9090"},
		{"localhost", []string{"--admin-listen", "localhost:9090"}, nil, "localhost:9090"},
		{"other loopback", []string{"--admin-listen", "127.0.0.53:9090"}, nil, "127.0.0.53:9090"},
		{"unix", []string{"--admin-listen", "unix:/run/quantum-safe-proxy/admin.sock"}, nil, "unix:/run/quantum-safe-proxy/admin.sock"},
		{"every address, unsafe", []string{"--admin-listen", "[::]:9090", "--unsafe-admin-listen"}, nil, "[::]:9090"},
		{"another host, unsafe", []string{"--admin-listen", "192.0.2.7:9090", "--unsafe-admin-listen"}, nil, "192.0.2.7:9090"},
		{"environment", []string{"--from-env"}, []string{"QUANTUM_SAFE_PROXY_ADMIN_LISTEN=127.0.0.1:9091"}, "127.0.0.1:9091"},
		{"unsafe alone", []string{"--unsafe-admin-listen"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(append(append([]string{}, base...), tc.args...), tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if c.AdminListen != tc.want {
				t.Errorf("admin_listen %q, want %q", c.AdminListen, tc.want)
			}
		})
	}
	notLoopback := ` is not loopback: the admin endpoint is plain HTTP without authentication; listen on 127.0.0.1:PORT or unix:/path, or set unsafe_admin_listen (--unsafe-admin-listen) if you mean it`
	checkProblems(t, []loadCase{
		{name: "every address", args: append(append([]string{}, base...), "--admin-listen", "0.0.0.0:9090"),
			want: []string{`--admin-listen: "0.0.0.0:9090"` + notLoopback}},
		{name: "no host", file: `{"cert_path": "a.crt", "key_path": "a.key", "admin_listen": ":9090"}`,
			want: []string{`config.json: admin_listen: ":9090"` + notLoopback}},
		{name: "a host name", file: `{"cert_path": "a.crt", "key_path": "a.key", "admin_listen": "metrics.example.com:9090"}`,
			want: []string{`config.json: admin_listen: "metrics.example.com:9090"` + notLoopback}},
		{name: "from the environment", args: append(append([]string{}, base...), "--from-env"), env: []string{"QUANTUM_SAFE_PROXY_ADMIN_LISTEN=10.0.0.1:9090"},
			want: []string{`QUANTUM_SAFE_PROXY_ADMIN_LISTEN: "10.0.0.1:9090"` + notLoopback}},
		{name: "a port only", args: append(append([]string{}, base...), "--admin-listen", "9090"),
			want: []string{`--admin-listen: "9090" is neither host:port (e.g. 127.0.0.1:9090) nor unix:/path`}},
		{name: "a port out of range", args: append(append([]string{}, base...), "--admin-listen", "127.0.0.1:90900"),
			want: []string{`--admin-listen: "127.0.0.1:90900" is neither host:port (e.g. 127.0.0.1:9090) nor unix:/path`}},
		{name: "a relative unix path", args: append(append([]string{}, base...), "--admin-listen", "unix:admin.sock"),
			want: []string{`--admin-listen: "unix:admin.sock": a unix socket needs an absolute path, e.g. unix:/run/quantum-safe-proxy/admin.sock`}},
		{name: "the listen address", args: append(append([]string{}, base...), "--listen", "127.0.0.1:8443", "--admin-listen", "127.0.0.1:8443"),
			want: []string{`--admin-listen: "127.0.0.1:8443" is also the listen address: the admin endpoint needs an address of its own, e.g. 127.0.0.1:9090`}},
		{name: "the listen socket", file: `{"cert_path": "a.crt", "key_path": "a.key", "listen": "unix:/run/app.sock", "admin_listen": "unix:/run/app.sock"}`,
			want: []string{`config.json: admin_listen: "unix:/run/app.sock" is also the listen address: the admin endpoint needs an address of its own, e.g. 127.0.0.1:9090`}},
		{name: "with other problems", args: []string{"--admin-listen", "0.0.0.0:9090", "--listen", "nowhere"},
			want: []string{
				`--listen: "nowhere" is neither host:port (e.g. [::]:8443 or 127.0.0.1:8443) nor unix:/path`,
				`--admin-listen: "0.0.0.0:9090"` + notLoopback,
				"no certificate configured: pass --cert FILE --key FILE (or cert_path and key_path in a --config-file); `quantum-safe-proxy certs init --dir DIR` makes a development PKI",
			}},
	})
}
