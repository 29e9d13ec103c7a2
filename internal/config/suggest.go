package config

import (
	"fmt"
	"strings"
)

// knownKeys lists every top-level key of the JSON file (the Rust
// project's keys, which have messages of their own, aside).
func knownKeys() []string {
	keys := []string{"cert_path", "key_path", "certificates"}
	for _, o := range options {
		keys = append(keys, o.key)
	}
	return keys
}

// suggest proposes the known key closest to a misspelt one: the same key
// in other case first (keys are case-sensitive), else the nearest within
// two edits.
func suggest(k string, known []string) string {
	best := closest(k, known)
	if best == "" {
		return "; see the configuration reference in README.md"
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// closest returns the name in known nearest to k: the same in other case
// first, else the nearest within two edits; "" if none is.
func closest(k string, known []string) string {
	best, bestD := "", 3
	for _, name := range known {
		d := editDistance(k, name)
		if strings.EqualFold(k, name) {
			d = 0
		}
		if d < bestD || (d == bestD && name < best) {
			best, bestD = name, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
