#!/usr/bin/env bash
# Makes throwaway PKI for development, the lab and the tests. NEVER for production: the keys are
# unencrypted files, and whoever can read DIR can be any site or any operator.
#
#   deploy/pki/make-pki.sh DIR [--sites site-a,site-b] [--operator NAME]
#
# Writes (EC P-256 keys, SHA-256 signatures; keys mode 600):
#   DIR/<site>/ca.{crt,key}          a CA per site: the peer pins it (peer_ca_file)
#   DIR/<site>/agent.{crt,key}       the site agent's certificate, server and client use:
#                                    CN=<site>, SAN DNS:<site>, DNS:localhost, IP:127.0.0.1
#   DIR/operator/ca.{crt,key}        the operators' CA (operator_ca_file)
#   DIR/operator/<NAME>.{crt,key}    an operator's client certificate, CN=<NAME> (default "ops")
#   DIR/operator/dashboard.{crt,key} a shared dashboard certificate, CN=dashboard: not an operator
#                                    by itself, it carries bearer-token requests
#   DIR/test/...                     material for the TLS tests, all claiming the first site:
#     other-ca.{crt,key}             an unrelated CA
#     other-ca-<site>.{crt,key}      CN=<site> from that unrelated CA
#     wrong-site.{crt,key}           CN=wrong-site from <site>'s own CA (right CA, wrong name)
#     expired-<site>.{crt,key}       CN=<site> from <site>'s CA, valid only during January 2020
#
# Idempotent: what exists is kept; a CA made anew re-issues everything it signs. Prints one line
# per file pair it makes.
set -euo pipefail

usage() { echo "usage: $0 DIR [--sites site-a,site-b] [--operator NAME]" >&2; exit 2; }
[ $# -ge 1 ] || usage
dir=$1; shift
sites=site-a,site-b
operator=ops
while [ $# -gt 0 ]; do
  case $1 in
    --sites) [ $# -ge 2 ] || usage; sites=$2; shift 2 ;;
    --operator) [ $# -ge 2 ] || usage; operator=$2; shift 2 ;;
    *) usage ;;
  esac
done
IFS=, read -r -a site_list <<<"$sites"
[ ${#site_list[@]} -ge 1 ] || usage
for name in "${site_list[@]}" "$operator"; do
  [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || { echo "$0: bad name '$name'" >&2; exit 2; }
done

umask 077
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# new_key PATH
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# make_ca PREFIX CN: sets made=1 when it made the CA.
make_ca() {
  made=0
  [ -s "$1.crt" ] && [ -s "$1.key" ] && return 0
  new_key "$1.key"
  openssl req -new -x509 -key "$1.key" -subj "/O=drpair dev/CN=$2" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out "$1.crt"
  chmod 644 "$1.crt"
  made=1
  echo "make-pki: CA            $1.crt  (CN=$2)"
}

# extensions SANS USAGE: writes the leaf extension section to $work/ext.cnf.
extensions() {
  {
    echo "[leaf]"
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$2"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
    if [ -n "$1" ]; then echo "subjectAltName=$1"; fi
  } >"$work/ext.cnf"
}

# issue PREFIX CN CA_PREFIX SANS USAGE FORCE
issue() {
  local prefix=$1 cn=$2 ca=$3 sans=$4 usage=$5 force=$6
  [ "$force" = 0 ] && [ -s "$prefix.crt" ] && [ -s "$prefix.key" ] && return 0
  new_key "$prefix.key"
  openssl req -new -key "$prefix.key" -subj "/O=drpair dev/CN=$cn" -out "$work/leaf.csr"
  extensions "$sans" "$usage"
  openssl x509 -req -in "$work/leaf.csr" -CA "$ca.crt" -CAkey "$ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 825 -sha256 -extfile "$work/ext.cnf" -extensions leaf -out "$prefix.crt" 2>/dev/null
  chmod 644 "$prefix.crt"
  echo "make-pki: certificate   $prefix.crt  (CN=$cn, from $ca.crt)"
}

# issue_expired PREFIX CN CA_PREFIX FORCE: valid 2020-01-01 .. 2020-02-01 only. `openssl x509`
# cannot back-date; `openssl ca` can, given a throwaway database.
issue_expired() {
  local prefix=$1 cn=$2 ca=$3 force=$4
  [ "$force" = 0 ] && [ -s "$prefix.crt" ] && [ -s "$prefix.key" ] && return 0
  new_key "$prefix.key"
  openssl req -new -key "$prefix.key" -subj "/O=drpair dev/CN=$cn" -out "$work/leaf.csr"
  extensions "DNS:$cn,DNS:localhost,IP:127.0.0.1" "serverAuth,clientAuth"
  mkdir -p "$work/ca" && : >"$work/ca/index.txt" && openssl rand -hex 16 >"$work/ca/serial"
  cat >"$work/ca.cnf" <<CNF
[ca]
default_ca = expired
[expired]
dir = $work/ca
database = $work/ca/index.txt
new_certs_dir = $work/ca
serial = $work/ca/serial
default_md = sha256
policy = any
unique_subject = no
[any]
organizationName = optional
commonName = supplied
CNF
  openssl ca -batch -notext -config "$work/ca.cnf" -cert "$ca.crt" -keyfile "$ca.key" \
    -startdate 20200101000000Z -enddate 20200201000000Z -extfile "$work/ext.cnf" -extensions leaf \
    -in "$work/leaf.csr" -out "$prefix.crt" 2>/dev/null
  chmod 644 "$prefix.crt"
  echo "make-pki: certificate   $prefix.crt  (CN=$cn, from $ca.crt, EXPIRED)"
}

for site in "${site_list[@]}"; do
  mkdir -p "$dir/$site"
  make_ca "$dir/$site/ca" "drpair $site CA"
  issue "$dir/$site/agent" "$site" "$dir/$site/ca" "DNS:$site,DNS:localhost,IP:127.0.0.1" \
    "serverAuth,clientAuth" "$made"
done

mkdir -p "$dir/operator"
make_ca "$dir/operator/ca" "drpair operator CA"
issue "$dir/operator/$operator" "$operator" "$dir/operator/ca" "" clientAuth "$made"
issue "$dir/operator/dashboard" dashboard "$dir/operator/ca" "" clientAuth "$made"

first=${site_list[0]}
mkdir -p "$dir/test"
site_ca_made=0
[ -s "$dir/test/wrong-site.crt" ] && openssl verify -CAfile "$dir/$first/ca.crt" \
  "$dir/test/wrong-site.crt" >/dev/null 2>&1 || site_ca_made=1
make_ca "$dir/test/other-ca" "unrelated CA"
issue "$dir/test/other-ca-$first" "$first" "$dir/test/other-ca" \
  "DNS:$first,DNS:localhost,IP:127.0.0.1" "serverAuth,clientAuth" "$made"
issue "$dir/test/wrong-site" wrong-site "$dir/$first/ca" "DNS:wrong-site,DNS:localhost,IP:127.0.0.1" \
  "serverAuth,clientAuth" "$site_ca_made"
issue_expired "$dir/test/expired-$first" "$first" "$dir/$first/ca" "$site_ca_made"
echo "make-pki: done in $dir (sites: ${site_list[*]}; operator: $operator)"
