// Testreport runs one test suite through `go test -json` and prints what
// go test prints, plus every skipped test with its reason as it happens;
// then, with -summary, one screen over all the suites of a `make test`
// run: which ran, which were skipped or not run, the command that would
// run each, and the peers the tests used.
//
//	testreport -dir DIR -suite NAME [-v] -- GO-TEST-ARGS...
//	testreport -dir DIR -summary
//
// A suite's record is DIR/NAME.json. With CI set (CI=true), a suite in
// which any test skipped fails: under CI every test must run.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// suites are those `make test` runs, in order, and the command that runs
// each alone.
var suites = []struct{ name, command string }{
	{"unit", "make test-unit"},
	{"integration", "make test-integration"},
	{"systemd", "make test-systemd"},
	{"package", "make test-package"},
}

// record is what one suite did; it is written to DIR/SUITE.json.
type record struct {
	Suite    string        `json:"suite"`
	OK       bool          `json:"ok"`
	Passed   int           `json:"passed"`
	Failed   int           `json:"failed"`
	Skipped  []skip        `json:"skipped"`
	Failures []failure     `json:"failures"`
	Peers    []string      `json:"peers"`
	Elapsed  time.Duration `json:"elapsed"`
	Problem  string        `json:"problem,omitempty"` // why the suite failed beyond its tests
}

type failure struct {
	Test    string `json:"test"`
	Message string `json:"message"`
}

type skip struct {
	Test   string `json:"test"`
	Reason string `json:"reason"`
}

func main() {
	dir := flag.String("dir", "bin/test-report", "where the suites' records are kept")
	suite := flag.String("suite", "", "the suite to run: "+suiteNames())
	summary := flag.Bool("summary", false, "print the summary of the suites recorded in -dir")
	verbose := flag.Bool("v", false, "print every line the tests print, not only failures and skips")
	flag.Parse()
	if *summary {
		os.Exit(printSummary(os.Stdout, *dir, underCI()))
	}
	if *suite == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "testreport: need -suite NAME -- GO-TEST-ARGS (or -summary)")
		os.Exit(2)
	}
	os.Exit(runSuite(*dir, *suite, *verbose, flag.Args()))
}

func suiteNames() string {
	var names []string
	for _, s := range suites {
		names = append(names, s.name)
	}
	return strings.Join(names, ", ")
}

// runSuite runs go test -json with args and records the outcome.
func runSuite(dir, suite string, verbose bool, args []string) int {
	start := time.Now()
	cmd := exec.Command("go", append([]string{"test", "-json"}, args...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		return 1
	}
	rec := readEvents(stdout, os.Stdout, verbose)
	waitErr := cmd.Wait()
	rec.Suite, rec.Elapsed = suite, time.Since(start).Round(time.Second)
	rec.OK = waitErr == nil && rec.Failed == 0
	switch {
	case waitErr != nil && rec.Failed == 0:
		rec.Problem = "go test: " + waitErr.Error()
	case rec.Passed+rec.Failed+len(rec.Skipped) == 0:
		rec.OK = false
		rec.Problem = "no test ran: is the -run pattern stale?"
	case underCI() && len(rec.Skipped) > 0:
		rec.OK = false
		rec.Problem = fmt.Sprintf("CI=%s and %d tests skipped: under CI every test must run", os.Getenv("CI"), len(rec.Skipped))
	}
	if rec.Problem != "" {
		fmt.Println("testreport:", rec.Problem)
	}
	if err := writeRecord(dir, rec); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		return 1
	}
	if !rec.OK {
		return 1
	}
	return 0
}

// underCI is the rule the tests follow too (integration's need): CI set
// to anything but "", "0" or "false".
func underCI() bool {
	ci := os.Getenv("CI")
	return ci != "" && ci != "0" && ci != "false"
}

// event is one line of `go test -json` (go doc cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// readEvents prints what plain go test would (package results and the
// output of failed tests), each skip with its reason, and every line that
// names a peer; with verbose, every line. It counts leaf tests: a test
// with subtests counts through them, unless it fails by itself.
func readEvents(r io.Reader, w io.Writer, verbose bool) *record {
	rec := &record{}
	held := map[string][]string{} // output of tests still running, by package and test
	running := map[string]bool{}  // tests started and not ended
	parent := map[string]bool{}   // tests that have subtests
	childFailed := map[string]bool{}
	seenPeer := map[string]bool{}
	fail := func(pkg, test string, output []string) {
		rec.Failed++
		rec.Failures = append(rec.Failures, failure{Test: shortPackage(pkg) + " " + test, Message: firstMessage(output)})
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(w, sc.Text()) // not an event: go test's own message
			continue
		}
		key := e.Package + " " + e.Test
		up := ""
		if i := strings.LastIndex(e.Test, "/"); i >= 0 {
			up = e.Package + " " + e.Test[:i]
		}
		switch e.Action {
		case "run":
			running[key] = true
			if up != "" {
				parent[up] = true
			}
		case "output", "build-output":
			if peer, ok := strings.CutPrefix(strings.TrimSpace(e.Output), "peer: "); ok && !seenPeer[peer] {
				seenPeer[peer] = true
				rec.Peers = append(rec.Peers, peer)
				if !verbose {
					fmt.Fprint(w, e.Output)
				}
			}
			switch {
			case verbose:
				fmt.Fprint(w, e.Output)
			case e.Test != "":
				held[key] = append(held[key], e.Output)
			case e.Output != "PASS\n" && e.Output != "FAIL\n":
				fmt.Fprint(w, e.Output) // ok/FAIL lines, build errors, a test binary's crash
			}
		case "pass":
			if e.Test != "" && !parent[key] {
				rec.Passed++
			}
		case "fail":
			switch {
			case e.Test == "":
				// The package failed: a test still running was cut short by
				// a timeout, a panic elsewhere or os.Exit, and its output
				// says which.
				for k := range running {
					if pkg, test, _ := strings.Cut(k, " "); pkg == e.Package {
						if !verbose {
							fmt.Fprint(w, strings.Join(held[k], ""))
						}
						if !parent[k] {
							fail(pkg, test+" (did not finish: the test binary crashed or timed out)", held[k])
						}
						delete(running, k)
					}
				}
			case !parent[key] || !childFailed[key]:
				fail(e.Package, e.Test, held[key])
				fallthrough
			default:
				if !verbose {
					fmt.Fprint(w, strings.Join(held[key], ""))
				}
			}
			if up != "" {
				childFailed[up] = true
			}
		case "skip":
			if e.Test != "" && !parent[key] { // a package-level skip means no test files
				reason := skipReason(held[key])
				rec.Skipped = append(rec.Skipped, skip{Test: shortPackage(e.Package) + " " + e.Test, Reason: reason})
				if !verbose {
					fmt.Fprintf(w, "--- SKIP: %s (%s): %s\n", e.Test, shortPackage(e.Package), reason)
				}
			}
		}
		if e.Action == "pass" || e.Action == "fail" || e.Action == "skip" {
			delete(held, key)
			delete(running, key)
		}
	}
	if err := sc.Err(); err != nil {
		rec.Problem = "reading go test -json: " + err.Error()
		rec.Failed++
	}
	return rec
}

// message splits a line that testing wrote as "file_test.go:12: text".
func message(line string) (string, bool) {
	file, msg, ok := strings.Cut(strings.TrimSpace(line), ": ")
	if ok && strings.Contains(file, "_test.go:") {
		return msg, true
	}
	return "", false
}

// skipReason is the last message a skipped test logged, with the lines
// that continue it, without the "file_test.go:12: " before it.
func skipReason(output []string) string {
	lines := strings.Split(strings.Join(output, ""), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if msg, ok := message(lines[i]); ok {
			var more []string
			for _, l := range lines[i+1:] {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--- SKIP") {
					more = append(more, l)
				}
			}
			return strings.Join(append([]string{msg}, more...), " ")
		}
	}
	return "(no reason given)"
}

// firstMessage is the first line of a failed test's output that says
// something: its first logged message, else a panic line.
func firstMessage(output []string) string {
	lines := strings.Split(strings.Join(output, ""), "\n")
	for _, l := range lines {
		if msg, ok := message(l); ok {
			return clip(msg)
		}
	}
	for _, l := range lines {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "panic:") {
			return clip(l)
		}
	}
	return "(see its output above)"
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// shortPackage is an import path without the module's own prefix.
func shortPackage(pkg string) string {
	return strings.TrimPrefix(pkg, "github.com/quantum-safe-proxy/quantum-safe-proxy/")
}

func writeRecord(dir string, rec *record) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, rec.Suite+".json"), data, 0o644)
}

// printSummary prints one screen over the suites recorded in dir and
// returns 1 if a suite failed, or under CI if one did not run. A skip
// fails only under CI, where the suite's own run already failed.
func printSummary(w io.Writer, dir string, ci bool) int {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Test summary")
	fmt.Fprintf(w, "  %-12s %-8s %6s %6s %7s %7s\n", "suite", "result", "passed", "failed", "skipped", "time")
	var passed, failed, skipped int
	var peers, failures, problems []string
	var skips []skip
	ok := true
	for _, s := range suites {
		data, err := os.ReadFile(filepath.Join(dir, s.name+".json"))
		if err != nil {
			fmt.Fprintf(w, "  %-12s %-8s %6s %6s %7s %7s   run it: %s\n", s.name, "not run", "-", "-", "-", "-", s.command)
			if ci {
				ok = false
				problems = append(problems, s.name+": did not run, and under CI every suite must")
			}
			continue
		}
		var rec record
		if err := json.Unmarshal(data, &rec); err != nil {
			fmt.Fprintf(w, "  %-12s unreadable record in %s: %v\n", s.name, dir, err)
			ok = false
			continue
		}
		result := "ok"
		switch {
		case !rec.OK:
			result = "FAILED"
			ok = false
		case len(rec.Skipped) > 0:
			result = "partial"
		}
		fmt.Fprintf(w, "  %-12s %-8s %6d %6d %7d %7s\n", s.name, result, rec.Passed, rec.Failed, len(rec.Skipped), rec.Elapsed)
		passed, failed, skipped = passed+rec.Passed, failed+rec.Failed, skipped+len(rec.Skipped)
		for _, p := range rec.Peers {
			if !slices.Contains(peers, p) {
				peers = append(peers, p)
			}
		}
		skips = append(skips, rec.Skipped...)
		for _, f := range rec.Failures {
			failures = append(failures, fmt.Sprintf("%s: %s", f.Test, f.Message))
		}
		if rec.Problem != "" {
			problems = append(problems, s.name+": "+rec.Problem)
		}
	}
	section(w, "Peers the tests used (none of them written by this project):", peers)
	section(w, "Failed:", limit(failures, 20))
	section(w, "Skipped, and how to run each:", groupSkips(skips))
	section(w, "Problems:", problems)
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if !ok || failed > 0 {
		return 1
	}
	return 0
}

// groupSkips gives one line per reason, naming the first few tests.
func groupSkips(skips []skip) []string {
	var reasons []string
	tests := map[string][]string{}
	for _, sk := range skips {
		if tests[sk.Reason] == nil {
			reasons = append(reasons, sk.Reason)
		}
		tests[sk.Reason] = append(tests[sk.Reason], sk.Test)
	}
	var out []string
	for _, r := range reasons {
		names := tests[r]
		if len(names) > 3 {
			names = append(names[:3:3], fmt.Sprintf("and %d more", len(tests[r])-3))
		}
		out = append(out, fmt.Sprintf("%s\n    (%s)", r, strings.Join(names, ", ")))
	}
	return out
}

// limit keeps the first n lines and says how many it left out.
func limit(lines []string, n int) []string {
	if len(lines) <= n {
		return lines
	}
	return append(lines[:n:n], fmt.Sprintf("... and %d more, above", len(lines)-n))
}

func section(w io.Writer, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, title)
	for _, l := range lines {
		fmt.Fprintln(w, "  "+l)
	}
}
