package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// ErrHelp is returned by [Load] when --help was asked for.
var ErrHelp = flag.ErrHelp

// Error is a configuration problem; [Load] returns every one it finds,
// wrapped in a *multierror.Error. The command exits 78 (EX_CONFIG) on them.
type Error struct{ Problems []error }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// loader gathers settings from every source and remembers, for each JSON
// key, where its value last came from, so that errors can name it.
type loader struct {
	environ  []string
	cfg      *Config
	src      map[string]string
	problems *multierror.Error
}

func (l *loader) fail(format string, args ...any) {
	l.problems = multierror.Append(l.problems, fmt.Errorf(format, args...))
}

// label names where key's value came from: "config.json: client_cert_mode",
// "--client-cert-mode" or "QUANTUM_SAFE_PROXY_CLIENT_CERT_MODE".
func (l *loader) label(key string) string {
	if s, ok := l.src[key]; ok {
		return s
	}
	return key
}

func (l *loader) apply(o *option, value, source string) {
	l.src[o.key] = source
	if err := o.set(l.cfg, value); err != nil {
		l.fail("%s: %v", source, err)
	}
}

// Load builds the configuration from command-line arguments (without the
// program name) and the environment (as os.Environ returns it).
// It returns every problem at once, gathered with go-multierror, as an *[Error].
func Load(args []string, environ []string) (*Config, error) {
	l := &loader{environ: environ, cfg: Default(), src: map[string]string{}}
	fs, parsed := newFlagSet(l)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, ErrHelp
		}
		return nil, &Error{Problems: []error{flagError(err)}}
	}
	if fs.NArg() > 0 {
		return nil, &Error{Problems: []error{fmt.Errorf("unexpected argument %q; settings are given as --name value", fs.Arg(0))}}
	}
	if parsed.configFile != "" {
		l.loadFile(parsed.configFile)
	}
	if parsed.fromEnv {
		l.loadEnv(environ)
	}
	for _, f := range parsed.flags {
		l.apply(f.opt, f.value, "--"+f.opt.flag)
	}
	l.flagCertificates(parsed.certs, parsed.keys)
	l.validate()
	if l.problems != nil {
		return nil, &Error{Problems: l.problems.Errors}
	}
	return l.cfg, nil
}

type flagValue struct {
	opt   *option
	value string
}

type parsedFlags struct {
	configFile  string
	fromEnv     bool
	flags       []flagValue
	certs, keys []string
}

// newFlagSet records flags in order; they are applied after the file and
// the environment, which they override.
func newFlagSet(l *loader) (*flag.FlagSet, *parsedFlags) {
	p := &parsedFlags{}
	fs := flag.NewFlagSet("quantum-safe-proxy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&p.configFile, "config-file", "", "")
	fs.BoolVar(&p.fromEnv, "from-env", false, "")
	fs.Func("cert", "", func(v string) error { p.certs = append(p.certs, v); return nil })
	fs.Func("key", "", func(v string) error { p.keys = append(p.keys, v); return nil })
	for i := range options {
		o := &options[i]
		if o.flag == "" {
			continue
		}
		record := func(v string) error { p.flags = append(p.flags, flagValue{o, v}); return nil }
		if o.arg == "" {
			fs.BoolFunc(o.flag, "", record)
		} else {
			fs.Func(o.flag, "", record)
		}
	}
	return fs, p
}

func flagError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Errorf("--%s: unknown flag; see quantum-safe-proxy --help", printable(name))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Errorf("--%s: needs a value", printable(name))
	}
	return errors.New(printable(msg))
}

func (l *loader) flagCertificates(certs, keys []string) {
	if len(certs) == 0 && len(keys) == 0 {
		return
	}
	l.src["certificates"] = "--cert"
	if len(certs) != len(keys) {
		l.fail("--cert/--key: %d certificates and %d keys; give them in pairs, --cert A --key A.key --cert B --key B.key", len(certs), len(keys))
		return
	}
	l.cfg.Certificates = nil
	for i := range certs {
		l.cfg.Certificates = append(l.cfg.Certificates, CertPair{CertPath: certs[i], KeyPath: keys[i]})
	}
}

func (l *loader) loadEnv(environ []string) {
	byEnv := map[string]*option{}
	for i := range options {
		if options[i].env != "" {
			byEnv[EnvPrefix+options[i].env] = &options[i]
		}
	}
	var cert, key string
	var names []string
	vals := map[string]string{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) {
			names = append(names, name)
			vals[name] = value
		}
	}
	sort.Strings(names)
	for _, name := range names {
		value := vals[name]
		switch name {
		case EnvPrefix + "CERT":
			cert = value
		case EnvPrefix + "KEY":
			key = value
		default:
			if o := byEnv[name]; o != nil {
				l.apply(o, value, name)
			} else {
				l.fail("%s: unknown variable; see quantum-safe-proxy --help for the QUANTUM_SAFE_PROXY_* names", printable(name))
			}
		}
	}
	switch {
	case cert != "" && key != "":
		l.cfg.Certificates = []CertPair{{CertPath: cert, KeyPath: key}}
		l.src["certificates"] = EnvPrefix + "CERT"
	case cert != "" || key != "":
		l.fail("%sCERT and %sKEY: set both or neither", EnvPrefix, EnvPrefix)
	}
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
