package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/config"
)

// manual writes quantum-safe-proxy(8) in roff, from the same rows as
// --help: `quantum-safe-proxy man > quantum-safe-proxy.8` (the packages do).
func manual(w io.Writer) {
	esc := func(s string) string { return strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s) }
	fmt.Fprintf(w, `.TH QUANTUM\-SAFE\-PROXY 8 "" "quantum-safe-proxy %s" "System Administration"
.SH NAME
quantum\-safe\-proxy \- post\-quantum TLS sidecar: hybrid ML\-KEM key exchange, ML\-DSA certificates
.SH SYNOPSIS
.B quantum\-safe\-proxy
[\fIoptions\fR]
.br
.B quantum\-safe\-proxy check
[\fB\-\-as service\fR|\fBself\fR] [\fB\-\-quiet\fR]
[\fB\-\-self\-test\fR [\fB\-\-json\fR] [\fB\-\-probe\-cert\fR \fIFILE\fR \fB\-\-probe\-key\fR \fIFILE\fR]] [\fIoptions\fR]
.br
.B quantum\-safe\-proxy \-\-print\-config
[\fB\-\-json\fR] [\fIoptions\fR]
.br
.B quantum\-safe\-proxy reload
[\fB\-\-no\-signal\fR]
.br
.B quantum\-safe\-proxy certs init
\fB\-\-dir\fR \fIDIR\fR [\fB\-\-force\fR]
.br
.B quantum\-safe\-proxy certs init \-\-host
\fB\-\-dir\fR \fIDIR\fR \fB\-\-ca\-dir\fR \fIDIR\fR [\fB\-\-force\fR]
.br
.B quantum\-safe\-proxy certs issue\-client
\fB\-\-ca\-dir\fR \fIDIR\fR \fB\-\-name\fR \fINAME\fR [\fB\-\-key\-type\fR \fBmldsa\fR|\fBecdsa\fR|\fBmldsa\-ecdsa\-issued\fR] [\fB\-\-out\fR \fIDIR\fR] [\fB\-\-force\fR]
.br
.B quantum\-safe\-proxy certs inspect
[\fB\-\-config\-file\fR \fIFILE\fR] \fIFILE\fR...
.br
.B quantum\-safe\-proxy probe
\fIHOST\fR:\fIPORT\fR [\fB\-\-ca\fR \fIFILE\fR] [\fB\-\-cert\fR \fIFILE\fR \fB\-\-key\fR \fIFILE\fR] [\fB\-\-server\-name\fR \fINAME\fR] [\fB\-\-json\fR]
.br
.B quantum\-safe\-proxy version
.SH DESCRIPTION
.B quantum\-safe\-proxy
terminates TLS 1.3 with hybrid post\-quantum key exchange (X25519MLKEM768) and
ML\-DSA or ECDSA certificates, checks client certificates when asked, and
forwards the plain bytes to a backend on the same host. Under systemd it
serves the sockets systemd passes (socket activation), reports readiness,
reloads atomically on SIGHUP and drains open connections on SIGTERM.
.PP
Settings come from, in rising precedence: defaults, a JSON file
(\fB\-\-config\-file\fR), QUANTUM_SAFE_PROXY_* environment variables (with
\fB\-\-from\-env\fR), then flags.
.SH OPTIONS
`, esc(getVersion()))
	for _, r := range config.Rows() {
		fmt.Fprintf(w, ".TP\n.B \\-\\-%s", esc(r.Flag))
		if r.Arg != "" {
			fmt.Fprintf(w, " \\fI%s\\fR", esc(r.Arg))
		}
		fmt.Fprintf(w, "\n%s\n", esc(r.Usage))
		if also := r.Also(); also != "" {
			fmt.Fprintf(w, ".br\n(%s)\n", esc(also))
		}
	}
	fmt.Fprint(w, `.SH COMMANDS
.TP
.B check
validate the configuration and every file it names, then say what a
post\-quantum client, a classical TLS 1.3 client and a TLS 1.2 client are
served: for each name in a chain's \fBserver_names\fR, and for clients
asking for any other name or none. With \fB\-\-as service\fR, the default
for a configuration file in \fI/etc/quantum\-safe\-proxy\fR, it also
finds every file the packaged service could not read (see KEY PERMISSIONS),
though root, who runs it, reads them all; \fB\-\-as self\fR leaves that out.
\fB\-\-quiet\fR (\fB\-q\fR) prints nothing when the configuration loads
(problems still go to stderr).
\fB\-\-self\-test\fR then serves the configured TLS setup on a loopback
port of its own (its backend a sink, never the target), runs the
\fBprobe\fR matrix against it and compares what each kind of client got
with what the configuration promises: strict mode refusing classical
clients, a client certificate asked for, chains that every client
accepts (verified up to the top certificate of each chain file, so an
expired certificate or a name the leaf does not cover fails). In client
mode it probes the remote target with the configured roots and client
certificate. \fB\-\-probe\-cert\fR and \fB\-\-probe\-key\fR add a client
certificate to present; \fB\-\-json\fR prints one object (ok,
expectations, warnings, the probe's report). Exit 0 when every
expectation is met, 1 when one is not, 78 for a configuration that does
not load
.TP
.B \-\-print\-config
print every setting in force with where its value came from: default,
file, env (the variable), flag, implied by another setting, or mapped from
a Rust option; paths with \fB${CREDENTIALS_DIRECTORY}\fR expanded, the
form given noted. It reads only the configuration file: no certificate or
key, and it opens no socket. With \fB\-\-json\fR, one object whose
\fBconfig\fR is a configuration file that loads to the same settings and
whose \fBsources\fR says where each came from. A configuration with
problems prints them as a start would, and nothing else (exit 78)
.TP
.B reload
the units' \fBExecReload=\fR: send SIGHUP to \fB$MAINPID\fR, wait for
the outcome of the reload that began after it, which the proxy records
in the unit's private \fI/tmp\fR (named after \fB$INVOCATION_ID\fR), and
exit 1 with the proxy's reason on one line if it failed, so that
\fBsystemctl reload\fR fails; a setting kept until a restart is a
warning. \fB\-\-no\-signal\fR sends nothing, for
\fBType=notify\-reload\fR, where systemd sends the signal itself (see
RELOAD UNDER SYSTEMD)
.TP
.B certs inspect
describe each PEM file: every certificate (subject, issuer, key, names,
validity) and a private key (algorithm; for ML\-DSA, whether it holds the
seed, the expanded key or both; and which certificate it belongs to, among
the files named and, with \fB\-\-config\-file\fR, the configured chains)
.TP
.B probe
connect to any TLS server (this proxy or another) several ways, each on a
connection of its own, and say what each got: offering only hybrid
post\-quantum groups (X25519MLKEM768, SecP256r1MLKEM768,
SecP384r1MLKEM1024); only classical groups; Go's default ClientHello,
which offers ML\-DSA but leaves it out of signature_algorithms_cert; two
ClientHellos of the probe's own, which reads the server's reply up to its
Finished and checks its signature: one offering ML\-DSA for certificates
too, as OpenSSL 3.5 does (an OpenSSL server whose chain is signed with
ML\-DSA refuses Go's client), and one without ML\-DSA, which Go's client
cannot leave out; TLS 1.2 only; and, with
\fB\-\-cert\fR and \fB\-\-key\fR (any ML\-DSA key form), presenting that
client certificate. For each: the alert if refused, the TLS version, group,
cipher suite, the scheme the server signed with, its chain (each
certificate's key, signature algorithm and expiry, and whether it verifies
against \fB\-\-ca\fR or the system roots, and why not), and whether it
asked for a client certificate and from which CAs. \fB\-\-server\-name\fR
sets SNI and the name verified (default: the host). \fB\-\-json\fR writes
the report as JSON (fields as in the README). Exit status 0: PQ\-ready
(offered only hybrid groups, the server completes its side of the
handshake with one, or it chooses one for the client that accepts
ML\-DSA certificates); 2: a TLS server that is not; 1: unreachable, or not
TLS; 78: bad arguments or files. Whether the server authenticates with
ML\-DSA is reported apart and does not change the status
.SH CERTIFICATES
A listener serves one or more chains, in order of preference: each client
gets the first chain it can verify. On the command line each
\fB\-\-cert\fR is paired with the \fB\-\-key\fR that follows it; in the
configuration file they are a list:
.PP
.RS
.nf
"certificates": [
  {"cert_path": "/etc/quantum\-safe\-proxy/certs/pq.crt",
   "key_path": "/etc/quantum\-safe\-proxy/certs/pq.key",
   "server_names": ["pq.example.com"]},
  {"cert_path": "/etc/quantum\-safe\-proxy/certs/ecdsa.crt",
   "key_path": "/etc/quantum\-safe\-proxy/certs/ecdsa.key"}
]
.fi
.RE
.PP
With an ML\-DSA\-65 chain first, clients that advertise ML\-DSA get it and
the rest get the ECDSA (or RSA) chain. A certificate file holds the leaf
first, then its intermediates, which are sent. \fBserver_names\fR binds a
chain to the names (SNI) a client may ask for, wildcards as \fI*.example.com\fR:
such a chain is served only to clients asking for one of them, and a
client whose name no chain may serve is refused with the
\fBunrecognized_name\fR alert. Browsers advertise ML\-DSA without trusting
any ML\-DSA root yet, so bind the ML\-DSA chain to the names PQ clients
use. \fBcheck\fR prints what each name gets, for PQ, classical TLS 1.3
and TLS 1.2 clients. Every key is checked against its certificate and
signs once at load; a key that belongs to another configured certificate
is named.
.PP
Rotation: the certificate, key and CA files are watched; replace them in
place, rename new ones into place, or swap symlinks (certbot, the kubelet)
and the new chain is served within a second, with nothing to send. A
half\-written or mismatched pair is refused and the chain in force keeps
serving. A changed configuration file takes effect at
\fBsystemctl try\-reload\-or\-restart quantum\-safe\-proxy\fR: it
reloads a running service and does nothing before the first client
after a boot, when the socket\-activated service is not running yet and
\fBsystemctl reload\fR fails; the first start reads the file anyway.
.SH MUTUAL TLS
\fBclient_cert_mode\fR \fBrequired\fR refuses a client without a
certificate that chains to \fBca_cert_path\fR; \fBoptional\fR verifies one
when sent and admits clients without; \fBnone\fR asks for none. A CA
given without a mode means \fBoptional\fR, as in the Rust project, with a
warning. The certificate's CN is the \fIidentity\fR each connection
logs. On a packaged host, issue client certificates as root from the host
PKI, whose CA keys the service cannot read:
.PP
.RS
.nf
quantum\-safe\-proxy certs issue\-client \-\-ca\-dir /etc/quantum\-safe\-proxy/ca \e
    \-\-name alice \-\-key\-type mldsa\-ecdsa\-issued \-\-out /root/clients
.fi
.RE
.PP
OpenSSL 3.5 clients do not send a client certificate signed by an ML\-DSA
CA to this proxy (Go lists no ML\-DSA in the CertificateRequest's
signature_algorithms_cert), so give them an ML\-DSA key issued by the
ECDSA root (\fBmldsa\-ecdsa\-issued\fR); Go clients take a whole ML\-DSA
chain (\fBmldsa\fR). With \fBpqc_mode\fR \fBstrict\fR a client chain must
be ML\-DSA throughout unless \fBstrict_client_classical_issuer\fR is set.
.SH REVOCATION AND ALLOW RULES
Once a client's chain is verified, the CRLs of \fBcrl_files\fR (PEM or
DER, several per file; each signed by a CA of \fBca_cert_path\fR, ML\-DSA
CAs too) refuse a certificate they list (reason \fBrevoked\fR), and the
allow rules \fBallow_cn\fR, \fBallow_ou\fR, \fBallow_dns\fR,
\fBallow_uri\fR and \fBallow_spki_sha256\fR admit only a certificate
that one of them matches (\fBpeer_not_allowed\fR, with the rule sets and
what the certificate holds). A CRL past its nextUpdate refuses every client
(\fBcrl_expired\fR) unless \fBunsafe_allow_expired_crl\fR. A CA without
a CRL is not checked for revocation; \fBcheck\fR names such CAs and
reports each CRL's issuer, entries and nextUpdate. Both apply to resumed
sessions too; the rules are read again at \fBSIGHUP\fR, the CRLs also
when their file changes, and a client revoked or left out since its last
connection is refused on its next one. The pin of a client's key:
.PP
.RS
.nf
openssl x509 \-in client.crt \-noout \-pubkey | openssl pkey \-pubin \e
    \-outform DER | openssl dgst \-sha256 \-binary | base64
.fi
.RE
.SH KEY PERMISSIONS
The packaged units run the proxy as a dynamic user (\fBDynamicUser=yes\fR)
whose one other group is \fBquantum\-safe\-proxy\-keys\fR, with no
capabilities. It owns no file: it reads a key through its group, so keys
are 0640 root:quantum\-safe\-proxy\-keys, certificates and the
configuration 0644, and every directory on the way needs search (x)
permission for the group or for all. A key as OpenSSL writes it (0600
root) needs
.PP
.RS
.nf
chgrp quantum\-safe\-proxy\-keys KEY && chmod 0640 KEY
.fi
.RE
.PP
\fBcheck\fR names each such file or directory with its fix; so does the
error when the proxy cannot read one at start or on reload, with its own
uid and groups. The unit also hides \fI/home\fR, \fI/root\fR,
\fI/run/user\fR (\fBProtectHome=\fR), the host's \fI/tmp\fR
(\fBPrivateTmp=\fR) and \fI/etc/quantum\-safe\-proxy/ca\fR; keep the
files it reads under \fI/etc/quantum\-safe\-proxy\fR, or pass keys with
\fBLoadCredential=\fR.
.SH LOGGING
\fBlog_level\fR \fBdebug\fR adds, per handshake, what the ClientHello
offers (server name, versions, groups, signature algorithms, ALPN, cipher
suites), the chain chosen and why, and whether a session ticket resumed or
why not; and on reload, each setting or chain that changed with its old and
new value. Below debug none of it is built.
.PP
A reload that fails is logged at \fBerror\fR, each problem on its own
line; one that succeeds at \fBNOTICE\fR (journal priority 5), which
every \fBlog_level\fR shows, with what it changed. \fBSTATUS=\fR
(\fBsystemctl status\fR) follows the counters and the last reload within
a second, at most once a second: connections accepted, the share of those
served whose key exchange was post\-quantum (\fI90% PQ\fR, rounded
down), open, refused.
.SH RELOAD UNDER SYSTEMD
Under the packaged units \fBsystemctl reload\fR fails (exit 1) when the
proxy's reload fails, for whatever reason, and the previous configuration
keeps serving; \fBsystemctl status\fR shows the reason, which
\fBquantum\-safe\-proxy reload\fR (\fBExecReload=\fR) logs at
\fBerr\fR. systemd itself has no way to hear of a failed reload. The
units are \fBType=notify\fR, for systemd 252; for
\fBType=notify\-reload\fR (systemd 253 and later) install
\fI/usr/share/doc/quantum\-safe\-proxy/examples/notify\-reload.conf\fR as a
drop\-in, which runs \fBreload \-\-no\-signal\fR. Before the first client
after a boot the service is not running and \fBsystemctl reload\fR fails;
\fBsystemctl try\-reload\-or\-restart\fR does nothing then.
.SH A BROKEN CONFIGURATION
Run from a shell, the proxy reports every problem and exits 78. Started by
systemd with its socket (socket activation: after a typo and
\fBsystemctl restart\fR, or at the first client after a reboot), it does
not exit, which would fail the socket unit at the start limit and close
the port until \fBsystemctl reset\-failed\fR. It logs every problem at
\fBerror\fR (once for each distinct failure), tells systemd it is ready
with a \fBSTATUS=\fR that names the first problem
(\fBsystemctl status\fR: \fIStatus: "configuration error: ..."\fR), and
resets every client (TCP RST, within a second; the client sees
ECONNRESET, never a hang). Before each reset it reads the configuration
again, at most once a second, and at every \fBsystemctl reload\fR: the
first client after the file is fixed is served, with no other command.
\fBsystemctl stop\fR ends the wait with exit status 0.
.SH SIGNALS
.TP
.B SIGHUP
read the configuration again; swap it in only if all of it is valid, and
log the outcome (see LOGGING); while the configuration is broken, try it
at once and serve if it loads. The certificate, key, CA and CRL files
the configuration names are watched (inotify, through symlinks as certbot and
the kubelet swap them) and read again on their own, 500 ms after a burst of
changes ends, with the configuration in force; the configuration file is
neither watched nor read again for them: an edit to it waits for SIGHUP
.TP
.B SIGTERM, SIGINT
stop accepting, let open connections finish for up to \fBdrain_timeout\fR,
then cut what is left (exit status 3); a second signal cuts them at once
.SH EXIT STATUS
0 after a clean stop; 3 after a stop (SIGTERM, SIGINT) that cut connections
still open at \fBdrain_timeout\fR or at a second signal (the units list it in
\fBSuccessExitStatus=\fR, so the stop does not mark them failed); 78
(EX_CONFIG) for a configuration error, except under socket activation
(see A BROKEN CONFIGURATION); 1 otherwise. \fBprobe\fR exits 0 when the
server is PQ\-ready, 2 when it is not, 1 when it cannot be reached.
.SH FILES
.TP
.I /etc/quantum\-safe\-proxy/config.json
the configuration the packaged service reads
.TP
.I /etc/quantum\-safe\-proxy/certs/
the host PKI made at installation, as the service reads it: the server
chains (keys 0640 root:quantum\-safe\-proxy\-keys) and ca.crt
.TP
.I /etc/quantum\-safe\-proxy/ca/
the host PKI's roots with their private keys, root only (0700), for
\fBcerts issue\-client\fR; the service cannot read it
.SH SEE ALSO
.BR systemd.socket (5),
.BR systemctl (1),
.BR journalctl (1),
.BR openssl\-s_client (1)
`)
}
