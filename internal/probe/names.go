package probe

import (
	"crypto/tls"
	"fmt"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/tlsconf"
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

// AlertName names a TLS alert description, or gives its number.
func AlertName(desc uint8) string {
	if n, ok := tlsconf.RegistryAlertName(desc); ok {
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
