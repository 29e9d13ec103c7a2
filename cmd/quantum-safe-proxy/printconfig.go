package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// printConfigFlags takes --print-config and --json out of the command
// line: print is whether --print-config was given, asJSON whether --json
// was. Everything else is left for the configuration, whatever its place;
// nothing after "--" is looked at. --json alone is refused here, where
// the message can say what it goes with.
func printConfigFlags(args []string) (print, asJSON bool, rest []string, err error) {
	for i, a := range args {
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "print-config" && name != "json" {
			rest = append(rest, a)
			continue
		}
		if hasValue {
			return false, false, nil, &config.Error{Problems: []error{fmt.Errorf("--%s: takes no value; --print-config prints text, --print-config --json prints JSON", name)}}
		}
		print = print || name == "print-config"
		asJSON = asJSON || name == "json"
	}
	if asJSON && !print {
		return false, false, nil, &config.Error{Problems: []error{errors.New("--json: goes with --print-config (quantum-safe-proxy --print-config --json [options])")}}
	}
	return print, asJSON, rest, nil
}

// printConfig loads the configuration as a start would, and prints every
// setting in force with where it came from: a default, the file, a
// variable, a flag, another setting (implied), or a Rust project option
// (mapped). It opens no socket and reads no certificate or key (check
// does): only the --config-file is read. Problems are reported as a
// start reports them, and nothing is printed: a partial configuration
// would read as one that works. Warnings go to stderr, so that --json's
// output stays one JSON document.
func printConfig(args, environ []string, asJSON bool, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, environ, stdout)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "quantum-safe-proxy: warning: %s\n", w)
	}
	if asJSON {
		return cfg.PrintJSON(stdout)
	}
	return cfg.PrintText(stdout)
}
