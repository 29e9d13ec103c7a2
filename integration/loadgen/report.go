package main

import (
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// target is one of the goals for a workload: the proxy's value of
// unit (an index into the workload's units) divided by the one of vs, or
// the proxy's own value when vs is "", is at least (or at most) bound.
type target struct {
	unit    int
	vs      string
	bound   float64
	atLeast bool
}

// targets are the performance issue's, per workload.
var targets = map[string][]target{
	"mldsa":      {{0, "naive", 1.7, true}, {0, "haproxy", 2, true}},
	"mldsa-mtls": {{0, "naive", 1.4, true}},
	"ecdsa":      {{0, "naive", 1.1, true}},
	"resumed":    {{0, "naive", 1.1, true}, {0, "haproxy", 1.2, true}},
	"upload":     {{0, "haproxy", 1, true}, {1, "haproxy", 1, false}},
	"download":   {{0, "haproxy", 1, true}, {1, "haproxy", 1, false}},
	"echo":       {{0, "naive", 1, false}},
	"idle":       {{0, "", 20, false}},
}

var implTitles = map[string]string{"proxy": "this project", "before": "earlier build", "naive": "naive Go", "haproxy": "HAProxy"}

// median of the rounds' values of unit u.
func median(rounds [][]float64, u int) float64 {
	var v []float64
	for _, r := range rounds {
		v = append(v, r[u])
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// format prints a value of unit with the precision it deserves.
func format(v float64, unit string) string {
	switch unit {
	case "CPU-s/GiB":
		return strconv.FormatFloat(v, 'f', 2, 64)
	case "KiB":
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func formatValues(v []float64, w *workload) string {
	var s []string
	for i, x := range v {
		s = append(s, format(x, w.units[i])+" "+w.units[i])
	}
	return strings.Join(s, ", ")
}

// printReport writes the markdown table and the machine it ran on.
func printReport(out io.Writer, b *bench, res results) {
	others := b.impls[1:]
	head := []string{"workload"}
	for _, impl := range b.impls {
		head = append(head, implTitles[impl])
	}
	for _, impl := range others {
		head = append(head, "proxy / "+implTitles[impl])
	}
	head = append(head, "target", "met")
	fmt.Fprintf(out, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, name := range b.o.workloads {
		w := workloadByName(name)
		med := map[string][]float64{}
		for _, impl := range b.impls {
			for u := range w.units {
				med[impl] = append(med[impl], median(res[name][impl], u))
			}
		}
		row := []string{w.title}
		for _, impl := range b.impls {
			row = append(row, joinValues(med[impl], w, func(u int, v float64) string { return format(v, w.units[u]) }))
		}
		for _, impl := range others {
			row = append(row, joinValues(med[impl], w, func(u int, v float64) string {
				return strconv.FormatFloat(med["proxy"][u]/v, 'f', 2, 64)
			}))
		}
		goal, met := judge(w, targets[name], med)
		row = append(row, goal, met)
		fmt.Fprintf(out, "| %s |\n", strings.Join(row, " | "))
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, machine(b))
	for _, n := range b.notes {
		fmt.Fprintln(out, "\n"+n)
	}
}

func joinValues(v []float64, w *workload, f func(int, float64) string) string {
	var s []string
	for u, x := range v {
		s = append(s, f(u, x))
	}
	return strings.Join(s, ", ")
}

// judge says the targets in words and whether the medians meet them;
// a target against an implementation that did not run is "not measured".
func judge(w *workload, ts []target, med map[string][]float64) (string, string) {
	var goals []string
	met, measured := true, 0
	for _, t := range ts {
		op := "≥"
		if !t.atLeast {
			op = "≤"
		}
		var got float64
		if t.vs == "" {
			goals = append(goals, fmt.Sprintf("%s %s %s", op, format(t.bound, w.units[t.unit]), w.units[t.unit]))
			got = med["proxy"][t.unit]
		} else {
			goal := fmt.Sprintf("%s %g× %s", op, t.bound, implTitles[t.vs])
			if len(w.units) > 1 {
				goal = w.units[t.unit] + " " + goal
			}
			goals = append(goals, goal)
			if med[t.vs] == nil {
				continue
			}
			got = med["proxy"][t.unit] / med[t.vs][t.unit]
		}
		measured++
		if t.atLeast && got < t.bound || !t.atLeast && got > t.bound {
			met = false
		}
	}
	switch {
	case measured == 0:
		return strings.Join(goals, ", "), "not measured"
	case measured < len(ts) && met:
		return strings.Join(goals, ", "), "yes (in part: a peer did not run)"
	case met:
		return strings.Join(goals, ", "), "yes"
	}
	return strings.Join(goals, ", "), "**no**"
}

// machine describes where and how the run took place.
func machine(b *bench) string {
	model, cores := "unknown CPU", 0
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			k, v, _ := strings.Cut(line, ":")
			switch strings.TrimSpace(k) {
			case "model name":
				model = strings.TrimSpace(v)
			case "processor":
				cores++
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	goVer := runtime.Version()
	if bi, err := buildinfo.ReadFile(b.o.bin); err == nil {
		goVer = bi.GoVersion
	}
	s := fmt.Sprintf("Machine: %s, %d cores, Linux %s; proxy built with %s. Each implementation pinned to CPU %d, the load to CPU %d; medians of %d interleaved rounds of %v each (%d connections in flight, %d idle connections).",
		model, cores, strings.TrimSpace(string(kernel)), goVer, b.o.proxyCPU, b.o.loadCPU, b.o.rounds, b.o.duration, b.o.conns, b.o.idleConns)
	if b.haproxyVer != "" {
		s += " " + b.haproxyVer + "."
	}
	return s
}
