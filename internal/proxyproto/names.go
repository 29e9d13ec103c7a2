package proxyproto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mldsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"strconv"
)

// The strings of PP2_TYPE_SSL's sub-TLVs are the ones HAProxy sends
// (OpenSSL's names: SSL_get_version, SSL_CIPHER_get_name, the short name
// of the certificate's signature algorithm, and "RSA2048"/"EC256" for the
// key), so that a backend written for HAProxy reads the same values.
// Where OpenSSL has no such name (ML-DSA keys, which HAProxy does not
// describe), the algorithm's standard name is used: "ML-DSA-65" (FIPS 204).
// Each is a constant, so describing a connection allocates nothing.

// VersionName names a TLS version as OpenSSL does: "TLSv1.3", "TLSv1.2".
func VersionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1"
	}
	return tls.VersionName(v)
}

// opensslCiphers are OpenSSL's names of the suites the proxy serves:
// TLS 1.3's, whose names are the same in IANA's registry and OpenSSL, and
// the TLS 1.2 suites of tlsconf's cipherSuites (`openssl ciphers -stdname`
// lists both names). A table, because tls.CipherSuiteName allocates.
var opensslCiphers = map[uint16]string{
	tls.TLS_AES_128_GCM_SHA256:                        "TLS_AES_128_GCM_SHA256",
	tls.TLS_AES_256_GCM_SHA384:                        "TLS_AES_256_GCM_SHA384",
	tls.TLS_CHACHA20_POLY1305_SHA256:                  "TLS_CHACHA20_POLY1305_SHA256",
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       "ECDHE-ECDSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       "ECDHE-ECDSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         "ECDHE-RSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         "ECDHE-RSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   "ECDHE-RSA-CHACHA20-POLY1305",
}

// CipherName names a cipher suite as OpenSSL does, or by its IANA name
// (tls.CipherSuiteName) when not in the table.
func CipherName(id uint16) string {
	if n, ok := opensslCiphers[id]; ok {
		return n
	}
	return tls.CipherSuiteName(id)
}

// SigAlgName names the algorithm that signed a certificate: OpenSSL's
// short name ("ecdsa-with-SHA256", "RSA-SHA256", as HAProxy sends), and
// the FIPS 204 name for ML-DSA ("ML-DSA-65").
func SigAlgName(a x509.SignatureAlgorithm) string {
	switch a {
	case x509.SHA1WithRSA:
		return "RSA-SHA1"
	case x509.SHA256WithRSA:
		return "RSA-SHA256"
	case x509.SHA384WithRSA:
		return "RSA-SHA384"
	case x509.SHA512WithRSA:
		return "RSA-SHA512"
	case x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		return "RSASSA-PSS"
	case x509.ECDSAWithSHA1:
		return "ecdsa-with-SHA1"
	case x509.ECDSAWithSHA256:
		return "ecdsa-with-SHA256"
	case x509.ECDSAWithSHA384:
		return "ecdsa-with-SHA384"
	case x509.ECDSAWithSHA512:
		return "ecdsa-with-SHA512"
	case x509.PureEd25519:
		return "ED25519"
	}
	return a.String() // "ML-DSA-44", "ML-DSA-65", "ML-DSA-87", and any other
}

// KeyAlgName names a certificate's key as HAProxy does, the algorithm
// and its size in bits ("EC256", "RSA2048"), or by its standard name for
// keys HAProxy does not describe ("ED25519", "ML-DSA-65").
func KeyAlgName(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *mldsa.PublicKey:
		return k.Parameters().String()
	case *ecdsa.PublicKey:
		switch bits := k.Curve.Params().BitSize; bits {
		case 256:
			return "EC256"
		case 384:
			return "EC384"
		case 521:
			return "EC521"
		default:
			return "EC" + strconv.Itoa(bits)
		}
	case *rsa.PublicKey:
		switch bits := k.N.BitLen(); bits {
		case 2048:
			return "RSA2048"
		case 3072:
			return "RSA3072"
		case 4096:
			return "RSA4096"
		default:
			return "RSA" + strconv.Itoa(bits)
		}
	case ed25519.PublicKey:
		return "ED25519"
	}
	return ""
}
