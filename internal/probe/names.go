package probe

import (
	"crypto/tls"
	"fmt"
)

// The probe names groups, signature schemes and alerts as the IANA TLS
// registries do (the names RFC 8446 and the drafts use), which are also
// the names OpenSSL prints, so a report can be set beside s_client's
// output; TLS versions and cipher suites as crypto/tls names them.

// groupNames are the TLS Supported Groups registry's names of the groups
// the probe may meet.
var groupNames = map[tls.CurveID]string{
	tls.CurveP256:          "secp256r1",
	tls.CurveP384:          "secp384r1",
	tls.CurveP521:          "secp521r1",
	tls.X25519:             "X25519",
	30:                     "X448",
	256:                    "ffdhe2048",
	257:                    "ffdhe3072",
	258:                    "ffdhe4096",
	512:                    "MLKEM512",
	513:                    "MLKEM768",
	tls.MLKEM1024:          "MLKEM1024",
	tls.X25519MLKEM768:     "X25519MLKEM768",
	tls.SecP256r1MLKEM768:  "SecP256r1MLKEM768",
	tls.SecP384r1MLKEM1024: "SecP384r1MLKEM1024",
}

// GroupName names a TLS group (named curve), or gives its code point.
func GroupName(g tls.CurveID) string {
	if n, ok := groupNames[g]; ok {
		return n
	}
	return fmt.Sprintf("0x%04x", uint16(g))
}

// IsPQGroup reports whether a group resists a quantum computer: a hybrid
// of ML-KEM (FIPS 203) with ECDH, or ML-KEM alone.
func IsPQGroup(g tls.CurveID) bool {
	switch g {
	case tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024, tls.MLKEM1024, 512, 513:
		return true
	}
	return false
}

// schemeNames are the TLS SignatureScheme registry's names.
var schemeNames = map[tls.SignatureScheme]string{
	0x0201: "rsa_pkcs1_sha1", 0x0203: "ecdsa_sha1",
	0x0401: "rsa_pkcs1_sha256", 0x0501: "rsa_pkcs1_sha384", 0x0601: "rsa_pkcs1_sha512",
	0x0403: "ecdsa_secp256r1_sha256", 0x0503: "ecdsa_secp384r1_sha384", 0x0603: "ecdsa_secp521r1_sha512",
	0x0804: "rsa_pss_rsae_sha256", 0x0805: "rsa_pss_rsae_sha384", 0x0806: "rsa_pss_rsae_sha512",
	0x0807: "ed25519", 0x0808: "ed448",
	0x0809: "rsa_pss_pss_sha256", 0x080a: "rsa_pss_pss_sha384", 0x080b: "rsa_pss_pss_sha512",
	0x081a: "ecdsa_brainpoolP256r1tls13_sha256", 0x081b: "ecdsa_brainpoolP384r1tls13_sha384",
	0x081c: "ecdsa_brainpoolP512r1tls13_sha512",
	0x0904: "mldsa44", 0x0905: "mldsa65", 0x0906: "mldsa87",
}

// SchemeName names a signature scheme, or gives its code point.
func SchemeName(s tls.SignatureScheme) string {
	if n, ok := schemeNames[s]; ok {
		return n
	}
	return fmt.Sprintf("0x%04x", uint16(s))
}

// isMLDSAScheme reports whether s is ML-DSA-44, -65 or -87
// (draft-ietf-tls-mldsa).
func isMLDSAScheme(s tls.SignatureScheme) bool {
	return s == tls.MLDSA44 || s == tls.MLDSA65 || s == tls.MLDSA87
}

// alertNames are the TLS Alerts registry's names (RFC 8446, Section 6,
// and RFC 5246 for those TLS 1.3 dropped).
var alertNames = map[uint8]string{
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

// AlertName names a TLS alert description, or gives its number.
func AlertName(desc uint8) string {
	if n, ok := alertNames[desc]; ok {
		return n
	}
	return fmt.Sprintf("alert(%d)", desc)
}

// versionName is "TLS 1.3" and so on, as crypto/tls says it.
func versionName(v uint16) string {
	if v == 0 {
		return ""
	}
	return tls.VersionName(v)
}
