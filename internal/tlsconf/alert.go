package tlsconf

import (
	"strconv"
	"strings"
)

// ReasonClientAlertPrefix starts the reason of a handshake the client
// ended with an alert sent in plaintext that names no certificate
// problem: "client_alert_" and the alert's name, such as
// client_alert_decode_error ([ClassifyPlaintextAlert]).
const ReasonClientAlertPrefix = "client_alert_"

// LastRecordLen is how much of the last record a client sent during the
// handshake [ClassifyPlaintextAlert] reads: the 5-byte record header and
// the 2 bytes of an alert (RFC 8446, Sections 5.1 and 6).
const LastRecordLen = 7

// ClassifyPlaintextAlert explains a handshake that failed with bad record
// MAC because the last record the client sent (its header and first
// bytes, last) was an alert in plaintext. OpenSSL in TLS 1.3 middlebox
// compatibility mode, its default, sends the alert that refuses the
// server's certificate unencrypted although the server already reads
// under handshake keys; crypto/tls then fails to decrypt it and reports
// only "local error: tls: bad record MAC". An alert of 2 bytes cannot be
// an encrypted one (an AEAD adds at least 16). ok is false for any other
// failure; alert names the alert for the log.
func ClassifyPlaintextAlert(err error, last []byte) (reason, hint, alert string, ok bool) {
	if err == nil || !strings.Contains(err.Error(), "local error: tls: bad record MAC") {
		return "", "", "", false
	}
	// Content type 21 (alert), a TLS record version 3.x, length 2.
	if len(last) < LastRecordLen || last[0] != 21 || last[1] != 3 || last[3] != 0 || last[4] != 2 {
		return "", "", "", false
	}
	desc := last[6]
	name := alertName(desc)
	alert = name + " (sent in plaintext)"
	switch desc {
	case 42, 43, 44, 45, 46, 48:
		// bad_certificate, unsupported_certificate, certificate_revoked,
		// certificate_expired, certificate_unknown, unknown_ca: the
		// client refused the chain it was served.
		return ReasonClientRefused, hintClientRefused, alert, true
	}
	return ReasonClientAlertPrefix + name, "", alert, true
}

// alertNames are the alerts of the TLS registry (RFC 8446, Section 6,
// and RFC 5246 for those TLS 1.3 dropped) by description.
var alertNames = map[byte]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
	21: "decryption_failed", 22: "record_overflow", 30: "decompression_failure",
	40: "handshake_failure", 41: "no_certificate", 42: "bad_certificate",
	43: "unsupported_certificate", 44: "certificate_revoked",
	45: "certificate_expired", 46: "certificate_unknown",
	47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied",
	50: "decode_error", 51: "decrypt_error", 60: "export_restriction",
	70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
	86: "inappropriate_fallback", 90: "user_canceled", 100: "no_renegotiation",
	109: "missing_extension", 110: "unsupported_extension",
	111: "certificate_unobtainable", 112: "unrecognized_name",
	113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
	115: "unknown_psk_identity", 116: "certificate_required",
	120: "no_application_protocol", 121: "ech_required",
}

// alertName names an alert description, or gives its number.
func alertName(desc byte) string {
	if name, ok := alertNames[desc]; ok {
		return name
	}
	return strconv.Itoa(int(desc))
}

// RegistryAlertName is an alert description's name in the TLS registry
// (handshake_failure), and false for a description it does not list.
func RegistryAlertName(desc byte) (string, bool) {
	name, ok := alertNames[desc]
	return name, ok
}
