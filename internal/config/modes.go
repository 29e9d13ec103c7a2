package config

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// allowRules names the allow lists that are set, "" if none.
func (l *loader) allowRules() string {
	c := l.cfg
	var set []string
	for _, r := range []struct {
		key  string
		list []string
	}{{"allow_cn", c.AllowCN}, {"allow_ou", c.AllowOU}, {"allow_dns", c.AllowDNS}, {"allow_uri", c.AllowURI}, {"allow_spki_sha256", c.AllowSPKISHA256}} {
		if len(r.list) > 0 {
			set = append(set, l.label(r.key))
		}
	}
	return strings.Join(set, ", ")
}

// checkPeerRules checks, in server mode, that allow rules and CRLs have
// client certificates to apply to. Allow rules need them required: with
// optional, a client that presents none would pass every rule.
func (l *loader) checkPeerRules() {
	c := l.cfg
	rules := l.allowRules()
	switch {
	case rules != "" && c.ClientCertMode == ClientCertNone:
		l.fail("%s: allow rules apply to client certificates, and client_cert_mode is none; set ca_cert_path (--ca-cert) and client_cert_mode required", rules)
	case rules != "" && c.ClientCertMode == ClientCertOptional:
		l.fail("%s: allow rules with client_cert_mode optional would admit every client that presents no certificate; set client_cert_mode required", rules)
	}
	if len(c.CRLFiles) > 0 && c.ClientCertMode == ClientCertNone {
		l.fail("%s: CRLs revoke client certificates, and client_cert_mode is none; set ca_cert_path (--ca-cert) and client_cert_mode required or optional", l.label("crl_files"))
	}
}

// checkServerMode refuses the settings that only client mode uses.
func (l *loader) checkServerMode() {
	c := l.cfg
	if c.ServerName != "" {
		l.fail("%s: server_name applies to mode client (the name the remote server must hold); in server mode, bind a chain to names with certificates[].server_names", l.label("server_name"))
	}
	if !c.AdvertiseMLDSA {
		l.fail("%s: advertise_mldsa applies to mode client (what its ClientHello offers); remove it", l.label("advertise_mldsa"))
	}
	if c.UnsafeListen {
		l.fail("%s: unsafe_listen applies to mode client (where the listener takes plain text); remove it", l.label("unsafe_listen"))
	}
}

// clientListen is where client mode listens unless told: loopback, since
// whoever connects speaks through this proxy with its client certificates.
const clientListen = "127.0.0.1:8443"

// checkClientListen keeps client mode's plain-text listener on the host:
// loopback or a unix socket, unless unsafe_listen. A socket from systemd
// is checked when it is passed (package daemon).
func (l *loader) checkClientListen() {
	c := l.cfg
	if _, set := l.src["listen"]; !set {
		c.Listen = clientListen
		l.imply("listen", "mode client")
	}
	if strings.HasPrefix(c.Listen, "unix:") || c.UnsafeListen {
		return
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return // checkListen says so
	}
	if addr, err := netip.ParseAddr(host); err == nil && addr.IsLoopback() || host == "localhost" {
		return
	}
	l.fail("%s: %q is not loopback: in mode client whoever connects sends plain text out over TLS with this proxy's client certificates; listen on 127.0.0.1:PORT or unix:/path, or set unsafe_listen (--unsafe-listen) if you mean it", l.label("listen"), c.Listen)
}

// checkClientMode checks the remote target, fills in server_name, and
// refuses the settings that only server mode uses.
func (l *loader) checkClientMode() {
	c := l.cfg
	host, port, err := net.SplitHostPort(c.Target)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil || host == "" {
		l.fail("%s: %q: in mode client the target is the remote TLS server, host:port (e.g. pq.example.com:443)", l.label("target"), c.Target)
	} else if c.ServerName == "" {
		c.ServerName = host
		l.imply("server_name", "target")
	}
	if c.CACertPath == "" && !l.uncertain {
		l.fail("mode client needs ca_cert_path (--ca-cert FILE), the roots the server's certificate must chain to; for public servers, /etc/ssl/certs/ca-certificates.crt")
	}
	if _, set := l.src["client_cert_mode"]; set {
		l.fail("%s: client_cert_mode applies to mode server; in mode client, the certificates configured are presented when the server asks", l.label("client_cert_mode"))
	}
	if c.StrictClientClassicalIssuer {
		l.fail("%s: strict_client_classical_issuer applies to mode server; remove it", l.label("strict_client_classical_issuer"))
	}
	if c.ProxyProtocol != "none" {
		l.fail("%s: proxy_protocol applies to mode server (a header for the plain-text backend); remove it", l.label("proxy_protocol"))
	}
	if c.UnsafeTarget {
		l.fail("%s: unsafe_target applies to mode server; in mode client the target is reached over TLS", l.label("unsafe_target"))
	}
	l.checkClientListen()
	if !c.AdvertiseMLDSA && c.PQCMode == PQCStrict {
		l.fail("%s: false cannot be used with pqc_mode strict, which requires the server to authenticate with ML-DSA; use pqc_mode hybrid", l.label("advertise_mldsa"))
	}
}
