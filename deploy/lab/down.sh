#!/usr/bin/env bash
# Removes everything the lab made: both agents, the VMs, networks and daemons of both libvirtd
# sites, the Ceph pair, and the lab's state folder. Safe to run twice, and after a cut-off up.sh.
set -euo pipefail
# shellcheck source=deploy/lab/lab.sh
. "$(dirname "$0")/lab.sh"
stop_pidfile "$lab_dir/production/agent.pid"
stop_pidfile "$lab_dir/dr/agent.pid"
for site in "$prod_site" "$dr_site"; do
  "$lab_root/deploy/libvirtd.sh" down "$site" || true
done
"$lab_root/deploy/ceph-pair.sh" down || true
rm -rf "$lab_dir"
echo "lab: removed $lab_dir"
