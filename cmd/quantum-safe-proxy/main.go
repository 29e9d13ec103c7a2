// Command quantum-safe-proxy terminates hybrid post-quantum TLS 1.3
// (X25519MLKEM768 key exchange, ML-DSA and ECDSA certificates, mutual TLS
// when asked) and forwards plain TCP to a backend on the same host.
//
// The configuration reference is the documentation of package
// internal/config and the README; `quantum-safe-proxy --help` lists every
// flag with its JSON key and environment variable.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/daemon"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/logging"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/proxy"
)

// version is stamped with -ldflags "-X main.version=..."; otherwise it
// comes from the module's build information.
var version = ""

// Exit codes: sysexits.h EX_CONFIG for configuration, so that systemd's
// RestartPreventExitStatus=78 stops a restart loop; under socket
// activation a configuration error is not an exit at all (daemon.Run
// waits for the file to be fixed). exitDrainCut is a stop
// that was asked for (SIGTERM, SIGINT) but had to cut connections still
// open at drain_timeout: the units list it in SuccessExitStatus=, so
// `systemctl stop` never leaves them failed, while a script can still
// tell it from a clean stop. 3 is outside sysexits.h (64-78) and the
// range systemd uses for its own failures (200-243, systemd.exec(5)).
const (
	exitOK       = 0
	exitFail     = 1
	exitDrainCut = 3
	exitConfig   = 78
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// journalPrefixes are the line prefixes for an error and a warning on
// stderr. Under systemd (an ExecStart without its socket, the units'
// ExecReload=) each line goes to the journal at its priority: "<3>" is
// err, "<4>" warning (sd-daemon(3), SyslogLevelPrefix=).
func journalPrefixes(stderr io.Writer) (errPrefix, warnPrefix string) {
	if f, ok := stderr.(*os.File); ok && f == os.Stderr && logging.StderrIsJournal() {
		return "<3>", "<4>"
	}
	return "", ""
}

func exitCode(err error, stderr io.Writer) int {
	errPrefix, warnPrefix := journalPrefixes(stderr)
	var verdict *verdictError
	switch {
	case err == nil, errors.Is(err, config.ErrHelp):
		return exitOK
	case errors.As(err, &verdict):
		return verdict.code // the probe's report says it all
	case errors.Is(err, proxy.ErrDrainTimeout):
		return exitDrainCut // the daemon has logged how many were cut
	case daemon.IsConfigError(err):
		var ce *config.Error
		errors.As(err, &ce)
		for _, p := range ce.Problems {
			fmt.Fprintf(stderr, "%squantum-safe-proxy: error: %v\n", errPrefix, p)
		}
		for _, w := range ce.Warnings {
			fmt.Fprintf(stderr, "%squantum-safe-proxy: warning: %s\n", warnPrefix, w)
		}
		return exitConfig
	}
	fmt.Fprintf(stderr, "%squantum-safe-proxy: error: %v\n", errPrefix, err)
	return exitFail
}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "version", "--version", "-version", "--show-version", "-V": // the last two are the Rust project's
		fmt.Fprintf(stdout, "quantum-safe-proxy %s (%s %s/%s)\n", getVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	case "help", "--help", "-help", "-h":
		usage(stdout)
		return config.ErrHelp
	case "certs":
		return runCerts(args[1:], stdout)
	case "man":
		manual(stdout)
		return nil
	case "check":
		return runCheck(ctx, args[1:], environ, stdout)
	case "reload":
		return runReload(ctx, args[1:], environ, stderr)
	case "probe":
		return runProbe(ctx, args[1:], stdout)
	}
	print, asJSON, args, err := printConfigFlags(args)
	switch {
	case err != nil:
		return err
	case print:
		return printConfig(args, environ, asJSON, stdout, stderr)
	}
	// The daemon loads the configuration at start and again on SIGHUP,
	// with the environment as it is then.
	load := func() (*config.Config, error) { return loadConfig(args, environ, stdout) }
	return daemon.Run(ctx, load, stderr, getVersion())
}

func loadConfig(args, environ []string, stdout io.Writer) (*config.Config, error) {
	cfg, err := config.Load(args, environ)
	if errors.Is(err, config.ErrHelp) {
		usage(stdout)
	}
	return cfg, err
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  quantum-safe-proxy [options]              run the proxy
  quantum-safe-proxy check [--as service|self] [--quiet] [--self-test [--json] [--probe-cert FILE --probe-key FILE]] [options]
                                            validate the configuration and certificates, say what clients get;
                                            --as service (the default for a file in /etc/quantum-safe-proxy)
                                            also finds files the packaged service could not read;
                                            --quiet prints nothing when it loads (problems still go to stderr);
                                            --self-test serves the setup on loopback and probes it as each kind
                                            of client would (client mode: probes the target); exit 1 when a
                                            client does not get what the configuration promises
  quantum-safe-proxy reload [--no-signal]   the units' ExecReload=: signal the proxy ($MAINPID), wait for the
                                            reload's outcome, exit 1 with its reason if it failed; --no-signal
                                            when systemd sends the signal itself (Type=notify-reload)
  quantum-safe-proxy --print-config [--json] [options]
                                            print every setting in force and where it came from (default,
                                            file, env, flag, implied); reads no key, opens no socket
  quantum-safe-proxy certs init --dir DIR [--force]
                                            write a development PKI (ML-DSA-65 and ECDSA P-256 chains)
  quantum-safe-proxy certs init --host --dir DIR --ca-dir DIR [--force]
                                            write a host PKI: server chains in --dir, the roots' keys
                                            only in --ca-dir (0700), no client keys
  quantum-safe-proxy certs issue-client --ca-dir DIR --name NAME [--key-type mldsa|ecdsa|mldsa-ecdsa-issued] [--out DIR] [--force]
                                            issue a client certificate from the roots in --ca-dir
  quantum-safe-proxy certs inspect [--config-file FILE] FILE...
                                            describe certificates, and keys: algorithm, ML-DSA form,
                                            which given or configured certificate each belongs to
  quantum-safe-proxy probe HOST:PORT [--ca FILE] [--cert FILE --key FILE] [--server-name NAME] [--json]
                                            connect to any TLS server several ways (hybrid or classical
                                            groups only, with and without ML-DSA, TLS 1.2, with the client
                                            certificate) and say what each got; exit 0 when it is PQ-ready
                                            (hybrid key exchange works), 2 when it is not, 1 when it cannot
                                            be reached or speaks no TLS
  quantum-safe-proxy version                print the version
  quantum-safe-proxy man                    print the manual page (roff)

Options (later sources win: defaults < --config-file < --from-env < flags):
`)
	config.Usage(w)
	fmt.Fprint(w, `
Exit status: 0 after a clean stop, 3 after a stop that cut connections still
open at drain_timeout, 78 for a configuration error, 1 otherwise (probe: 0
PQ-ready, 2 not PQ-ready, 1 unreachable). Started by systemd with its socket,
the proxy does not exit on a configuration error: it resets each client and
serves once the file is fixed (man quantum-safe-proxy).
`)
}

func getVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}
