#!/usr/bin/env bash
# APP1 for real at one site: the application of tests/fixtures/descriptions/app1.first.json (4 VMs,
# portgroups app1-web/app1-app/app1-db with VLANs 101-103 on the switch vswitch0) as tiny TCG guests
# on a site's private libvirtd (deploy/libvirtd.sh) booting from RBD images of a Ceph site
# (deploy/ceph-pair.sh). Each guest boots deploy/lab/guest/boot.asm, which prints the marker kept
# in sector 1 of its root image ("DRPAIR vm=<name> gen=<N>") to its serial log: which generation of
# the data a VM booted from is visible from outside, at production and after a failover.
#
# Usage: deploy/lab/app1.sh VERB SITE [ARGS]     (SITE: the libvirtd site, as for libvirtd.sh)
#   site-setup SITE [production | dr BRIDGE]  define the libvirt ceph secret (usage
#                        "client.libvirt CEPH_SITE", value: that Ceph site's client.libvirt key)
#                        and write the site's SiteConfig (drpair/v1: site, ceph monitors/user/
#                        secretUuid/clientConf, domainType qemu, APP1's portgroups with their
#                        subnets as the site's role places them, restore tuning); prints the
#                        config's path. Idempotent. Needed at both sites (the DR restore uses the
#                        secret too). The role (default production) is kept: every verb after it
#                        places and expects APP1's networks where that role puts them (below). A
#                        DR site also gets its second switch: the libvirt network backend0 on the
#                        Open vSwitch bridge BRIDGE, which must exist.
#   policy SITE          print the lab's MappingPolicy for APP1 at SITE, its DR site (below).
#   create SITE          at the production site: APP1's portgroups (with VLANs) on the switch, its
#                        RBD images (8 MiB, boot sector + marker gen=1; db1 also has a data disk),
#                        its 4 domains (drpair metadata: app id app1 / name APP1, boot order,
#                        declared addresses), started; waits until every serial log shows the
#                        marker. Idempotent: existing images are kept as they are, domains are
#                        redefined and started if not running.
#   write-marker SITE GEN  write "DRPAIR vm=<name> gen=GEN" into sector 1 of every APP1 root
#                        image at the Ceph site (the images must be primary there). Running
#                        guests only read it at their next boot.
#   read-marker SITE GEN  the marker in sector 1 of every APP1 root image at the Ceph site, read
#                        with `rbd export` (a non-primary replica reads too); exit 0 only if
#                        every image holds gen=GEN (each mismatch named on stderr).
#   add-disk SITE VM IMAGE  topology drift: create the (empty, 8 MiB) image at the Ceph site and
#                        attach it to the running VM, live and persistently, as its next vdX.
#   add-nic SITE VM MAC PORTGROUP [IP]  topology drift: a NIC of that MAC on APP1's PORTGROUP
#                        where the site's role places it, added to the VM's persistent definition
#                        (its next boot); with IP (production's address), its address as placed
#                        there declared in the VM's drpair metadata.
#   check-nic SITE VM MAC PORTGROUP [IP]  that NIC of the running VM on PORTGROUP with its VLAN,
#                        in libvirt's live XML and in OVS, and with IP, that address as placed at
#                        the site declared in its metadata (as check does for APP1's own NICs).
#   add-vm SITE NAME UUID BOOT MAC PORTGROUP IP GEN  a VM added to APP1 (metadata naming the app,
#                        boot order BOOT): root image NAME-root (boot sector, marker gen=GEN), one
#                        NIC of MAC on PORTGROUP declaring IP (production's address, as placed at
#                        the site); defined, started, its marker waited for.
#   check-vm SITE NAME GEN MAC PORTGROUP [IP]  that VM running, its marker gen=GEN, its NIC of
#                        MAC on PORTGROUP with the VLAN and IP declared (as check-nic).
#   check SITE GEN       at any site (production, or DR after a restore): for every APP1 VM,
#                        running; the last marker in its serial log (path from the live XML:
#                        <serial type='file'> or a serial's <log file=>) is gen=GEN (a guest
#                        still booting is waited for, up to APP1_BOOT_TIMEOUT); every NIC on its expected portgroup with the VLAN, both in libvirt
#                        (live XML) and in OVS (tag of its vnet port). Prints a table; exit 0 only
#                        if everything holds, 1 otherwise (each failure named on stderr).
#   check-drill SITE GEN NETWORK BRIDGE  as check, for APP1's drill (drpair drill): the domains
#                        NAME-drill, their markers those of NAME (a drill boots copies of the
#                        replicas), every NIC on the drill network NETWORK in its portgroup with the
#                        VLAN, its OVS port on the drill bridge BRIDGE.
#   destroy SITE         undefine APP1's domains, remove its images, portgroups and the secret
#                        (leaves what does not exist alone; mirrored images are disabled first).
#   topology             print APP1 as this script defines it (one line per VM), for tests.
#
# Environment:
#   DRPAIR_LIBVIRTD_DIR  libvirtd.sh's state folder (default /tmp/drpair-libvirtd); the site's
#                        libvirtd must be up: SITE/env is read (DRPAIR_LIBVIRT_URI, DRPAIR_OVS_DB,
#                        DRPAIR_OVS_BRIDGE, DRPAIR_SWITCH).
#   DRPAIR_CEPH_DIR      ceph-pair.sh's state folder (default /tmp/drpair-ceph).
#   DRPAIR_CEPH_SITE     the Ceph site (site-a | site-b) this libvirtd site uses. Default: SITE
#                        itself if it is site-a/site-b, else from SITE's last letter: *-a -> site-a,
#                        *-b -> site-b (e.g. e2e-a, hc-b); anything else must set it.
#   DRPAIR_SITE_NAME     the drpair site name written into the SiteConfig (default: the Ceph site).
#   DRPAIR_SITE_CONFIG   where site-setup writes the SiteConfig (default SITE-state/drpair-site.json).
#   APP1_BOOT_TIMEOUT    seconds create waits for all markers, and check for the marker of a
#                        running VM that has not printed one yet (default 90).
#
# Files under the site's libvirtd state folder ($DRPAIR_LIBVIRTD_DIR/SITE): drpair-site.json,
# app1/boot.bin (the assembled boot sector), app1/NAME.xml (domain XML as defined),
# app1/serial/NAME.log (each guest's COM1, truncated at every boot).
#
# Where APP1's networks are. At the production site: on the switch, portgroups app1-web/app1-app/
# app1-db with VLANs 101-103 (the fixture's). At the DR site, by the lab's mapping policy (verb
# policy; the DR agent maps with it): other VLANs (201-203), app1-db on a second switch (backend0,
# another Open vSwitch bridge, which the site must have: deploy/lab/up.sh makes it) as portgroup
# app1-db-dr, and app1-web's subnet translated to 10.10.10.0/24 (ip: translate, so the web NICs'
# addresses move into it, host part kept). add-nic, add-vm and the checks take a portgroup by its
# production name and use the site's role to place it.
#
# The address-only NICs of the fixture (a second NIC with only an address) are at production
# <interface type='bridge'> on the site's OVS bridge, untagged, with their address declared in the
# metadata: capture turns them into address-only NICs and the mapping derives their network. In a
# restored domain (metadata with source-site) check expects them on the derived portgroup instead.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
readonly here
readonly libvirtd_dir=${DRPAIR_LIBVIRTD_DIR:-/tmp/drpair-libvirtd}
readonly ceph_dir=${DRPAIR_CEPH_DIR:-/tmp/drpair-ceph}
readonly boot_timeout=${APP1_BOOT_TIMEOUT:-90}
readonly app_id=app1 app_name=APP1 topology_generation=1
readonly pool=rbd image_mib=8 memory_mib=64

# APP1, as in tests/fixtures/descriptions/app1.first.json (VM UUIDs, names, boot orders, images,
# MACs, portgroups, addresses); spec and sizes are the lab's tiny ones.
#   portgroup|vlan|cidr|gateway
readonly portgroups=(
  "app1-web|101|192.168.10.0/24|192.168.10.1"
  "app1-app|102|192.168.20.0/24|192.168.20.1"
  "app1-db|103|192.168.30.0/24|192.168.30.1"
)
# APP1's networks at its DR site, by the lab's mapping policy:
#   production portgroup|switch (empty: the site's own, DRPAIR_SWITCH)|portgroup|vlan|cidr|gateway
readonly second_switch=backend0
readonly dr_networks=(
  "app1-web||app1-web|201|10.10.10.0/24|10.10.10.1"
  "app1-app||app1-app|202|192.168.20.0/24|192.168.20.1"
  "app1-db|$second_switch|app1-db-dr|203|192.168.30.0/24|192.168.30.1"
)
#   name|uuid|boot order|images (first boots)|NICs: mac/portgroup (empty: address-only)/ip, ...
readonly vms=(
  "app1-web1|6f1c2a9e-0001-4c1e-9a0b-000000000001|3|app1-web1-root|52:54:00:10:00:01/app1-web/192.168.10.11,52:54:00:10:00:02//192.168.20.11"
  "app1-web2|6f1c2a9e-0002-4c1e-9a0b-000000000002|3|app1-web2-root|52:54:00:10:00:03/app1-web/192.168.10.12,52:54:00:10:00:04//192.168.20.12"
  "app1-app1|6f1c2a9e-0003-4c1e-9a0b-000000000003|2|app1-app1-root|52:54:00:20:00:01/app1-app/192.168.20.21,52:54:00:20:00:02//192.168.30.21"
  "app1-db1|6f1c2a9e-0004-4c1e-9a0b-000000000004|1|app1-db1-root app1-db1-data|52:54:00:30:00:01/app1-db/192.168.30.31"
)

log() { echo "app1.sh${site:+[$site]}: $*" >&2; }
die() { log "error: $*"; exit 1; }
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# vm_field LINE INDEX (0-based, '|'-separated)
vm_field() { local IFS='|'; local -a f; read -r -a f <<<"$1"; echo "${f[$2]:-}"; }

pg_vlan() {
  local p
  for p in "${portgroups[@]}"; do
    [ "${p%%|*}" = "$1" ] && { vm_field "$p" 1; return 0; }
  done
  return 1
}

# place PORTGROUP: where APP1's network of that (production) portgroup is at this site, by its
# role: "switch|portgroup|vlan|cidr|gateway". 1 if APP1 has no such portgroup.
place() {
  local p
  if [ "$role" = dr ]; then
    for p in "${dr_networks[@]}"; do
      [ "${p%%|*}" = "$1" ] || continue
      local IFS='|' f
      read -r -a f <<<"$p"
      echo "${f[1]:-$switch}|${f[2]}|${f[3]}|${f[4]}|${f[5]}"
      return 0
    done
    return 1
  fi
  for p in "${portgroups[@]}"; do
    [ "${p%%|*}" = "$1" ] && { echo "$switch|$p"; return 0; }
  done
  return 1
}

# placed_ip PORTGROUP IP: the address IP (on the production portgroup) has at this site: its host
# part in the subnet the site's role places the portgroup in (the lab's subnets are /24s).
placed_ip() {
  local cidr
  cidr=$(vm_field "$(place "$1")" 3)
  echo "${cidr%.*}.${2##*.}"
}

# The portgroup whose subnet holds address $1 (the fixture's subnets are /24s).
pg_of_ip() {
  local p cidr
  for p in "${portgroups[@]}"; do
    cidr=$(vm_field "$p" 2)
    [ "${1%.*}" = "${cidr%.*}" ] && { echo "${p%%|*}"; return 0; }
  done
  return 1
}

# --- the site's environment ----------------------------------------------------------------------

site=
load_site() {
  site=${1:-}
  [ -n "$site" ] || usage
  case "$site" in *[!A-Za-z0-9_-]*) die "bad site name '$site'" ;; esac
  state=$libvirtd_dir/$site
  [ -f "$state/env" ] ||
    die "libvirtd site '$site' is not up: no $state/env (run DRPAIR_LIBVIRTD_DIR=$libvirtd_dir deploy/libvirtd.sh up $site)"
  DRPAIR_LIBVIRT_URI='' DRPAIR_OVS_DB='' DRPAIR_OVS_BRIDGE='' DRPAIR_SWITCH=''
  # shellcheck disable=SC1091
  . "$state/env"
  if [ -z "$DRPAIR_LIBVIRT_URI" ] || [ -z "$DRPAIR_OVS_DB" ] || [ -z "$DRPAIR_SWITCH" ] ||
    [ -z "$DRPAIR_OVS_BRIDGE" ]; then
    die "$state/env lacks DRPAIR_LIBVIRT_URI, DRPAIR_OVS_DB, DRPAIR_OVS_BRIDGE or DRPAIR_SWITCH"
  fi
  uri=$DRPAIR_LIBVIRT_URI
  switch=$DRPAIR_SWITCH
  virsh -c "$uri" version >/dev/null 2>&1 || die "libvirtd of '$site' does not answer at $uri"

  if [ -n "${DRPAIR_CEPH_SITE:-}" ]; then
    ceph_site=$DRPAIR_CEPH_SITE
  else
    case "$site" in
      site-a | site-b) ceph_site=$site ;;
      *-a) ceph_site='site-a' ;;
      *-b) ceph_site='site-b' ;;
      *) die "cannot tell which Ceph site '$site' uses: set DRPAIR_CEPH_SITE (site-a or site-b)" ;;
    esac
  fi
  cdir=$ceph_dir/$ceph_site
  # shellcheck disable=SC2015  # die exits
  [ -f "$cdir/ceph.conf" ] && [ -f "$cdir/client.conf" ] && [ -f "$cdir/mon-port" ] ||
    die "Ceph site '$ceph_site' has no ceph.conf/client.conf/mon-port under $cdir (run DRPAIR_CEPH_DIR=$ceph_dir deploy/ceph-pair.sh up)"
  mon_port=$(cat "$cdir/mon-port")
  # Derived, so every verb (and every run) finds the same secret without keeping state.
  secret_uuid=$(uuidgen --sha1 --namespace @url --name "urn:drpair:lab:ceph-secret:$site:$ceph_site")
  work=$state/app1
  mkdir -p "$work/serial"
  role=$(cat "$work/role" 2>/dev/null) || role=production
}

vsh() { virsh -q -c "$uri" "$@"; }
xrbd() { timeout 60 rbd -c "$cdir/ceph.conf" "$@"; }

# xpath FILE EXPR: the string value of EXPR in the XML file (empty if none).
xpath() { xmllint --xpath "string($2)" "$1" 2>/dev/null || true; }

# --- site-setup ----------------------------------------------------------------------------------

# ensure_second_switch BRIDGE: the libvirt network $second_switch on the Open vSwitch bridge BRIDGE
# (as libvirtd.sh makes the site's own switch), defined, started and autostarted unless it is.
ensure_second_switch() {
  local br=$1 have
  ovs-vsctl --timeout=10 --db="$DRPAIR_OVS_DB" br-exists "$br" ||
    die "no Open vSwitch bridge '$br' for the second switch $second_switch (ovs-vsctl add-br it first)"
  if vsh net-info "$second_switch" >/dev/null 2>&1; then
    have=$(switch_bridge "$second_switch")
    [ "$have" = "$br" ] ||
      die "network $second_switch exists on bridge '$have', not '$br' (virsh net-destroy/net-undefine it)"
  else
    cat >"$work/$second_switch.xml" <<EOF
<network>
  <name>$second_switch</name>
  <forward mode='bridge'/>
  <bridge name='$br'/>
  <virtualport type='openvswitch'/>
</network>
EOF
    vsh net-define "$work/$second_switch.xml" >/dev/null ||
      die "cannot define network $second_switch (XML: $work/$second_switch.xml)"
  fi
  vsh net-autostart "$second_switch" >/dev/null || die "cannot autostart network $second_switch"
  [ "$(vsh net-info "$second_switch" | awk '/^Active:/ {print $2}')" = yes ] ||
    vsh net-start "$second_switch" >/dev/null || die "cannot start network $second_switch"
}

cmd_site_setup() {
  local key_file=$cdir/client.libvirt.key xml cfg name
  case "${1:-production}" in
    production) role=production ;;
    dr)
      role=dr
      [ -n "${2:-}" ] || die "site-setup $site dr needs the Open vSwitch bridge of its second switch"
      ensure_second_switch "$2" ;;
    *) die "site-setup: the role is production or dr, not '$1'" ;;
  esac
  [ -s "$key_file" ] || die "no client.libvirt key at $key_file (ceph-pair.sh writes it at up)"
  xml=$work/secret.xml
  cat >"$xml" <<EOF
<secret ephemeral='no' private='yes'>
  <uuid>$secret_uuid</uuid>
  <usage type='ceph'><name>client.libvirt $ceph_site</name></usage>
</secret>
EOF
  vsh secret-define "$xml" >/dev/null ||
    die "cannot define the ceph secret $secret_uuid (another secret with usage 'client.libvirt $ceph_site'? see virsh secret-list)"
  vsh secret-set-value "$secret_uuid" --file "$key_file" >/dev/null ||
    die "cannot set the value of secret $secret_uuid from $key_file"

  cfg=${DRPAIR_SITE_CONFIG:-$state/drpair-site.json}
  name=${DRPAIR_SITE_NAME:-$ceph_site}
  mkdir -p "$(dirname "$cfg")"
  {
    printf '{\n  "apiVersion": "drpair/v1",\n  "kind": "SiteConfig",\n  "site": "%s",\n' "$name"
    printf '  "ceph": {"monitors": [{"host": "127.0.0.1", "port": %s}], "user": "libvirt",\n' "$mon_port"
    printf '           "secretUuid": "%s",\n           "clientConf": "%s"},\n' "$secret_uuid" "$cdir/client.conf"
    printf '  "domainType": "qemu",\n  "portgroups": [\n'
    local p at n=0
    for p in "${portgroups[@]}"; do
      n=$((n + 1))
      at=$(place "${p%%|*}")
      printf '    {"switch": "%s", "portgroup": "%s", "subnets": [{"cidr": "%s", "gateway": "%s"}]}%s\n' \
        "$(vm_field "$at" 0)" "$(vm_field "$at" 1)" "$(vm_field "$at" 3)" "$(vm_field "$at" 4)" \
        "$([ $n -lt ${#portgroups[@]} ] && echo ,)"
    done
    printf '  ],\n  "restore": {"parallelism": 2, "startTimeoutSeconds": 60}\n}\n'
  } >"$cfg.tmp"
  mv "$cfg.tmp" "$cfg"
  echo "$role" >"$work/role"
  log "secret $secret_uuid (client.libvirt of $ceph_site), site config $cfg ($role site of APP1)"
  echo "$cfg"
}

# The lab's MappingPolicy for APP1 at its DR site (this site, in the role dr): each network of
# APP1 as dr_networks places it; a subnet other than production's translated (ip: translate). The
# source network ids are production's (switch.portgroup): the lab's sites name their switch alike.
cmd_policy() {
  local p n=0 at prod
  printf '{\n  "apiVersion": "drpair/v1",\n  "kind": "MappingPolicy",\n  "site": "%s",\n  "networks": [\n' \
    "${DRPAIR_SITE_NAME:-$ceph_site}"
  for p in "${portgroups[@]}"; do
    n=$((n + 1))
    at=$(role=dr place "${p%%|*}")
    printf '    {"source": "%s.%s", "switch": "%s", "portgroup": "%s", "vlan": %s' "$switch" "${p%%|*}" \
      "$(vm_field "$at" 0)" "$(vm_field "$at" 1)" "$(vm_field "$at" 2)"
    prod=$(vm_field "$p" 2)
    if [ "$(vm_field "$at" 3)" != "$prod" ]; then
      printf ',\n     "subnets": [{"source": "%s", "cidr": "%s", "gateway": "%s"}]' \
        "$prod" "$(vm_field "$at" 3)" "$(vm_field "$at" 4)"
    fi
    printf '}%s\n' "$([ $n -lt ${#portgroups[@]} ] && echo ,)"
  done
  printf '  ],\n  "ip": "translate"\n}\n'
}

require_secret() {
  vsh secret-dumpxml "$secret_uuid" >/dev/null 2>&1 ||
    die "the ceph secret $secret_uuid is not defined in '$site': run 'app1.sh site-setup $site' first"
}

# --- portgroups ----------------------------------------------------------------------------------

net_xml() { vsh net-dumpxml "$switch" >"$work/net.xml" || die "no libvirt network '$switch' in '$site'"; }

ensure_portgroups() {
  local p name vlan have
  net_xml
  for p in "${portgroups[@]}"; do
    name=$(vm_field "$p" 0)
    vlan=$(vm_field "$p" 1)
    have=$(xpath "$work/net.xml" "//portgroup[@name='$name']/@name")
    if [ -n "$have" ]; then
      [ "$(xpath "$work/net.xml" "//portgroup[@name='$name']/vlan/tag/@id")" = "$vlan" ] && continue
      log "portgroup $name on $switch has the wrong VLAN: replacing it"
      vsh net-update "$switch" delete portgroup "<portgroup name='$name'/>" --live --config >/dev/null
    fi
    vsh net-update "$switch" add portgroup \
      "<portgroup name='$name'><vlan><tag id='$vlan'/></vlan></portgroup>" --live --config >/dev/null ||
      die "cannot add portgroup $name (VLAN $vlan) to network $switch"
  done
}

# --- images --------------------------------------------------------------------------------------

assemble_boot() {
  command -v nasm >/dev/null || die "nasm is missing (run deploy/install-deps.sh)"
  nasm -f bin "$here/guest/boot.asm" -o "$work/boot.bin.tmp" || die "nasm failed on $here/guest/boot.asm"
  mv "$work/boot.bin.tmp" "$work/boot.bin"
}

# marker_sector FILE VM GEN: a 512-byte sector holding the NUL-padded marker.
marker_sector() {
  : >"$1"
  truncate -s 512 "$1"
  printf 'DRPAIR vm=%s gen=%s' "$2" "$3" | dd of="$1" conv=notrunc status=none
}

image_exists() { xrbd info "$pool/$1" >/dev/null 2>&1; }

# boot_image IMAGE VM GEN: a new root image, the boot sector then VM's marker of generation GEN.
boot_image() {
  local file=$work/$1.raw
  rm -f "$file"
  truncate -s "${image_mib}M" "$file"
  dd if="$work/boot.bin" of="$file" conv=notrunc status=none
  marker_sector "$work/marker.bin" "$2" "$3"
  dd if="$work/marker.bin" of="$file" bs=512 seek=1 conv=notrunc status=none
  xrbd import --no-progress "$file" "$pool/$1" >/dev/null ||
    die "rbd import of $pool/$1 at $ceph_site failed"
  rm -f "$file"
}

ensure_images() {
  local v name img first
  for v in "${vms[@]}"; do
    name=$(vm_field "$v" 0)
    first=1
    for img in $(vm_field "$v" 3); do
      if image_exists "$img"; then
        first=0
        continue
      fi
      if [ $first = 1 ]; then
        boot_image "$img" "$name" 1
      else
        xrbd create --size "${image_mib}M" "$pool/$img" || die "rbd create $pool/$img at $ceph_site failed"
      fi
      first=0
    done
  done
}

# --- domains -------------------------------------------------------------------------------------

# disk_xml IMAGE TARGET: a virtio disk on the RBD image POOL/IMAGE of the site's Ceph cluster.
disk_xml() {
  cat <<EOF
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw' cache='writeback'/>
      <auth username='libvirt'><secret type='ceph' uuid='$secret_uuid'/></auth>
      <source protocol='rbd' name='$pool/$1'><host name='127.0.0.1' port='$mon_port'/><config file='$cdir/client.conf'/></source>
      <target dev='$2' bus='virtio'/>
    </disk>
EOF
}

# nic_xml MAC PORTGROUP: a virtio NIC on APP1's PORTGROUP where the site's role places it; no
# PORTGROUP: untagged on the site's OVS bridge (an address-only NIC).
nic_xml() {
  local at
  if [ -z "$2" ]; then
    echo "<interface type='bridge'><mac address='$1'/><source bridge='$DRPAIR_OVS_BRIDGE'/><virtualport type='openvswitch'/><model type='virtio'/><rom enabled='no'/></interface>"
    return
  fi
  at=$(place "$2") || die "no APP1 portgroup '$2'"
  echo "<interface type='network'><mac address='$1'/><source network='$(vm_field "$at" 0)' portgroup='$(vm_field "$at" 1)'/><model type='virtio'/><rom enabled='no'/></interface>"
}

domain_xml() {
  local v=$1 name uuid boot img nic mac pg ip target
  name=$(vm_field "$v" 0)
  uuid=$(vm_field "$v" 1)
  boot=$(vm_field "$v" 2)
  cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <uuid>$uuid</uuid>
  <metadata>
    <drpair:app xmlns:drpair="urn:drpair:app:v1" id="$app_id" name="$app_name" generation="$topology_generation" boot-order="$boot">
EOF
  for nic in $(vm_field "$v" 4 | tr ',' ' '); do
    IFS=/ read -r mac pg ip <<<"$nic"
    [ -z "$pg" ] || ip=$(placed_ip "$pg" "$ip")
    echo "      <drpair:nic mac=\"$mac\" ip=\"$ip\"/>"
  done
  cat <<EOF
    </drpair:app>
  </metadata>
  <memory unit='MiB'>$memory_mib</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <on_crash>destroy</on_crash>
  <devices>
EOF
  target=a
  for img in $(vm_field "$v" 3); do
    disk_xml "$img" "vd$target"
    target=$(echo "$target" | tr 'a-y' 'b-z')
  done
  for nic in $(vm_field "$v" 4 | tr ',' ' '); do
    IFS=/ read -r mac pg ip <<<"$nic"
    echo "    $(nic_xml "$mac" "$pg")"
  done
  cat <<EOF
    <serial type='file'><source path='$work/serial/$name.log' append='off'/><target port='0'/></serial>
  </devices>
</domain>
EOF
}

# The host path of a domain's serial log: <serial type='file'><source path=...> or a serial's
# <log file=...>. libvirtd runs in a private mount namespace (libvirtd.sh): its /var/log/libvirt,
# /var/lib/libvirt and /run are the site's log/, lib/ and run/ folders.
serial_log() {
  local p
  p=$(xpath "$1" "//devices/serial[@type='file']/source/@path")
  [ -n "$p" ] || p=$(xpath "$1" "//devices/serial/log/@file")
  [ -n "$p" ] || p=$(xpath "$1" "//devices/console/log/@file")
  case "$p" in
    /var/log/libvirt/*) p=$state/log/${p#/var/log/libvirt/} ;;
    /var/lib/libvirt/*) p=$state/lib/${p#/var/lib/libvirt/} ;;
    /run/*) p=$state/run/${p#/run/} ;;
  esac
  echo "$p"
}

dom_state() { vsh domstate "$1" 2>/dev/null | head -1 || true; }

# The last marker line in a serial log (without the CR).
last_marker() {
  [ -f "$1" ] || return 0
  tr -d '\r' <"$1" | grep -a '^DRPAIR ' | tail -1 || true
}

# has_marker VM LOG: LOG shows VM's marker (any generation), i.e. the guest has booted.
has_marker() {
  case "$(last_marker "$2")" in "DRPAIR vm=$1 gen="*) return 0 ;; esac
  return 1
}

cmd_create() {
  local v name started=() t0 t_images t_defined t_started
  [ "$role" = production ] || die "APP1 is created at its production site; '$site' is its $role site"
  t0=$(now_ms)
  require_secret
  ensure_portgroups
  assemble_boot
  ensure_images
  t_images=$(now_ms)
  for v in "${vms[@]}"; do
    name=$(vm_field "$v" 0)
    domain_xml "$v" >"$work/$name.xml"
    vsh define "$work/$name.xml" >/dev/null || die "cannot define domain $name (XML: $work/$name.xml)"
  done
  t_defined=$(now_ms)
  # Boot order: db1 (1), app1 (2), web1+web2 (3); nothing inside waits for a peer, so they are
  # started in that order without waiting between groups.
  local order
  for order in 1 2 3; do
    for v in "${vms[@]}"; do
      [ "$(vm_field "$v" 2)" = "$order" ] || continue
      name=$(vm_field "$v" 0)
      [ "$(dom_state "$name")" = running ] && continue
      vsh start "$name" >/dev/null || die "cannot start $name (see $state/log/ and libvirtd.log)"
      started+=("$name")
    done
  done
  t_started=$(now_ms)
  # Wait for a marker in every log (any generation: a VM left running keeps the one it booted).
  local deadline=$(($(date +%s) + boot_timeout)) missing
  while :; do
    missing=
    for v in "${vms[@]}"; do
      name=$(vm_field "$v" 0)
      has_marker "$name" "$work/serial/$name.log" || missing+=" $name"
    done
    [ -z "$missing" ] && break
    [ "$(date +%s)" -lt $deadline ] ||
      die "no boot marker after ${boot_timeout}s from:$missing (serial logs: $work/serial/)"
    sleep 0.2
  done
  local t_end
  t_end=$(now_ms)
  log "APP1 created: images $((t_images - t0)) ms, define $((t_defined - t_images)) ms," \
    "start (${#started[@]} started) $((t_started - t_defined)) ms, start-to-markers $((t_end - t_defined)) ms," \
    "total $((t_end - t0)) ms"
  for v in "${vms[@]}"; do
    name=$(vm_field "$v" 0)
    echo "$name $(last_marker "$work/serial/$name.log")"
  done
}

# --- add-disk --------------------------------------------------------------------------------------

# A topology change at production: a new empty image attached to a running VM, live and in its
# persistent definition, on the first free virtio target. Idempotent.
cmd_add_disk() {
  local name=${1:-} img=${2:-} xml t
  [ -n "$name" ] && [ -n "$img" ] || die "add-disk needs a VM and an image name"
  require_secret
  xml=$work/$name.live.xml
  vsh dumpxml "$name" >"$xml" 2>/dev/null || die "no domain '$name' in '$site'"
  if [ -n "$(xpath "$xml" "//devices/disk/source[@name='$pool/$img']/@name")" ]; then
    log "$name already has $pool/$img"
    return 0
  fi
  image_exists "$img" || xrbd create --size "${image_mib}M" "$pool/$img" ||
    die "rbd create $pool/$img at $ceph_site failed"
  for t in b c d e f g h i j k l m n o p q r s t u v w x y z; do
    [ -z "$(xpath "$xml" "//devices/disk/target[@dev='vd$t']/@dev")" ] && break
  done
  disk_xml "$img" "vd$t" >"$work/$img.disk.xml"
  vsh attach-device "$name" "$work/$img.disk.xml" --persistent >/dev/null ||
    die "cannot attach $pool/$img to $name (XML: $work/$img.disk.xml)"
  log "$name: $pool/$img attached as vd$t"
}

# --- add-nic / check-nic ---------------------------------------------------------------------------

# A topology change: a new NIC on one of APP1's portgroups of the site's switch, in the VM's
# persistent definition (the guest sees it at its next boot). Idempotent.
cmd_add_nic() {
  local name=${1:-} mac=${2:-} pg=${3:-} ip=${4:-} xml
  [ -n "$name" ] && [ -n "$mac" ] && [ -n "$pg" ] || die "add-nic needs a VM, a MAC and a portgroup"
  pg_vlan "$pg" >/dev/null || die "no APP1 portgroup '$pg'"
  xml=$work/$name.config.xml
  vsh dumpxml --inactive "$name" >"$xml" 2>/dev/null || die "no domain '$name' in '$site'"
  if [ -n "$(xpath "$xml" "//devices/interface/mac[@address='$mac']/@address")" ]; then
    log "$name already has a NIC $mac"
  else
    nic_xml "$mac" "$pg" >"$work/$name.nic.xml"
    vsh attach-device "$name" "$work/$name.nic.xml" --config >/dev/null ||
      die "cannot add NIC $mac to $name (XML: $work/$name.nic.xml)"
    log "$name: NIC $mac on $(place "$pg" | cut -d'|' -f1,2 --output-delimiter=' portgroup ') (from its next boot)"
  fi
  [ -z "$ip" ] || declare_address "$name" "$mac" "$(placed_ip "$pg" "$ip")"
}

# declare_address VM MAC IP: <drpair:nic mac=MAC ip=IP> in the VM's drpair metadata (replacing the
# MAC's earlier one), in its persistent definition and, while it runs, its live one.
declare_address() {
  local name=$1 mac=$2 ip=$3 current changed flags=--config
  current=$(vsh metadata "$name" --uri urn:drpair:app:v1 --config 2>/dev/null) ||
    die "domain '$name' has no drpair metadata to declare $mac's address in"
  changed=$(python3 -c '
import sys, xml.etree.ElementTree as ET
app, mac, ip = ET.fromstring(sys.argv[1]), sys.argv[2], sys.argv[3]
for nic in app.findall("nic"):
    if nic.get("mac") == mac:
        app.remove(nic)
ET.SubElement(app, "nic", {"mac": mac, "ip": ip})
print(ET.tostring(app, encoding="unicode"))' "$current" "$mac" "$ip") || die "cannot read $name's drpair metadata"
  [ "$(dom_state "$name")" = running ] && flags="--config --live"
  # shellcheck disable=SC2086  # flags: one or two words
  vsh metadata "$name" --uri urn:drpair:app:v1 --key drpair --set "$changed" $flags >/dev/null ||
    die "cannot declare address $ip of NIC $mac in $name's drpair metadata"
  log "$name: NIC $mac declares address $ip"
}

# A VM added to APP1 (drpair metadata naming the app, boot order BOOT): a root image NAME-root with
# the boot sector and marker generation GEN, one NIC of MAC on PORTGROUP (address IP); defined,
# started, waited for until its marker shows. Idempotent.
cmd_add_vm() {
  local name=${1:-} uuid=${2:-} boot=${3:-} mac=${4:-} pg=${5:-} ip=${6:-} gen=${7:-} deadline
  [ -n "$name" ] && [ -n "$uuid" ] && [ -n "$boot" ] && [ -n "$mac" ] && [ -n "$pg" ] &&
    [ -n "$ip" ] && [ -n "$gen" ] || die "add-vm needs NAME UUID BOOT MAC PORTGROUP IP GEN"
  pg_vlan "$pg" >/dev/null || die "no APP1 portgroup '$pg'"
  require_secret
  assemble_boot
  image_exists "$name-root" || boot_image "$name-root" "$name" "$gen"
  domain_xml "$name|$uuid|$boot|$name-root|$mac/$pg/$ip" >"$work/$name.xml"
  vsh define "$work/$name.xml" >/dev/null || die "cannot define domain $name (XML: $work/$name.xml)"
  [ "$(dom_state "$name")" = running ] || vsh start "$name" >/dev/null || die "cannot start $name"
  deadline=$(($(date +%s) + boot_timeout))
  until has_marker "$name" "$work/serial/$name.log"; do
    [ "$(date +%s)" -lt $deadline ] || die "no boot marker from $name after ${boot_timeout}s"
    sleep 0.2
  done
  log "$name added to APP1: $(last_marker "$work/serial/$name.log"), NIC $mac on $pg"
}

# check-vm: the VM runs, its serial log shows its marker of generation GEN, and its NIC of MAC is
# on PORTGROUP (check_nic).
cmd_check_vm() {
  local name=${1:-} gen=${2:-} mac=${3:-} pg=${4:-} ip=${5:-} xml logp st deadline marker
  [ -n "$name" ] && [ -n "$gen" ] && [ -n "$mac" ] && [ -n "$pg" ] ||
    die "check-vm needs NAME GEN MAC PORTGROUP"
  xml=$work/$name.live.xml
  vsh dumpxml "$name" >"$xml" 2>/dev/null || die "no domain '$name' in '$site'"
  st=$(dom_state "$name")
  [ "$st" = running ] || { log "FAIL $name: state '$st', not running"; return 1; }
  logp=$(serial_log "$xml")
  deadline=$(($(date +%s) + boot_timeout))
  while ! has_marker "$name" "$logp" && [ "$(date +%s)" -lt $deadline ]; do sleep 0.2; done
  marker=$(last_marker "$logp")
  row VM STATE MARKER NIC ON PORTGROUP VLAN OVSTAG IP RESULT
  check_nic "$name" "$st" "${marker#"DRPAIR vm=$name "}" "$xml" "$mac" "$pg" "$ip" || return 1
  [ "$marker" = "DRPAIR vm=$name gen=$gen" ] ||
    { log "FAIL $name: serial log $logp shows '${marker:-no marker}', expected gen=$gen"; return 1; }
}

cmd_check_nic() {
  local name=${1:-} mac=${2:-} pg=${3:-} ip=${4:-} xml
  [ -n "$name" ] && [ -n "$mac" ] && [ -n "$pg" ] || die "check-nic needs a VM, a MAC and a portgroup"
  xml=$work/$name.live.xml
  vsh dumpxml "$name" >"$xml" 2>/dev/null || die "no domain '$name' in '$site'"
  row VM STATE MARKER NIC ON PORTGROUP VLAN OVSTAG IP RESULT
  check_nic "$name" "$(dom_state "$name")" - "$xml" "$mac" "$pg" "$ip"
}

# --- write-marker --------------------------------------------------------------------------------

cmd_write_marker() {
  local gen=${1:-} v name img
  case "$gen" in '' | *[!0-9]*) die "write-marker needs a generation number, got '$gen'" ;; esac
  command -v qemu-io >/dev/null || die "qemu-io is missing (package qemu-utils)"
  for v in "${vms[@]}"; do
    name=$(vm_field "$v" 0)
    img=$(vm_field "$v" 3)
    img=${img%% *}
    image_exists "$img" || die "no image $pool/$img at Ceph site $ceph_site"
    marker_sector "$work/marker.bin" "$name" "$gen"
    # qemu-io writes 512 bytes in place (the image stays mirrored, its other sectors untouched).
    timeout 60 qemu-io --image-opts -c "write -s $work/marker.bin 512 512" \
      "driver=rbd,pool=$pool,image=$img,conf=$cdir/ceph.conf,user=admin" >"$work/qemu-io.out" 2>&1 ||
      die "cannot write the marker into $pool/$img at $ceph_site (non-primary image?): $(tr '\n' ' ' <"$work/qemu-io.out")"
    grep -q '^wrote 512/512' "$work/qemu-io.out" ||
      die "qemu-io did not write $pool/$img: $(tr '\n' ' ' <"$work/qemu-io.out")"
  done
  log "marker gen=$gen written into ${#vms[@]} root images at $ceph_site"
}

cmd_read_marker() {
  local gen=${1:-} v name img got bad=0
  case "$gen" in '' | *[!0-9]*) die "read-marker needs a generation number, got '$gen'" ;; esac
  for v in "${vms[@]}"; do
    name=$(vm_field "$v" 0)
    img=$(vm_field "$v" 3)
    img=${img%% *}
    # Only the first 1 KiB is read: the export stops on a closed pipe, which is not an error here.
    got=$({ xrbd export --no-progress "$pool/$img" - 2>/dev/null || true; } | head -c 1024 |
      tail -c 512 | tr -d '\0')
    if [ "$got" != "DRPAIR vm=$name gen=$gen" ]; then
      log "FAIL $pool/$img at $ceph_site holds '${got:-nothing}', expected 'DRPAIR vm=$name gen=$gen'"
      bad=1
    fi
  done
  [ $bad = 0 ] && log "every APP1 root image at $ceph_site holds marker gen=$gen"
  return $bad
}

# --- check ---------------------------------------------------------------------------------------

# row: one line of the checks' table (header: row VM STATE MARKER NIC ON PORTGROUP VLAN OVSTAG IP
# RESULT).
row() { printf '%-10s %-8s %-28s %-18s %-12s %-10s %-5s %-6s %-14s %s\n' "$@"; }

# The host bridge of libvirt network $1 at the site (empty if none).
switch_bridge() {
  vsh net-dumpxml "$1" 2>/dev/null | xmllint --xpath 'string(//bridge/@name)' - 2>/dev/null || true
}

# check_nic NAME STATE MARKER XML MAC PORTGROUP [IP]: the NIC of MAC in the VM's live XML is where
# the site's role places APP1's PORTGROUP: that switch and portgroup with its VLAN in libvirt, and
# in OVS its vnet port on that switch's bridge with the VLAN as tag (a drill's: on the drill
# network, portgroup and VLAN as placed, the port on the drill bridge); the VM's drpair metadata
# declares IP as placed there (the DR site's subnet, when the policy translates it). An empty
# PORTGROUP: untagged on the site bridge (an address-only NIC at production). Prints the NIC's
# table row; 1 (each failure logged) if it does not hold.
check_nic() {
  local name=$1 st=$2 marker=$3 xml=$4 mac=$5 want=$6 ip=${7:-} at want_sw want_pg want_vlan
  local want_br want_ip type net have_pg vlan dev tag on have_ip res=ok
  local q="//devices/interface[mac/@address='$mac']"
  type=$(xpath "$xml" "$q/@type")
  net=$(xpath "$xml" "$q/source/@network")
  have_pg=$(xpath "$xml" "$q/source/@portgroup")
  vlan=$(xpath "$xml" "$q/vlan/tag/@id")
  dev=$(xpath "$xml" "$q/target/@dev")
  have_ip=$(xpath "$xml" "//metadata/*[local-name()='app']/*[local-name()='nic'][@mac='$mac']/@ip")
  tag=- on=-
  if [ -n "$dev" ]; then
    tag=$(ovs-vsctl --timeout=10 --db="$DRPAIR_OVS_DB" get port "$dev" tag 2>/dev/null || echo '?')
    on=$(ovs-vsctl --timeout=10 --db="$DRPAIR_OVS_DB" port-to-br "$dev" 2>/dev/null || echo '?')
  fi
  want_ip=$ip
  if [ -z "$type" ]; then
    res=FAIL
    log "FAIL $name: no NIC with MAC $mac"
  elif [ -z "$want" ]; then
    if [ -n "$net" ] || [ -n "$vlan" ] || [ "$tag" != "[]" ] || [ "$on" != "$DRPAIR_OVS_BRIDGE" ]; then
      res=FAIL
      log "FAIL $name: address-only NIC $mac should be untagged on bridge $DRPAIR_OVS_BRIDGE (network '${net}', VLAN '${vlan}', OVS port on '$on' with tag '$tag')"
    fi
    have_pg=${have_pg:-"(bridge)"}
  else
    at=$(place "$want") || die "no APP1 portgroup '$want'"
    want_sw=$(vm_field "$at" 0) want_pg=$(vm_field "$at" 1) want_vlan=$(vm_field "$at" 2)
    [ -z "$ip" ] || want_ip=$(placed_ip "$want" "$ip")
    if [ -n "${drill_bridge:-}" ]; then
      want_sw=$drill_network want_br=$drill_bridge
    else
      want_br=$(switch_bridge "$want_sw")
    fi
    if [ "$net" != "$want_sw" ] || [ "$have_pg" != "$want_pg" ]; then
      res=FAIL
      log "FAIL $name: NIC $mac is on network '${net}' portgroup '${have_pg}', expected '$want_sw' portgroup '$want_pg'"
    fi
    if [ "$vlan" != "$want_vlan" ]; then
      res=FAIL
      log "FAIL $name: NIC $mac has VLAN '${vlan}' in libvirt's live XML, expected $want_vlan"
    fi
    if [ "$tag" != "$want_vlan" ] || [ -z "$want_br" ] || [ "$on" != "$want_br" ]; then
      res=FAIL
      log "FAIL $name: NIC $mac (port '${dev}') is on OVS bridge '$on' with tag '$tag', expected bridge '${want_br:-(network $want_sw has none)}' (network $want_sw) and tag $want_vlan"
    fi
  fi
  if [ -n "$ip" ] && [ "$have_ip" != "$want_ip" ]; then
    res=FAIL
    log "FAIL $name: NIC $mac has address '${have_ip}' in its drpair metadata, expected '${want_ip}'"
  fi
  row "$name" "$st" "$marker" "$mac" "$([ -n "$net" ] && echo "net:$net" || echo "${type:--}")" \
    "${have_pg:--}" "${vlan:--}" "$tag" "${have_ip:--}" "$res"
  [ "$res" = ok ]
}

# cmd_check GEN [SUFFIX]: SUFFIX "-drill" checks the drill's domains (check-drill sets the switch
# and the bridge their NICs must be on).
cmd_check() {
  local gen=${1:-} suffix=${2:-} v name dom bad=0 xml st logp marker restored
  case "$gen" in '' | *[!0-9]*) die "check needs a generation number, got '$gen'" ;; esac
  # A guest started a moment ago (a restore's last boot group) may not have printed its marker
  # yet: a running VM gets until this deadline to show one. A marker, once shown, is final.
  local deadline=$(($(date +%s) + boot_timeout))
  fail() { log "FAIL $1"; bad=1; }
  row VM STATE MARKER NIC ON PORTGROUP VLAN OVSTAG IP RESULT
  for v in "${vms[@]}"; do
    name=$(vm_field "$v" 0)
    dom=$name$suffix
    xml=$work/$dom.live.xml
    st=$(dom_state "$dom")
    [ -n "$st" ] || st=absent
    [ "$st" = running ] || fail "$dom: state '$st', not running"
    marker=-
    restored=
    if vsh dumpxml "$dom" >"$xml" 2>/dev/null; then
      restored=$(xpath "$xml" "//metadata/*[local-name()='app']/@source-site")
      logp=$(serial_log "$xml")
      if [ -z "$logp" ]; then
        fail "$dom: no serial log in its live XML (neither <serial type='file'> nor a serial <log file=...>): cannot read its marker"
      elif [ ! -f "$logp" ]; then
        fail "$dom: serial log $logp does not exist"
      else
        while [ "$st" = running ] && ! has_marker "$name" "$logp" && [ "$(date +%s)" -lt $deadline ]; do
          sleep 0.2
        done
        marker=$(last_marker "$logp")
        [ "$marker" = "DRPAIR vm=$name gen=$gen" ] ||
          fail "$dom: serial log $logp shows '${marker:-no marker}', expected 'DRPAIR vm=$name gen=$gen'"
        marker=${marker#"DRPAIR vm=$name "}
      fi
    else
      : >"$xml"
    fi
    local nic mac pg ip
    for nic in $(vm_field "$v" 4 | tr ',' ' '); do
      IFS=/ read -r mac pg ip <<<"$nic"
      # An address-only NIC at production sits on the site bridge, untagged; after a restore (or
      # with a portgroup) on the portgroup of its address.
      if [ -z "$pg" ] && [ -n "$restored" ]; then pg=$(pg_of_ip "$ip"); fi
      check_nic "$dom" "$st" "$marker" "$xml" "$mac" "$pg" "$ip" || bad=1
    done
  done
  if [ $bad = 0 ]; then
    log "APP1${suffix:+ drill} OK at '$site' ($role site): 4 VMs running, marker gen=$gen, NICs on their portgroups/VLANs${suffix:+ of the drill network $drill_network}"
  fi
  return $bad
}

# --- destroy -------------------------------------------------------------------------------------

cmd_destroy() {
  local v name img p
  for v in "${vms[@]}"; do
    name=$(vm_field "$v" 0)
    if vsh dominfo "$name" >/dev/null 2>&1; then
      [ "$(dom_state "$name")" = "shut off" ] || vsh destroy "$name" >/dev/null 2>&1 || true
      vsh undefine "$name" >/dev/null || die "cannot undefine domain $name"
    fi
    rm -f "$work/serial/$name.log" "$work/$name.xml" "$work/$name.live.xml"
  done
  for v in "${vms[@]}"; do
    for img in $(vm_field "$v" 3); do
      image_exists "$img" || continue
      # A mirrored image (primary or not) must leave mirroring before it can be removed.
      xrbd mirror image disable --force "$pool/$img" >/dev/null 2>&1 || true
      xrbd snap purge "$pool/$img" >/dev/null 2>&1 || true
      xrbd rm --no-progress "$pool/$img" >/dev/null 2>&1 ||
        die "cannot remove image $pool/$img at $ceph_site (still open by a client? see 'rbd status $pool/$img')"
    done
  done
  net_xml
  for p in "${portgroups[@]}"; do
    p=${p%%|*}
    [ -n "$(xpath "$work/net.xml" "//portgroup[@name='$p']/@name")" ] || continue
    vsh net-update "$switch" delete portgroup "<portgroup name='$p'/>" --live --config >/dev/null ||
      die "cannot remove portgroup $p from network $switch"
  done
  if vsh secret-dumpxml "$secret_uuid" >/dev/null 2>&1; then
    vsh secret-undefine "$secret_uuid" >/dev/null || die "cannot undefine secret $secret_uuid"
  fi
  log "APP1 destroyed (domains, images at $ceph_site, portgroups on $switch, secret)"
}

# --- main ----------------------------------------------------------------------------------------

verb=${1:-}
shift || true
case "$verb" in
  topology)
    for v in "${vms[@]}"; do echo "$v"; done
    ;;
  site-setup) load_site "${1:-}"; cmd_site_setup "${2:-}" "${3:-}" ;;
  policy) load_site "${1:-}"; cmd_policy ;;
  create) load_site "${1:-}"; cmd_create ;;
  write-marker) load_site "${1:-}"; cmd_write_marker "${2:-}" ;;
  read-marker) load_site "${1:-}"; cmd_read_marker "${2:-}" ;;
  add-disk) load_site "${1:-}"; cmd_add_disk "${2:-}" "${3:-}" ;;
  add-nic) load_site "${1:-}"; cmd_add_nic "${2:-}" "${3:-}" "${4:-}" "${5:-}" ;;
  check-nic) load_site "${1:-}"; cmd_check_nic "${2:-}" "${3:-}" "${4:-}" "${5:-}" ;;
  add-vm) load_site "${1:-}"; shift; cmd_add_vm "$@" ;;
  check-vm) load_site "${1:-}"; shift; cmd_check_vm "$@" ;;
  check) load_site "${1:-}"; cmd_check "${2:-}" ;;
  check-drill)
    load_site "${1:-}"
    [ -n "${3:-}" ] && [ -n "${4:-}" ] || die "check-drill needs SITE GEN NETWORK BRIDGE"
    drill_network=$3 drill_bridge=$4
    cmd_check "${2:-}" -drill ;;
  destroy) load_site "${1:-}"; cmd_destroy ;;
  *) usage ;;
esac
