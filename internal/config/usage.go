package config

import (
	"fmt"
	"io"
	"strings"
)

// Usage writes the options part of --help, made from the same table that
// parses flags, environment and file, so the three cannot drift apart.
func Usage(w io.Writer) {
	row := func(flag, arg, usage, key, env string) {
		left := "  --" + flag
		if arg != "" {
			left += " " + arg
		}
		fmt.Fprintf(w, "%-34s %s\n", left, usage)
		var also []string
		if key != "" {
			also = append(also, "json "+key)
		}
		if env != "" {
			also = append(also, "env "+env)
		}
		if len(also) > 0 {
			fmt.Fprintf(w, "%-34s (%s)\n", "", strings.Join(also, ", "))
		}
	}
	row("config-file", "FILE", "read settings from a JSON file", "", "")
	row("from-env", "", "read "+EnvPrefix+"* environment variables", "", "")
	row("cert", "FILE", "PEM chain to serve: leaf, then intermediates; repeat for more chains, in order of preference", "cert_path, certificates", EnvPrefix+"CERT")
	row("key", "FILE", "PEM private key of the preceding --cert (ML-DSA in any OpenSSL form, ECDSA, RSA, Ed25519)", "key_path, certificates", EnvPrefix+"KEY")
	for _, o := range options {
		env := ""
		if o.env != "" {
			env = EnvPrefix + o.env
		}
		if o.flag == "" {
			continue
		}
		row(o.flag, o.arg, o.usage, o.key, env)
	}
}
