package integration

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// opensslCA is a client CA run with OpenSSL 3.5 as an operator would run
// one: `openssl req` makes the CA and each client's request, `openssl
// x509 -req` signs it, and `openssl ca` revokes certificates and writes
// CRLs (-gencrl) from its index.txt.
type opensslCA struct {
	t    *testing.T
	ossl string
	dir  string
	cert string // the CA certificate, PEM
}

// caConfig is the OpenSSL configuration of an opensslCA: the extensions
// of the CA and of client certificates, and `openssl ca`'s database.
const caConfig = `[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[client_ext]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
[ca]
default_ca = CA_default
[CA_default]
database = index.txt
crlnumber = crlnumber
certificate = ca.crt
private_key = ca.key
default_md = default
default_crl_days = 7
`

// keyArgs are the `openssl req` arguments for a new key of kind alg: "EC"
// (P-256) or "ML-DSA-65".
func keyArgs(alg string) []string {
	if alg == "EC" {
		return []string{"-newkey", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}
	}
	return []string{"-newkey", alg}
}

// newOpenSSLCA makes a CA whose key is of kind alg, named "Test <alg> CA".
func newOpenSSLCA(t *testing.T, alg string) *opensslCA {
	t.Helper()
	ca := &opensslCA{t: t, ossl: openssl(t), dir: t.TempDir()}
	ca.cert = filepath.Join(ca.dir, "ca.crt")
	for name, content := range map[string]string{"openssl.cnf": caConfig, "index.txt": "", "crlnumber": "1000\n"} {
		if err := os.WriteFile(filepath.Join(ca.dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ca.run(append(append([]string{"req", "-x509", "-config", "openssl.cnf", "-extensions", "ca_ext", "-nodes"}, keyArgs(alg)...),
		"-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=Test "+alg+" CA", "-days", "30")...)
	return ca
}

// run runs openssl in the CA's directory and returns its output.
func (ca *opensslCA) run(args ...string) string {
	ca.t.Helper()
	cmd := exec.Command(ca.ossl, args...)
	cmd.Dir = ca.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		ca.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// client issues a client certificate with an ECDSA P-256 key, subject
// subj (such as /CN=alice/OU=eng) and, unless empty, the subjectAltName
// san (such as DNS:a.example.com,URI:spiffe://example.org/a). It returns
// the certificate and key files.
func (ca *opensslCA) client(name, subj, san string) (crt, key string) {
	ca.t.Helper()
	req := []string{"req", "-new", "-config", "openssl.cnf", "-nodes", "-newkey", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-keyout", name + ".key", "-out", name + ".csr", "-subj", subj}
	if san != "" {
		req = append(req, "-addext", "subjectAltName="+san)
	}
	ca.run(req...)
	ca.run("x509", "-req", "-in", name+".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-copy_extensions", "copyall",
		"-extfile", "openssl.cnf", "-extensions", "client_ext", "-days", "2", "-out", name+".crt")
	return filepath.Join(ca.dir, name+".crt"), filepath.Join(ca.dir, name+".key")
}

// revoke records crt as revoked (keyCompromise) in the CA's database.
func (ca *opensslCA) revoke(crt string) {
	ca.t.Helper()
	ca.run("ca", "-config", "openssl.cnf", "-revoke", crt, "-crl_reason", "keyCompromise")
}

// crl writes the CA's CRL to path, with `openssl ca -gencrl` and extra
// arguments (such as -crl_lastupdate and -crl_nextupdate).
func (ca *opensslCA) crl(path string, extra ...string) {
	ca.t.Helper()
	ca.run(append([]string{"ca", "-config", "openssl.cnf", "-gencrl", "-out", path}, extra...)...)
}

// serial is a certificate's serial number as OpenSSL prints it.
func (ca *opensslCA) serial(crt string) string {
	ca.t.Helper()
	return strings.TrimSpace(strings.TrimPrefix(ca.run("x509", "-in", crt, "-noout", "-serial"), "serial="))
}

// spkiPin is the base64 SHA-256 of a certificate's public key, computed
// with OpenSSL as README tells operators to.
func spkiPin(t *testing.T, crt string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", `"$O" x509 -in "$C" -noout -pubkey | "$O" pkey -pubin -outform DER | "$O" dgst -sha256 -binary | base64`)
	cmd.Env = append(os.Environ(), "O="+openssl(t), "C="+crt)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pin of %s: %v", crt, err)
	}
	return strings.TrimSpace(string(out))
}

// peerConfig writes the proxy's JSON configuration: both development
// chains, client certificates required from the CAs in caFile, and the
// settings of extra (allow rules, crl_files).
func peerConfig(t *testing.T, path, target, caFile string, extra map[string]any) {
	t.Helper()
	cfg := map[string]any{
		"target": target, "client_cert_mode": "required", "ca_cert_path": caFile,
		"certificates": []map[string]string{
			{"cert_path": pki("server-mldsa.crt"), "key_path": pki("server-mldsa.key")},
			{"cert_path": pki("server-ecdsa.crt"), "key_path": pki("server-ecdsa.key")},
		},
	}
	for k, v := range extra {
		cfg[k] = v
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeConfig(t, path, string(data))
}

// recordingCache is a client session cache, as Go clients ship with,
// that counts the sessions it handed out for the client to offer.
type recordingCache struct {
	tls.ClientSessionCache
	offered atomic.Int32
}

func (c *recordingCache) Get(key string) (*tls.ClientSessionState, bool) {
	s, ok := c.ClientSessionCache.Get(key)
	if ok && s != nil {
		c.offered.Add(1)
	}
	return s, ok
}

// peerClient is a Go client presenting crt and key, trusting the
// development roots, with its own recording session cache.
func peerClient(t *testing.T, crt, key string) (*tls.Config, *recordingCache) {
	t.Helper()
	cc := goClient(t, "", "")
	c, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	cache := &recordingCache{ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	cc.Certificates, cc.ClientSessionCache = []tls.Certificate{c}, cache
	return cc, cache
}

// goExchange connects, sends a line and reads it back. A TLS 1.3 client
// learns of a refusal after its own Finished, so the error is then the
// read's: "remote error: tls: bad certificate". The proxy may have closed
// the connection by the time the line is written, and the write fail
// (EPIPE: the kernel answers bytes to a closed socket with a reset); the
// alert is still there to read, before the reset.
func goExchange(addr string, cc *tls.Config) (tls.ConnectionState, error) {
	c, err := tls.Dial("tcp", addr, cc)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	const line = "who goes there\n"
	_, werr := io.WriteString(c, line)
	got, err := bufio.NewReader(c).ReadString('\n')
	if werr != nil && err == nil {
		err = werr
	}
	if err == nil && got != line {
		err = io.ErrUnexpectedEOF
	}
	return c.ConnectionState(), err
}
