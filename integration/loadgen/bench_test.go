package main

import "testing"

// HAProxy is measured when it runs on OpenSSL 3.5 or any later release,
// 3.10 and 4.0 included, and left out on earlier ones and on LibreSSL or
// others that name themselves differently.
func TestHasPQOpenSSL(t *testing.T) {
	for ssl, want := range map[string]bool{
		"OpenSSL 3.5.9 29 Sep 2026":   true,
		"OpenSSL 3.5.0 8 Apr 2025":    true,
		"OpenSSL 3.6.0 1 Oct 2025":    true,
		"OpenSSL 3.10.1 1 Jan 2029":   true,
		"OpenSSL 4.0.0 14 Apr 2026":   true,
		"OpenSSL 3.4.1 11 Feb 2025":   false,
		"OpenSSL 3.0.17 1 Jul 2025":   false,
		"OpenSSL 1.1.1w  11 Sep 2023": false,
		"LibreSSL 4.0.0":              false,
		"":                            false,
	} {
		if got := hasPQOpenSSL(ssl); got != want {
			t.Errorf("hasPQOpenSSL(%q) = %v, want %v", ssl, got, want)
		}
	}
}
