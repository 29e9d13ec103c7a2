package config

import (
	"strings"
	"testing"
)

// A key's PEM text given where its path belongs (a container's
// QUANTUM_SAFE_PROXY_KEY set to the key itself, as some images take it)
// is refused with a message that does not repeat it: the message goes to
// the terminal, the journal and --print-config's stderr, and the
// configuration is never printed.
func TestKeyTextInsteadOfPath(t *testing.T) {
	const key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRET\n-----END PRIVATE KEY-----\n"
	const fileKey = `-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRET\n-----END PRIVATE KEY-----`
	const fix = ": holds a private key in PEM, not the path of a file; write the key to a file readable only by the service and give its path (the key is not shown here)"
	cases := []loadCase{
		{name: "flag", args: []string{"--cert", "a.crt", "--key", key},
			want: []string{"--key" + fix}},
		{name: "environment", args: []string{"--from-env"}, env: []string{"QUANTUM_SAFE_PROXY_CERT=a.crt", "QUANTUM_SAFE_PROXY_KEY=" + key},
			want: []string{"QUANTUM_SAFE_PROXY_KEY" + fix}},
		{name: "file", file: `{"cert_path": "a.crt", "key_path": "` + fileKey + `"}`,
			want: []string{"config.json: certificates[0].key_path" + fix}},
		{name: "second of a list", file: `{"certificates": [{"cert_path": "a.crt", "key_path": "a.key"}, {"cert_path": "b.crt", "key_path": "` + fileKey + `"}]}`,
			want: []string{"config.json: certificates[1].key_path" + fix}},
	}
	checkProblems(t, cases)
	for _, tc := range cases {
		if _, err := tc.load(t); err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: the error shows the key: %v", tc.name, err)
		}
	}
}
