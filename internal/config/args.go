package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// parsedArgs is what the command line says, recorded in order; the flags
// are applied after the file and the environment, which they override.
type parsedArgs struct {
	configFile  string
	fromEnv     bool
	help        bool
	flags       []flagValue
	certs, keys []string
}

type flagValue struct {
	opt   *option
	value string
}

// flagSpec is one flag the parser knows: whether it is a boolean, and
// what to do with its value.
type flagSpec struct {
	boolean bool
	rust    bool // one of [rustOptions], never proposed for a typo
	record  func(p *parsedArgs, v string)
}

// flagSpecs lists every flag: the command's own, [options] and
// [rustOptions], by name without dashes.
func flagSpecs() map[string]flagSpec {
	specs := map[string]flagSpec{
		"config-file": {record: func(p *parsedArgs, v string) { p.configFile = v }},
		"from-env":    {boolean: true},
		"cert":        {record: func(p *parsedArgs, v string) { p.certs = append(p.certs, v) }},
		"key":         {record: func(p *parsedArgs, v string) { p.keys = append(p.keys, v) }},
	}
	for _, table := range [][]option{options, rustOptions} {
		for i := range table {
			o := &table[i]
			if o.flag == "" {
				continue
			}
			specs[o.flag] = flagSpec{
				boolean: o.arg == "" && !o.rust,
				rust:    o.rust,
				record:  func(p *parsedArgs, v string) { p.flags = append(p.flags, flagValue{o, v}) },
			}
		}
	}
	return specs
}

// parseArgs reads the command line as the Rust project's (clap) did:
// --name value or --name=value, and a boolean flag alone, or followed by
// true or false (--hybrid-mode false). A single dash works as well
// (-listen), as with Go's flag package. Every unknown flag and stray
// argument is reported, each on its line.
func (l *loader) parseArgs(args []string) *parsedArgs {
	p := &parsedArgs{}
	specs := flagSpecs()
	for i := 0; i < len(args); i++ {
		switch arg := args[i]; {
		case arg == "--":
			for _, a := range args[i+1:] {
				l.failUncertain("unexpected argument %q; settings are given as --name value", a)
			}
			return p
		case len(arg) < 2 || arg[0] != '-':
			l.failUncertain("unexpected argument %q; settings are given as --name value", arg)
		default:
			i += l.parseFlag(p, specs, arg, args[i+1:])
		}
	}
	return p
}

// parseFlag reads one flag, given the arguments after it, and returns
// how many of those it took as its value (0 or 1).
func (l *loader) parseFlag(p *parsedArgs, specs map[string]flagSpec, arg string, rest []string) int {
	name, value, hasValue := splitFlag(arg)
	if name == "help" || name == "h" {
		p.help = true
		return 0
	}
	spec, known := specs[name]
	next, hasNext := "", len(rest) > 0
	if hasNext {
		next = rest[0]
	}
	took := 0
	switch {
	case !known:
		l.failUncertain("--%s: unknown flag%s", printable(name), suggestFlag(name, specs))
		// A value that follows is this flag's, not a stray argument
		// (a negative number too: --bogus -5).
		if !hasValue && hasNext && (!strings.HasPrefix(next, "-") || isNumber(next)) {
			return 1
		}
		return 0
	case spec.boolean && !hasValue:
		value = "true"
		switch {
		case hasNext && (strings.EqualFold(next, "true") || strings.EqualFold(next, "false")):
			value, took = strings.ToLower(next), 1
		case hasNext && !strings.HasPrefix(next, "-"):
			// "--hybrid-mode yes": a value meant for this flag.
			l.failUncertain("--%s: %q is not true or false", name, next)
			return 1
		}
	case !hasValue:
		// A flag this parser knows is never taken as a value:
		// "--cert --key k.key" is a forgotten value, not a file named --key.
		if !hasNext || next == "--" || isFlag(next, specs) {
			l.failUncertain("--%s: needs a value", name)
			return 0
		}
		value, took = next, 1
	}
	if name == "from-env" {
		b, err := parseBool(value)
		if err != nil {
			l.failUncertain("--from-env: %v", err)
		}
		p.fromEnv = b
		return took
	}
	spec.record(p, value)
	return took
}

// isNumber reports whether s is a number such as -5 or -0.5.
func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// splitFlag splits "--name=value" (or "-name=value"), with the Rust
// project's other names of a flag resolved.
func splitFlag(arg string) (name, value string, hasValue bool) {
	name, value, hasValue = strings.Cut(strings.TrimPrefix(arg[1:], "-"), "=")
	if alias, ok := flagAliases[name]; ok {
		name = alias
	}
	return name, value, hasValue
}

// isFlag says whether an argument names a flag the parser knows.
func isFlag(arg string, specs map[string]flagSpec) bool {
	if len(arg) < 2 || arg[0] != '-' {
		return false
	}
	name, _, _ := splitFlag(arg)
	_, known := specs[name]
	return known || name == "help" || name == "h"
}

// suggestFlag proposes the flag closest to an unknown one, with _ read as
// - (--client_cert_mode is --client-cert-mode).
func suggestFlag(name string, specs map[string]flagSpec) string {
	var known []string
	for n, s := range specs {
		if !s.rust {
			known = append(known, n)
		}
	}
	sort.Strings(known)
	if best := closest(strings.ReplaceAll(name, "_", "-"), known); best != "" {
		return fmt.Sprintf("; did you mean --%s?", best)
	}
	return "; see quantum-safe-proxy --help"
}
