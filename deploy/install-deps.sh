#!/usr/bin/env bash
# Installs every Debian 12 package drpair needs to build, test and run its lab.
# Idempotent: packages already installed are skipped, `apt-get update` runs at most once per boot.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ clang libclang-rt-14-dev pkg-config
  nlohmann-json3-dev libboost1.81-dev catch2 libcli11-dev libbenchmark-dev
  libvirt-dev libxml2-dev librbd-dev librados-dev libsqlite3-dev libssl-dev openssl
  # schema checks (run with /usr/bin/python3, see README)
  python3-jsonschema
  # a real libvirtd without systemd (never libvirt-daemon-system: it needs systemd)
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils
  qemu-block-extra iptables dnsmasq-base tini util-linux
  # the two-cluster Ceph pair
  ceph-mon ceph-osd ceph-mgr rbd-mirror ceph-common
  # the sites' virtual switches (userspace datapath) and the lab's boot sectors
  openvswitch-switch nasm curl libxml2-utils uuid-runtime
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
stamp=/tmp/drpair-apt-updated
if [ ! -e "$stamp" ] || [ "$(stat -c %Y "$stamp")" -lt "$(date -d "$(uptime -s)" +%s)" ]; then
  apt-get update -q
  touch "$stamp"
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
