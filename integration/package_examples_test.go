package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// shippedConfigs returns every configuration the project ships or shows:
// the packaged config.json, the examples, and each JSON block in the
// README, as files.
func shippedConfigs(t *testing.T) []string {
	files, _ := filepath.Glob("../packaging/examples/*.json")
	files = append(files, "../packaging/config.json")
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(readme, -1)
	if len(blocks) == 0 {
		t.Fatal("README.md shows no JSON configuration; the pattern no longer finds them")
	}
	dir := t.TempDir()
	for i, b := range blocks {
		p := filepath.Join(dir, "README-block-"+string(rune('a'+i))+".json")
		if err := os.WriteFile(p, b[1], 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	return files
}

// timeoutStopSec reads TimeoutStopSec= from a unit file.
func timeoutStopSec(t *testing.T, unit string) time.Duration {
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\S+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s: no TimeoutStopSec=", unit)
	}
	d, err := time.ParseDuration(string(m[1]))
	if err != nil {
		t.Fatalf("%s: TimeoutStopSec=%s: %v", unit, m[1], err)
	}
	return d
}

// No shipped configuration lets a drain outlast the unit's stop timeout:
// systemd would SIGKILL the drain and mark the unit failed. Each file is
// read by the proxy's own loader, defaults included, so an example that
// sets no drain_timeout is held to the default.
func TestShippedDrainTimeoutBelowTimeoutStopSec(t *testing.T) {
	stop := min(timeoutStopSec(t, "../systemd/quantum-safe-proxy.service"), timeoutStopSec(t, "../systemd/quantum-safe-proxy@.service"))
	env := []string{"CREDENTIALS_DIRECTORY=/run/credentials/quantum-safe-proxy.service"}
	for _, f := range shippedConfigs(t) {
		cfg, err := config.Load([]string{"--config-file", f}, env)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if cfg.DrainTimeout >= stop {
			t.Errorf("%s: drain_timeout %v is not below the units' TimeoutStopSec=%v", filepath.Base(f), cfg.DrainTimeout, stop)
		}
	}
	for _, unit := range []string{"../systemd/quantum-safe-proxy.service", "../systemd/quantum-safe-proxy@.service"} {
		data, _ := os.ReadFile(unit)
		if !strings.Contains(string(data), "\nSuccessExitStatus=3\n") {
			t.Errorf("%s: SuccessExitStatus=3 (a stop that cut connections at drain_timeout) is missing", unit)
		}
	}
}
