package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// testsslAccepted are findings above LOW that are about the test PKI, not
// about the proxy: `certs init` writes development certificates without
// CRL or OCSP endpoints, which an operator's CA provides.
var testsslAccepted = map[string]string{
	"cert_revocation": "the development PKI names no CRL or OCSP responder",
}

// testssl.sh (Debian package testssl.sh), an auditor as it ships, scans
// the proxy serving both chains with TLS 1.2 allowed: no finding above
// LOW. Every finding from LOW up is logged, for the record. It takes
// about two minutes on two cores, so -short skips it.
func TestTestsslFindsNothingAboveLow(t *testing.T) {
	if testing.Short() {
		t.Skip("testssl.sh takes about two minutes; run without -short")
	}
	testssl, err := exec.LookPath("testssl")
	if err != nil {
		need(t, "testssl", "apt-get install testssl.sh")
	}
	p := startProxy(t, "--target", echoBackend(t), "--min-tls-version", "1.2",
		"--cert", pki("server-ecdsa.crt"), "--key", pki("server-ecdsa.key"),
		"--cert", pki("server-mldsa.crt"), "--key", pki("server-mldsa.key"))
	dir := t.TempDir()
	report := filepath.Join(dir, "testssl.json")
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testssl, "--warnings", "off", "--color", "0", "--quiet",
		"--severity", "LOW", "--jsonfile", report, "--add-ca", pki("ca.crt"), p.addr)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	// testssl.sh exits non-zero whenever it has findings; the report says
	// what they are.
	data, rerr := os.ReadFile(report)
	if rerr != nil {
		t.Fatalf("testssl wrote no report (%v, exit %v):\n%s", rerr, err, out)
	}
	var findings []struct{ ID, Severity, Finding string }
	if err := json.Unmarshal(data, &findings); err != nil {
		t.Fatalf("%s: %v", report, err)
	}
	for _, f := range findings {
		switch f.Severity {
		case "LOW", "INFO", "OK", "DEBUG":
			t.Logf("testssl %s %s: %s", f.Severity, f.ID, f.Finding)
		case "WARN":
			t.Logf("testssl could not run a check: %s: %s", f.ID, f.Finding)
		default:
			if why, ok := testsslAccepted[f.ID]; ok {
				t.Logf("testssl %s %s: %s (accepted: %s)", f.Severity, f.ID, f.Finding, why)
				continue
			}
			t.Errorf("testssl %s %s: %s", f.Severity, f.ID, f.Finding)
		}
	}
	if len(findings) == 0 {
		t.Fatalf("testssl reported nothing at all:\n%s", out)
	}
}
