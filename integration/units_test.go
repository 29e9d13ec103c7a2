package integration

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The shipped service is hardened: systemd-analyze security rates its
// exposure 1.5 or lower (README shows the figure).
func TestServiceSecurityExposure(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		need(t, "systemd-analyze", "apt-get install systemd (Debian's systemd package has it)")
	}
	for _, unit := range []string{"../systemd/quantum-safe-proxy.service", "../systemd/quantum-safe-proxy@.service"} {
		out, err := exec.Command(analyze, "security", "--offline=true", unit).CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("%s: %v\n%s", unit, err, out)
		}
		if score, _ := strconv.ParseFloat(string(m[1]), 64); score > 1.5 {
			t.Errorf("%s: exposure %.1f, want <= 1.5", unit, score)
		}
	}
}

// The template service is the plain one with the instance's socket and
// config file: they cannot drift apart.
func TestTemplateServiceMatchesService(t *testing.T) {
	plain, _ := os.ReadFile("../systemd/quantum-safe-proxy.service")
	tmpl, _ := os.ReadFile("../systemd/quantum-safe-proxy@.service")
	want := strings.NewReplacer(
		"Description=quantum-safe-proxy post-quantum TLS sidecar", "Description=quantum-safe-proxy instance %i",
		"quantum-safe-proxy.socket", "quantum-safe-proxy@%i.socket",
		"/etc/quantum-safe-proxy/config.json", "/etc/quantum-safe-proxy/%i.json",
	).Replace(string(plain))
	if string(tmpl) != want {
		t.Error("systemd/quantum-safe-proxy@.service is not the plain service with the instance's socket and config file")
	}
}
