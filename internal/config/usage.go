package config

import (
	"fmt"
	"io"
	"strings"
)

// Row is one setting as --help and the manual page show it.
type Row struct {
	Flag, Arg, Usage string // flag without dashes; Arg empty for booleans
	Key, Env         string // JSON key(s) and environment variable, if any
}

// Rows lists every command-line setting, made from the same table that
// parses flags, environment and file, so --help, the manual page and the
// parser cannot drift apart.
func Rows() []Row {
	rows := []Row{
		{Flag: "config-file", Arg: "FILE", Usage: "read settings from a JSON file"},
		{Flag: "from-env", Usage: "read " + EnvPrefix + "* environment variables"},
		{Flag: "cert", Arg: "FILE", Usage: "PEM chain to serve: leaf, then intermediates; repeat for more chains, in order of preference", Key: "cert_path, certificates", Env: EnvPrefix + "CERT"},
		{Flag: "key", Arg: "FILE", Usage: "PEM private key of the preceding --cert (ML-DSA in any OpenSSL form, ECDSA, RSA, Ed25519)", Key: "key_path, certificates", Env: EnvPrefix + "KEY"},
	}
	for _, o := range options {
		if o.flag == "" {
			continue
		}
		r := Row{Flag: o.flag, Arg: o.arg, Usage: o.usage, Key: o.key}
		if o.env != "" {
			r.Env = EnvPrefix + o.env
		}
		rows = append(rows, r)
	}
	return rows
}

// Also lists where else a row's setting can be given: "json KEY, env VAR".
func (r Row) Also() string {
	var also []string
	if r.Key != "" {
		also = append(also, "json "+r.Key)
	}
	if r.Env != "" {
		also = append(also, "env "+r.Env)
	}
	return strings.Join(also, ", ")
}

// Usage writes the options part of --help.
func Usage(w io.Writer) {
	for _, r := range Rows() {
		left := "  --" + r.Flag
		if r.Arg != "" {
			left += " " + r.Arg
		}
		fmt.Fprintf(w, "%-34s %s\n", left, r.Usage)
		if also := r.Also(); also != "" {
			fmt.Fprintf(w, "%-34s (%s)\n", "", also)
		}
	}
}
