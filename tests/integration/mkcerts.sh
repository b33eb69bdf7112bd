#!/bin/sh
# Makes throwaway TLS material for the tests in DIR: two CAs (ca, other-ca), a server
# certificate for 127.0.0.1 signed by ca, a client certificate signed by ca, and one signed by
# other-ca. EC P-256 keys, valid for two days. NNG 1.5.2's mbedTLS 2.28 checks the server name
# against DNS SANs only, so the server certificate carries 127.0.0.1 as an IP and a DNS SAN.
#   mkcerts.sh DIR
set -eu
dir=$1
cd "$dir"
ossl() { openssl "$@" 2>/dev/null; }

ca() { # NAME
  ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$1.key" -out "$1.crt" -subj "/CN=evrepl test $1" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}

leaf() { # NAME CA CN EXTENSIONS
  ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.csr" -subj "/CN=$3"
  printf '%s\n' "$4" > "$1.ext"
  ossl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 2 \
    -out "$1.crt" -extfile "$1.ext"
  rm -f "$1.csr" "$1.ext"
}

ca ca
ca other-ca
leaf server ca 127.0.0.1 "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost"
leaf client ca evrepl-test-client "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=clientAuth"
leaf rogue other-ca evrepl-test-client "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=clientAuth"
chmod 600 ./*.key
