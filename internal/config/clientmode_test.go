package config

import "testing"

// Client mode listens on loopback unless told, keeps a listen address
// it is given on loopback or a unix socket unless unsafe_listen, and
// asks the server for TLS 1.3 unless min_tls_version says otherwise.
func TestClientModeListenAndVersion(t *testing.T) {
	base := []string{"--mode", "client", "--ca-cert", "ca.crt", "--target", "pq.example.com:443"}
	for _, tc := range []struct {
		name         string
		args         []string
		listen, tlsv string
	}{
		{"defaults", nil, "127.0.0.1:8443", "1.3"},
		{"ipv6 loopback", []string{"--listen", "[::1]:7000"}, "[::1]:7000", "1.3"},
		{"localhost", []string{"--listen", "localhost:7000"}, "localhost:7000", "1.3"},
		{"unix", []string{"--listen", "unix:/run/qsp/app.sock"}, "unix:/run/qsp/app.sock", "1.3"},
		{"unsafe listen", []string{"--listen", "[::]:7000", "--unsafe-listen"}, "[::]:7000", "1.3"},
		{"tls 1.2 asked for", []string{"--min-tls-version", "1.2"}, "127.0.0.1:8443", "1.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(append(append([]string{}, base...), tc.args...), nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Listen != tc.listen || c.MinTLSVersion != tc.tlsv {
				t.Errorf("listen %q, min_tls_version %s; want %q, %s", c.Listen, c.MinTLSVersion, tc.listen, tc.tlsv)
			}
		})
	}
	checkProblems(t, []loadCase{
		{name: "wildcard listen", args: append(append([]string{}, base...), "--listen", "0.0.0.0:7000"),
			want: []string{`--listen: "0.0.0.0:7000" is not loopback: in mode client whoever connects sends plain text out over TLS with this proxy's client certificates; listen on 127.0.0.1:PORT or unix:/path, or set unsafe_listen (--unsafe-listen) if you mean it`}},
		{name: "unsafe_listen in server mode", args: []string{"--cert", "a.crt", "--key", "a.key", "--unsafe-listen"},
			want: []string{"--unsafe-listen: unsafe_listen applies to mode client (where the listener takes plain text); remove it"}},
	})
}
