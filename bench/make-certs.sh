#!/usr/bin/env bash
# Makes a cluster CA and a certificate + key per node with the openssl
# command, for mutual TLS between Tributary nodes (--tls-ca/--tls-cert/--tls-key).
#   bench/make-certs.sh DIR NAME...
# writes DIR/ca.pem and DIR/ca.key (reused if they exist, so nodes can be
# added later), and DIR/NAME.pem + DIR/NAME.key for each NAME. Give each node
# only ca.pem and its own pair; keep ca.key off the nodes.
# A quick start, not a PKI: no revocation, 825-day certificates, unencrypted keys.
set -euo pipefail
if (($# < 2)); then
  echo "usage: $0 DIR NAME..." >&2
  exit 2
fi
dir=$1
shift
mkdir -p "$dir"
umask 077  # keys readable by their owner only
curve=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
if [[ ! -f $dir/ca.pem || ! -f $dir/ca.key ]]; then
  openssl req -x509 "${curve[@]}" -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 825 \
    -subj "/CN=Tributary cluster CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
for name in "$@"; do
  [[ $name =~ ^[A-Za-z0-9._-]+$ ]] || { echo "bad node name '$name' (letters, digits, . _ -)" >&2; exit 2; }
  ext=$(mktemp)
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:%s\n' "$name" >"$ext"
  openssl req "${curve[@]}" -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=$name" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -out "$dir/$name.pem" -days 825 -extfile "$ext" 2>/dev/null
  rm -f "$dir/$name.csr" "$ext"
  chmod 644 "$dir/$name.pem"
done
chmod 644 "$dir/ca.pem"
echo "CA: $dir/ca.pem; nodes: $(printf '%s ' "$@")-> $dir/NAME.pem + $dir/NAME.key" >&2
