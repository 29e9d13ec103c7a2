package config

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Where each setting came from, for --print-config. The loader already
// records, per JSON key, the label of the last source that set it
// (loader.src); what validation fills in or maps from another setting is
// recorded here as it happens, so that the printed source is the reason
// the code acted on, not a second guess at it.

// sources is what a loaded [Config] remembers of its origins.
type sources struct {
	// of maps a JSON key (and "certificates") to where its value came
	// from: "default", "file PATH", "env VAR", "flag --name",
	// "implied by ..." or "mapped from ...". A key not in it is "default".
	of map[string]string
	// notes maps a printed key ("log_level", "ca_cert_path",
	// "certificates[0].key_path", "crl_files[1]") to how its value was
	// written when that differs from the value in force: "given as trace",
	// "given as ${CREDENTIALS_DIRECTORY}/tls.key".
	notes map[string]string
}

// sourceOf names where key's value came from, from the label the loader
// recorded: the file's labels are "PATH: KEY", the environment's the
// variable's name, the command line's "--flag". The file is matched first,
// by its exact path, so that a file named like a flag or a variable is
// still a file.
func (l *loader) sourceOf(key string) string {
	label, ok := l.src[key]
	switch {
	case !ok:
		return "default"
	case l.configFile != "" && strings.HasPrefix(label, l.configFile+": "):
		return "file " + printable(l.configFile)
	case strings.HasPrefix(label, EnvPrefix):
		return "env " + label
	default:
		return "flag " + label
	}
}

// imply records that validation set key because of another setting, as
// in "implied by ca_cert_path".
func (l *loader) imply(key, by string) {
	l.derived[key] = "implied by " + by
}

// mapFrom records that key took its value from the Rust project's
// option rust, and where that came from.
func (l *loader) mapFrom(key, rust string) {
	l.derived[key] = fmt.Sprintf("mapped from %s (%s)", rust, l.sourceOf(rust))
}

// note records how a printed key was written when that differs from the
// value in force.
func (l *loader) note(key, format string, args ...any) {
	l.notes[key] = fmt.Sprintf(format, args...)
}

// allowKeys names the allow lists that are set, by key: "allow_cn, allow_dns".
func (l *loader) allowKeys() string {
	var set []string
	for _, o := range options {
		if strings.HasPrefix(o.key, "allow_") && len(*o.list(l.cfg)) > 0 {
			set = append(set, o.key)
		}
	}
	return strings.Join(set, ", ")
}

// sources returns what the configuration keeps of where its values came from.
func (l *loader) sources() *sources {
	s := &sources{of: map[string]string{}, notes: maps.Clone(l.notes)}
	for key := range l.src {
		s.of[key] = l.sourceOf(key)
	}
	maps.Copy(s.of, l.derived)
	return s
}

// source is where key's value came from, with the notes on it: a note on
// key itself reads "; given as X", one on a part of it (key[i] or
// key[i].field) "; key[i].field given as X", in the order of the parts.
func (s *sources) source(key, base string) string {
	if n, ok := s.notes[key]; ok {
		base += "; " + n
	}
	var parts []string
	for k := range s.notes {
		if strings.HasPrefix(k, key+"[") {
			parts = append(parts, k)
		}
	}
	sortParts(parts)
	for _, k := range parts {
		base += "; " + k + " " + s.notes[k]
	}
	return base
}

// sortParts sorts "crl_files[2]" before "crl_files[10]": by index, then
// by field.
func sortParts(parts []string) {
	index := func(k string) (int, string) {
		_, rest, _ := strings.Cut(k, "[")
		n, field, _ := strings.Cut(rest, "]")
		i, _ := strconv.Atoi(n)
		return i, field
	}
	slices.SortFunc(parts, func(a, b string) int {
		ia, fa := index(a)
		ib, fb := index(b)
		return cmp.Or(cmp.Compare(ia, ib), strings.Compare(fa, fb))
	})
}
