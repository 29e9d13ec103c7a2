#!/usr/bin/env bash
# Regenerates the ML-DSA fixtures with OpenSSL 3.5, the peer whose key forms
# the proxy must read (RFC 9881 / draft-ietf-lamps-dilithium-certificates
# PKCS#8 CHOICE: seed, expandedKey, or both). OPENSSL overrides the
# project's OpenSSL 3.5 helper:
#   testdata/gen-mldsa-keys.sh
set -euo pipefail
cd "$(dirname "$0")"
openssl=${OPENSSL:-../integration/tools/openssl35}
# OpenSSL's default output: SEQUENCE { seed, expandedKey }.
$openssl genpkey -algorithm ML-DSA-65 -out mldsa65-both.key
$openssl pkey -in mldsa65-both.key -provparam ml-dsa.output_formats=seed-only -out mldsa65-seed.key
$openssl pkey -in mldsa65-both.key -provparam ml-dsa.output_formats=priv-only -out mldsa65-expanded.key
$openssl req -x509 -new -key mldsa65-both.key -subj /CN=localhost -days 36500 \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -addext keyUsage=critical,digitalSignature -out mldsa65.crt
# A second key, to prove that a key/certificate mismatch is refused.
$openssl genpkey -algorithm ML-DSA-65 -out mldsa65-other.key
# The other parameter sets, in OpenSSL's default form.
$openssl genpkey -algorithm ML-DSA-44 -out mldsa44-both.key
$openssl genpkey -algorithm ML-DSA-87 -out mldsa87-both.key
