package daemon

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/proxy"
	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
)

// A change a reload made: the setting (its JSON key, or "chain N",
// "client CAs" and "CRLs" for what the files hold) and its value before and after.
type change struct{ setting, was, now string }

// A setting is one row of [settings].
type setting struct {
	key, field string                   // JSON key, config.Config field
	value      func(*config.Config) any // nil: compared apart
}

// settings are the values a reload compares, by JSON key. Each exported
// field of config.Config has a row (TestReloadDiffCoversEveryField); the
// certificates and client CAs are compared by what the files hold, in
// [diff], since a rotation keeps the paths.
var settings = []setting{
	{"listen", "Listen", func(c *config.Config) any { return c.Listen }},
	{"require_systemd_socket", "RequireSystemdSocket", func(c *config.Config) any { return c.RequireSystemdSocket }},
	{"target", "Target", func(c *config.Config) any { return c.Target }},
	{"certificates", "Certificates", nil},
	{"ca_cert_path", "CACertPath", func(c *config.Config) any { return c.CACertPath }},
	{"client_cert_mode", "ClientCertMode", func(c *config.Config) any { return c.ClientCertMode }},
	{"pqc_mode", "PQCMode", func(c *config.Config) any { return c.PQCMode }},
	{"strict_client_classical_issuer", "StrictClientClassicalIssuer", func(c *config.Config) any { return c.StrictClientClassicalIssuer }},
	{"min_tls_version", "MinTLSVersion", func(c *config.Config) any { return c.MinTLSVersion }},
	{"log_level", "LogLevel", func(c *config.Config) any { return c.LogLevel }},
	{"log_format", "LogFormat", func(c *config.Config) any { return c.LogFormat }},
	{"environment", "Environment", func(c *config.Config) any { return c.Environment }},
	{"handshake_timeout", "HandshakeTimeout", func(c *config.Config) any { return c.HandshakeTimeout }},
	{"dial_timeout", "DialTimeout", func(c *config.Config) any { return c.DialTimeout }},
	{"idle_timeout", "IdleTimeout", func(c *config.Config) any { return c.IdleTimeout }},
	{"close_timeout", "CloseTimeout", func(c *config.Config) any { return c.CloseTimeout }},
	{"drain_timeout", "DrainTimeout", func(c *config.Config) any { return c.DrainTimeout }},
	{"max_connections", "MaxConnections", func(c *config.Config) any { return c.MaxConnections }},
	{"max_handshakes", "MaxHandshakes", func(c *config.Config) any { return c.MaxHandshakes }},
	{"unsafe_no_handshake_timeout", "UnsafeNoHandshakeTimeout", func(c *config.Config) any { return c.UnsafeNoHandshakeTimeout }},
	{"mode", "Mode", func(c *config.Config) any { return c.Mode }},
	{"server_name", "ServerName", func(c *config.Config) any { return c.ServerName }},
	{"allow_cn", "AllowCN", func(c *config.Config) any { return c.AllowCN }},
	{"allow_ou", "AllowOU", func(c *config.Config) any { return c.AllowOU }},
	{"allow_dns", "AllowDNS", func(c *config.Config) any { return c.AllowDNS }},
	{"allow_uri", "AllowURI", func(c *config.Config) any { return c.AllowURI }},
	{"allow_spki_sha256", "AllowSPKISHA256", func(c *config.Config) any { return c.AllowSPKISHA256 }},
	{"crl_files", "CRLFiles", func(c *config.Config) any { return c.CRLFiles }},
	{"unsafe_allow_expired_crl", "UnsafeAllowExpiredCRL", func(c *config.Config) any { return c.UnsafeAllowExpiredCRL }},
	{"proxy_protocol", "ProxyProtocol", func(c *config.Config) any { return c.ProxyProtocol }},
	{"advertise_mldsa", "AdvertiseMLDSA", func(c *config.Config) any { return c.AdvertiseMLDSA }},
	{"admin_listen", "AdminListen", func(c *config.Config) any { return c.AdminListen }},
	{"unsafe_admin_listen", "UnsafeAdminListen", func(c *config.Config) any { return c.UnsafeAdminListen }},
	{"unsafe_target", "UnsafeTarget", func(c *config.Config) any { return c.UnsafeTarget }},
	{"unsafe_listen", "UnsafeListen", func(c *config.Config) any { return c.UnsafeListen }},
	// Not a setting: what loading noticed, logged on its own.
	{"", "Warnings", nil},
}

// diff lists what a reload changes, from the configuration and snapshot
// in force to the new ones: each setting, each served chain by position
// (its file, subject, key, expiry, server names and a fingerprint, so
// that a certificate rotated under the same path shows), the client CAs
// and the CRLs.
func diff(oldCfg *config.Config, old *proxy.Snapshot, cfg *config.Config, snap *proxy.Snapshot) []change {
	var out []change
	for _, s := range settings {
		if s.value == nil {
			continue
		}
		was, now := fmt.Sprint(s.value(oldCfg)), fmt.Sprint(s.value(cfg))
		if was != now {
			out = append(out, change{s.key, was, now})
		}
	}
	for i := range max(len(chainsOf(old)), len(chainsOf(snap))) {
		was, now := chainAt(oldCfg, old, i), chainAt(cfg, snap, i)
		if was != now {
			out = append(out, change{fmt.Sprintf("chain %d", i+1), was, now})
		}
	}
	if was, now := roots(old), roots(snap); was != now {
		label := "client CAs"
		if snap.Client != nil {
			label = "server CAs"
		}
		out = append(out, change{label, was, now})
	}
	if was, now := crls(old), crls(snap); was != now {
		out = append(out, change{"CRLs", was, now})
	}
	return out
}

// crls describes the loaded CRLs by what they hold, so that a new CRL
// under the same path shows: issuer, CRL number, entries, thisUpdate.
func crls(s *proxy.Snapshot) string {
	var out []string
	var peer *tlsconf.PeerCheck
	if s.Client != nil {
		peer = s.Client.Peer
	} else {
		peer = s.TLS.Peer
	}
	if peer != nil {
		for _, c := range peer.CRLs {
			number := "no number"
			if c.List.Number != nil {
				number = "number " + c.List.Number.String()
			}
			out = append(out, fmt.Sprintf("%s (%s, %s, %d revoked, thisUpdate %s, sha256 %s)", c.Name(), c.Issuer.Subject, number,
				len(c.List.RevokedCertificateEntries), c.List.ThisUpdate.UTC().Format(time.RFC3339), fingerprint(c.List.Raw)))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}

// chainAt describes the i-th served chain, or "none".
func chainAt(cfg *config.Config, s *proxy.Snapshot, i int) string {
	chains := chainsOf(s)
	if i >= len(chains) {
		return "none"
	}
	c := chains[i]
	out := fmt.Sprintf("%s (%s, %s, expires %s, sha256 %s)", c.CertPath, c.Leaf().Subject, c.Algorithm(),
		c.Leaf().NotAfter.UTC().Format(time.DateOnly), fingerprint(c.Leaf().Raw))
	if i < len(cfg.Certificates) && len(cfg.Certificates[i].ServerNames) > 0 {
		out += " for " + strings.Join(cfg.Certificates[i].ServerNames, ",")
	}
	return out
}

func roots(s *proxy.Snapshot) string {
	var out []string
	for _, r := range rootsOf(s) {
		out = append(out, fmt.Sprintf("%s (%s, sha256 %s)", r.Subject, certs.Algorithm(r.PublicKey), fingerprint(r.Raw)))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}

// chainsOf are the chains a snapshot serves, or in client mode presents.
func chainsOf(s *proxy.Snapshot) []*certs.Chain {
	if s.Client != nil {
		return s.Client.Chains
	}
	return s.TLS.Chains
}

// rootsOf are the CA certificates of a snapshot: the client CAs, or in
// client mode the server's.
func rootsOf(s *proxy.Snapshot) []*x509.Certificate {
	if s.Client != nil {
		return s.Client.Roots
	}
	return s.TLS.Roots
}

// fingerprint is the start of a certificate's SHA-256, enough to tell
// one issue from the next in a log.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return fmt.Sprintf("%x", sum[:8])
}

// changedKeys names the changes, for the reload's outcome line.
func changedKeys(cs []change) string {
	if len(cs) == 0 {
		return "nothing"
	}
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.setting
	}
	return strings.Join(names, ", ")
}
