package config

import (
	"fmt"
	"sort"
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
		arg := args[i]
		if arg == "--" {
			for _, a := range args[i+1:] {
				l.failUncertain("unexpected argument %q; settings are given as --name value", a)
			}
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			l.failUncertain("unexpected argument %q; settings are given as --name value", arg)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(arg[1:], "-"), "=")
		if alias, ok := flagAliases[name]; ok {
			name = alias
		}
		if name == "help" || name == "h" {
			p.help = true
			continue
		}
		spec, known := specs[name]
		// next is the following argument, when it may be this flag's value.
		next, hasNext := "", i+1 < len(args)
		if hasNext {
			next = args[i+1]
		}
		switch {
		case !known:
			l.failUncertain("--%s: unknown flag%s", printable(name), suggestFlag(name, specs))
			// A value that follows is this flag's, not a stray argument.
			if !hasValue && hasNext && !strings.HasPrefix(next, "-") {
				i++
			}
			continue
		case spec.boolean && !hasValue:
			value = "true"
			switch {
			case hasNext && (strings.EqualFold(next, "true") || strings.EqualFold(next, "false")):
				value = strings.ToLower(next)
				i++
			case hasNext && !strings.HasPrefix(next, "-"):
				// "--hybrid-mode yes": a value meant for this flag.
				l.failUncertain("--%s: %q is not true or false", name, next)
				i++
				continue
			}
		case !hasValue:
			// A flag this parser knows is never taken as a value:
			// "--cert --key k.key" is a forgotten value, not a file named --key.
			if !hasNext || isFlag(next, specs) {
				l.failUncertain("--%s: needs a value", name)
				continue
			}
			value = next
			i++
		}
		if name == "from-env" {
			b, err := parseBool(value)
			if err != nil {
				l.failUncertain("--from-env: %v", err)
			}
			p.fromEnv = b
			continue
		}
		spec.record(p, value)
	}
	return p
}

// isFlag says whether a argument names a flag the parser knows.
func isFlag(arg string, specs map[string]flagSpec) bool {
	if len(arg) < 2 || arg[0] != '-' {
		return false
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(arg[1:], "-"), "=")
	if alias, ok := flagAliases[name]; ok {
		name = alias
	}
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
