package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A real go test run of a small module with a passing, a failing and a
// skipping test, read as make test reads every suite.
func TestReadEventsFromGoTest(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module sample\n\ngo 1.27\n")
	write("sample_test.go", `package sample

import (
	"fmt"
	"testing"
)

func TestPasses(t *testing.T) { t.Log("quiet when it passes") }

func TestFails(t *testing.T) { t.Error("the reason it failed") }

func TestSkips(t *testing.T) {
	fmt.Println("peer: Example 1.0 (from PATH)")
	t.Skip("chromium not available: apt-get install chromium")
}

func TestSubtests(t *testing.T) {
	t.Run("one", func(t *testing.T) {})
	t.Run("two", func(t *testing.T) { t.Skipf("needs root:\nrun make test-systemd as root") })
}
`)
	if err := os.Mkdir(filepath.Join(dir, "crash"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("crash/crash_test.go", `package crash

import (
	"os"
	"testing"
)

func TestExits(t *testing.T) {
	t.Log("about to exit")
	os.Exit(3)
}
`)
	cmd := exec.Command("go", "test", "-json", "-count=1", "./...")
	cmd.Dir = dir
	out, _ := cmd.Output() // fails: one test fails
	var printed bytes.Buffer
	rec := readEvents(bytes.NewReader(out), &printed, false)

	// TestPasses and TestSubtests/one; the parent counts through them.
	// TestFails, and TestExits, which ended the binary.
	if rec.Passed != 2 || rec.Failed != 2 {
		t.Errorf("passed %d failed %d, want 2 and 2", rec.Passed, rec.Failed)
	}
	wantFailures := []failure{
		{"sample TestFails", "the reason it failed"},
		{"sample/crash TestExits (did not finish: the test binary crashed or timed out)", "about to exit"},
	}
	slices.SortFunc(rec.Failures, func(a, b failure) int { return strings.Compare(a.Test, b.Test) })
	if !slices.Equal(rec.Failures, wantFailures) {
		t.Errorf("failures %+v, want %+v", rec.Failures, wantFailures)
	}
	want := []skip{
		{"sample TestSkips", "chromium not available: apt-get install chromium"},
		{"sample TestSubtests/two", "needs root: run make test-systemd as root"},
	}
	if len(rec.Skipped) != len(want) {
		t.Fatalf("skipped %+v, want %+v", rec.Skipped, want)
	}
	for i := range want {
		if rec.Skipped[i] != want[i] {
			t.Errorf("skip %d: %+v, want %+v", i, rec.Skipped[i], want[i])
		}
	}
	if len(rec.Peers) != 1 || rec.Peers[0] != "Example 1.0 (from PATH)" {
		t.Errorf("peers %q", rec.Peers)
	}
	text := printed.String()
	for _, s := range []string{"the reason it failed", "--- SKIP: TestSkips (sample): chromium not available", "FAIL\tsample", "about to exit"} {
		if !strings.Contains(text, s) {
			t.Errorf("printed output lacks %q:\n%s", s, text)
		}
	}
	if strings.Contains(text, "quiet when it passes") {
		t.Errorf("a passing test's log was printed:\n%s", text)
	}
}

// The summary fails a run in which a suite failed, and names the command
// for a suite that did not run.
func TestSummary(t *testing.T) {
	dir := t.TempDir()
	writeRecord(dir, &record{Suite: "unit", OK: true, Passed: 10})
	writeRecord(dir, &record{Suite: "integration", OK: true, Passed: 5,
		Skipped: []skip{{"integration TestChromium", "chromium not available: apt-get install chromium"}}})
	var out bytes.Buffer
	if code := printSummary(&out, dir, false); code != 0 {
		t.Errorf("exit %d for a run with a skip outside CI, want 0:\n%s", code, out.String())
	}
	for _, s := range []string{"integration  partial", "run it: make test-systemd", "chromium not available: apt-get install chromium\n    (integration TestChromium)", "tests: 15 passed, 0 failed, 1 skipped\n"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, out.String())
		}
	}
	out.Reset()
	if code := printSummary(&out, dir, true); code != 1 || !strings.Contains(out.String(), "systemd: did not run, and under CI every suite must") {
		t.Errorf("exit %d under CI with suites not run, want 1:\n%s", code, out.String())
	}
	writeRecord(dir, &record{Suite: "systemd", OK: false, Failed: 1,
		Failures: []failure{{"integration TestSystemdBox", "root is required under CI: run sudo make test-systemd"}}})
	out.Reset()
	if code := printSummary(&out, dir, false); code != 1 || !strings.Contains(out.String(), "systemd      FAILED") ||
		!strings.Contains(out.String(), "Failed:\n  integration TestSystemdBox: root is required under CI: run sudo make test-systemd\n") {
		t.Errorf("exit %d for a failed suite, want 1:\n%s", code, out.String())
	}
}
