package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// ErrHelp is returned by [Load] when --help was asked for.
var ErrHelp = flag.ErrHelp

// Error is a configuration problem; [Load] returns every one it finds,
// wrapped in a *multierror.Error. The command exits 78 (EX_CONFIG) on them.
type Error struct {
	Problems []error
	// Warnings are what [Config.Warnings] would have held, printed after
	// the problems: a variable ignored without --from-env may be why.
	Warnings []string
	// LogFormat and LogLevel are log_format and log_level as far as the
	// file, environment and flags could be read, "" where the value
	// found is not valid: a process that keeps running without a valid
	// configuration (daemon.Run under socket activation) logs with them.
	LogFormat, LogLevel string
}

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
	// uncertain is set by a problem that may hide settings: a file that
	// could not be read or parsed, an unknown or refused key, flag or
	// variable. A missing certificate is then not reported: it is most
	// likely there, under the name that was refused.
	uncertain bool
	// configFile is the --config-file given, "" if none.
	configFile string
	// ignoredEnv lists the QUANTUM_SAFE_PROXY_* variables set while
	// --from-env was not given.
	ignoredEnv []string
	warnings   []string
	// derived and notes record what validation filled in or rewrote,
	// for --print-config (see sources.go).
	derived, notes map[string]string
}

func (l *loader) fail(format string, args ...any) {
	l.problems = multierror.Append(l.problems, fmt.Errorf(format, args...))
}

// failUncertain reports a problem after which settings may be missing
// that are really there (see loader.uncertain).
func (l *loader) failUncertain(format string, args ...any) {
	l.uncertain = true
	l.fail(format, args...)
}

func (l *loader) warn(format string, args ...any) {
	l.warnings = append(l.warnings, fmt.Sprintf(format, args...))
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
	err := o.set(l.cfg, value)
	var ne noEffect
	if errors.As(err, &ne) {
		l.warn("%s: %v", source, ne)
		return
	}
	if err != nil {
		if o.rust {
			l.uncertain = true
		}
		l.fail("%s: %v", source, err)
	}
}

// Load builds the configuration from command-line arguments (without the
// program name) and the environment (as os.Environ returns it).
// It returns every problem at once, gathered with go-multierror, as an *[Error].
func Load(args []string, environ []string) (*Config, error) {
	l := &loader{environ: environ, cfg: Default(), src: map[string]string{}, derived: map[string]string{}, notes: map[string]string{}}
	parsed := l.parseArgs(args)
	if parsed.help {
		return nil, ErrHelp
	}
	l.configFile = parsed.configFile
	l.cfg.file = parsed.configFile
	if parsed.configFile != "" {
		l.loadFile(parsed.configFile)
	}
	if parsed.fromEnv {
		l.loadEnv(environ)
	} else {
		l.noteIgnoredEnv(environ)
	}
	// A repeated list flag gives one list; lists are applied in the order
	// their flags first appear.
	var listed []*option
	lists := map[*option][]string{}
	for _, f := range parsed.flags {
		if f.opt.list == nil {
			l.apply(f.opt, f.value, "--"+f.opt.flag)
			continue
		}
		if _, seen := lists[f.opt]; !seen {
			listed = append(listed, f.opt)
		}
		lists[f.opt] = append(lists[f.opt], f.value)
	}
	for _, o := range listed {
		l.applyList(o, lists[o], "--"+o.flag)
	}
	l.flagCertificates(parsed.certs, parsed.keys)
	l.validate()
	if l.problems != nil {
		e := &Error{Problems: l.problems.Errors, Warnings: l.warnings}
		if oneOf(l.cfg.LogFormat, "text", "json") == nil {
			e.LogFormat = l.cfg.LogFormat
		}
		if oneOf(l.cfg.LogLevel, "error", "warn", "info", "debug", "trace") == nil {
			e.LogLevel = l.cfg.LogLevel
		}
		return nil, e
	}
	l.cfg.Warnings = l.warnings
	l.cfg.sources = l.sources()
	return l.cfg, nil
}

func (l *loader) flagCertificates(certs, keys []string) {
	if len(certs) == 0 && len(keys) == 0 {
		return
	}
	l.src["certificates"] = "--cert"
	if len(certs) != len(keys) && l.uncertain {
		return // a --cert or --key without its value has been reported
	}
	if len(certs) != len(keys) {
		l.fail("--cert/--key: %s and %s; give them in pairs, --cert A --key A.key --cert B --key B.key", count(len(certs), "certificate"), count(len(keys), "key"))
		return
	}
	l.cfg.Certificates = nil
	for i := range certs {
		l.cfg.Certificates = append(l.cfg.Certificates, CertPair{CertPath: certs[i], KeyPath: keys[i]})
	}
}

// envNames returns the QUANTUM_SAFE_PROXY_* variables set, sorted, with
// their values.
func envNames(environ []string) ([]string, map[string]string) {
	var names []string
	vals := map[string]string{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) {
			if _, dup := vals[name]; !dup {
				names = append(names, name)
			}
			vals[name] = value
		}
	}
	sort.Strings(names)
	return names, vals
}

// noteIgnoredEnv warns of QUANTUM_SAFE_PROXY_* variables set without
// --from-env: the Rust project's last versions read them always, and an
// operator coming from them would otherwise wonder why they do nothing.
func (l *loader) noteIgnoredEnv(environ []string) {
	l.ignoredEnv, _ = envNames(environ)
	if len(l.ignoredEnv) == 0 {
		return
	}
	l.warn("%s", l.ignoredEnvNote())
}

// ignoredEnvNote names the variables --from-env would have read.
func (l *loader) ignoredEnvNote() string {
	verb := "is"
	if len(l.ignoredEnv) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("%s %s set but ignored: environment variables are read only with --from-env", printableList(l.ignoredEnv), verb)
}

func printableList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = printable(n)
	}
	return strings.Join(out, ", ")
}

func (l *loader) loadEnv(environ []string) {
	byEnv := map[string]*option{}
	for _, table := range [][]option{options, rustOptions} {
		for i := range table {
			if table[i].env != "" {
				byEnv[EnvPrefix+table[i].env] = &table[i]
			}
		}
	}
	var cert, key string
	names, vals := envNames(environ)
	for _, name := range names {
		value := vals[name]
		switch name {
		case EnvPrefix + "CERT":
			cert = value
		case EnvPrefix + "KEY":
			key = value
		default:
			if o := byEnv[name]; o != nil && o.list != nil {
				l.applyList(o, envList(value), name)
			} else if o != nil {
				l.apply(o, value, name)
			} else {
				l.failUncertain("%s: unknown variable; see quantum-safe-proxy --help for the QUANTUM_SAFE_PROXY_* names", printable(name))
			}
		}
	}
	switch {
	case cert != "" && key != "":
		l.cfg.Certificates = []CertPair{{CertPath: cert, KeyPath: key}}
		l.src["certificates"] = EnvPrefix + "CERT"
	case cert != "" || key != "":
		l.failUncertain("%sCERT and %sKEY: set both or neither", EnvPrefix, EnvPrefix)
	}
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// count is "1 key" or "2 keys".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
