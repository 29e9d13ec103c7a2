#!/usr/bin/env bash
# Regenerates the CRL fixtures with OpenSSL 3.5 (`openssl ca -gencrl`, as
# CAs make them): an ML-DSA-65 CA and its CRL in PEM and DER, revoking
# serial 1234 (keyCompromise). The CA's key is thrown away. The CRL's
# nextUpdate is 100 years out; tests of expiry make their own CRLs.
# OPENSSL overrides the project's OpenSSL 3.5 helper:
#   testdata/gen-crls.sh
set -euo pipefail
cd "$(dirname "$0")"
openssl=${OPENSSL:-$PWD/../integration/tools/openssl35}
out=$PWD/crl
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
$openssl req -x509 -newkey ML-DSA-65 -nodes -keyout ca.key -out "$out/mldsa-ca.crt" -subj "/CN=CRL Test ML-DSA CA" \
  -days 36500 -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign
touch index.txt
echo 01 > crlnumber
cat > ca.cnf <<CNF
[ca]
default_ca = CA_default
[CA_default]
database = index.txt
crlnumber = crlnumber
certificate = $out/mldsa-ca.crt
private_key = ca.key
default_md = default
default_crl_days = 36500
CNF
$openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj /CN=revoked
$openssl x509 -req -in leaf.csr -CA "$out/mldsa-ca.crt" -CAkey ca.key -set_serial 0x1234 -days 36500 -out leaf.crt
$openssl ca -config ca.cnf -revoke leaf.crt -crl_reason keyCompromise
$openssl ca -config ca.cnf -gencrl -out "$out/mldsa-ca.crl"
$openssl crl -in "$out/mldsa-ca.crl" -outform DER -out "$out/mldsa-ca.crl.der"
