package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"
)

// --print-config shows every setting in force and where it came from.
// It prints file paths, never what a file holds: loading a configuration
// reads only the --config-file, and printing reads nothing.

// getters read each setting of [options] back, as the JSON value a
// configuration file would hold. hybrid_mode has none: it is folded into
// pqc_mode, whose source then names it. TestGettersCoverOptions keeps this
// map and the option table in step.
var getters = map[string]func(c *Config) any{
	"listen":                         func(c *Config) any { return c.Listen },
	"require_systemd_socket":         func(c *Config) any { return c.RequireSystemdSocket },
	"target":                         func(c *Config) any { return c.Target },
	"ca_cert_path":                   func(c *Config) any { return c.CACertPath },
	"client_cert_mode":               func(c *Config) any { return string(c.ClientCertMode) },
	"pqc_mode":                       func(c *Config) any { return string(c.PQCMode) },
	"strict_client_classical_issuer": func(c *Config) any { return c.StrictClientClassicalIssuer },
	"min_tls_version":                func(c *Config) any { return c.MinTLSVersion },
	"log_level":                      func(c *Config) any { return c.LogLevel },
	"log_format":                     func(c *Config) any { return c.LogFormat },
	"environment":                    func(c *Config) any { return c.Environment },
	"handshake_timeout":              func(c *Config) any { return formatDuration(c.HandshakeTimeout) },
	"dial_timeout":                   func(c *Config) any { return formatDuration(c.DialTimeout) },
	"idle_timeout":                   func(c *Config) any { return formatDuration(c.IdleTimeout) },
	"close_timeout":                  func(c *Config) any { return formatDuration(c.CloseTimeout) },
	"drain_timeout":                  func(c *Config) any { return formatDuration(c.DrainTimeout) },
	"max_connections":                func(c *Config) any { return c.MaxConnections },
	"max_handshakes":                 func(c *Config) any { return c.MaxHandshakes },
	"unsafe_no_handshake_timeout":    func(c *Config) any { return c.UnsafeNoHandshakeTimeout },
	"mode":                           func(c *Config) any { return string(c.Mode) },
	"server_name":                    func(c *Config) any { return c.ServerName },
	"unsafe_allow_expired_crl":       func(c *Config) any { return c.UnsafeAllowExpiredCRL },
	"proxy_protocol":                 func(c *Config) any { return c.ProxyProtocol },
	"advertise_mldsa":                func(c *Config) any { return c.AdvertiseMLDSA },
	"admin_listen":                   func(c *Config) any { return c.AdminListen },
	"unsafe_admin_listen":            func(c *Config) any { return c.UnsafeAdminListen },
	"unsafe_target":                  func(c *Config) any { return c.UnsafeTarget },
	"unsafe_listen":                  func(c *Config) any { return c.UnsafeListen },
}

// formatDuration writes a duration as parseDuration reads it, without
// the zero units time.Duration.String adds: 1m, 1h30m, 2.5s, 0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// setting is one key of the printed configuration and its value, as a
// configuration file would hold it.
type setting struct {
	key   string
	value any
}

// settings lists every setting in the order of --help: the certificates,
// then the option table's. client_cert_mode is left out in mode client,
// where a file may not set it: the printed configuration must load.
func (c *Config) settings() []setting {
	certs := c.Certificates
	if certs == nil {
		certs = []CertPair{}
	}
	s := []setting{{"certificates", certs}}
	for i := range options {
		o := &options[i]
		switch {
		case o.key == "client_cert_mode" && c.Mode == ModeClient:
			// left out: mode client refuses the key
		case o.list != nil:
			s = append(s, setting{o.key, append([]string{}, *o.list(c)...)})
		case getters[o.key] != nil:
			s = append(s, setting{o.key, getters[o.key](c)})
		}
	}
	return s
}

// origins returns where the settings came from; a Config that [Load]
// did not make has only defaults.
func (c *Config) origins() *sources {
	if c.sources == nil {
		return &sources{}
	}
	return c.sources
}

// sourceOf says where key's value came from, with its notes.
func (c *Config) sourceOf(key string) string {
	s := c.origins()
	base, ok := s.of[key]
	if !ok {
		base = "default"
	}
	if key == "certificates" {
		_, _, base = certSources(base)
	}
	return s.source(key, base)
}

// certSources splits the source of the certificates between their two
// flags or variables: where the cert paths came from, the key paths, and
// both.
func certSources(base string) (cert, key, both string) {
	switch base {
	case "flag --cert":
		return base, "flag --key", "flag --cert, --key"
	case "env " + EnvPrefix + "CERT":
		return base, "env " + EnvPrefix + "KEY", base + ", " + EnvPrefix + "KEY"
	}
	return base, base, base
}

// PrintJSON writes the configuration as one JSON object: "config" is a
// configuration file that loads to the same settings (every key, in the
// order of --help, with ${CREDENTIALS_DIRECTORY} expanded), "sources" says
// for each of its keys where the value came from.
func (c *Config) PrintJSON(w io.Writer) error {
	var cfg, src bytes.Buffer
	for i, s := range c.settings() {
		if err := validUTF8(s); err != nil {
			return err
		}
		sep := ",\n"
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&cfg, "%s    %s: %s", sep, marshal(s.key, ""), marshal(s.value, "    "))
		fmt.Fprintf(&src, "%s    %s: %s", sep, marshal(s.key, ""), marshal(c.sourceOf(s.key), ""))
	}
	_, err := fmt.Fprintf(w, "{\n  \"config\": {\n%s\n  },\n  \"sources\": {\n%s\n  }\n}\n", cfg.Bytes(), src.Bytes())
	return err
}

// marshal encodes v as indented JSON on lines that start with prefix,
// without HTML escapes (a path with & in it stays readable).
func marshal(v any, prefix string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		panic(err) // strings, numbers, booleans and lists of them always encode
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// validUTF8 refuses a value JSON cannot hold: encoding/json would
// replace its bytes, and the printed file would name another path.
func validUTF8(s setting) error {
	var values []string
	switch v := s.value.(type) {
	case string:
		values = []string{v}
	case []string:
		values = v
	case []CertPair:
		for _, p := range v {
			values = append(append(values, p.CertPath, p.KeyPath), p.ServerNames...)
		}
	}
	for _, v := range values {
		if !utf8.ValidString(v) {
			return fmt.Errorf("%s: %q is not UTF-8, which a JSON configuration file cannot hold; print it without --json", s.key, v)
		}
	}
	return nil
}

// PrintText writes one line per setting, in aligned columns: key, value,
// and where the value came from. A certificate pair takes a line per
// field (certificates[0].cert_path), so that each path stands alone.
func (c *Config) PrintText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range c.settings() {
		certs, isCerts := s.value.([]CertPair)
		if !isCerts || len(certs) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.key, text(s.value), c.sourceOf(s.key))
			continue
		}
		src := c.origins()
		certSrc, keySrc, _ := certSources(src.of["certificates"])
		for i, p := range certs {
			k := fmt.Sprintf("certificates[%d]", i)
			fmt.Fprintf(tw, "%s.cert_path\t%s\t%s\n", k, text(p.CertPath), src.source(k+".cert_path", certSrc))
			fmt.Fprintf(tw, "%s.key_path\t%s\t%s\n", k, text(p.KeyPath), src.source(k+".key_path", keySrc))
			if len(p.ServerNames) > 0 {
				fmt.Fprintf(tw, "%s.server_names\t%s\t%s\n", k, text(p.ServerNames), certSrc)
			}
		}
	}
	return tw.Flush()
}

// text writes a value for a terminal: a string as it is unless it is
// empty or holds what would blur it (spaces at its ends, quotes, control
// characters, a tab that would break the columns), which are quoted; a
// list in brackets, its items separated by ", " (an item that holds a
// comma or a bracket quoted).
func text(v any) string {
	switch v := v.(type) {
	case string:
		return quoteIfNeeded(v, "")
	case []CertPair:
		return "[]" // an empty list; PrintText gives pairs a line per field
	case []string:
		items := make([]string, len(v))
		for i, s := range v {
			items[i] = quoteIfNeeded(s, ",[]")
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return fmt.Sprint(v)
}

func quoteIfNeeded(s, special string) string {
	if s == "" || strings.TrimSpace(s) != s || strings.ContainsAny(s, `"`+special) ||
		strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	return s
}
