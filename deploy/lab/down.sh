#!/usr/bin/env bash
# Removes everything the lab made: both agents, the VMs, networks and daemons of both libvirtd
# sites, the Ceph pair, and the lab's state folder. Safe to run twice, and after a cut-off up.sh.
set -euo pipefail
# shellcheck source=deploy/lab/lab.sh
. "$(dirname "$0")/lab.sh"
stop_pidfile "$lab_dir/production/agent.pid"
stop_pidfile "$lab_dir/dr/agent.pid"
# The drill bridge (up.sh) goes while Open vSwitch still runs: the last site's down stops it.
if [ -f "$lab_dir/lab.env" ] && [ -f "$DRPAIR_LIBVIRTD_DIR/$dr_site/env" ]; then
  drill_bridge=$(sed -n 's/^DRPAIR_DRILL_BRIDGE=//p' "$lab_dir/lab.env")
  # shellcheck disable=SC1090
  ovs_db=$(. "$DRPAIR_LIBVIRTD_DIR/$dr_site/env"; echo "$DRPAIR_OVS_DB")
  if [ -n "$drill_bridge" ] && [ -n "$ovs_db" ]; then
    ovs-vsctl --db="$ovs_db" --timeout=10 --if-exists del-br "$drill_bridge" || true
  fi
fi
for site in "$prod_site" "$dr_site"; do
  "$lab_root/deploy/libvirtd.sh" down "$site" || true
done
"$lab_root/deploy/ceph-pair.sh" down || true
rm -rf "$lab_dir"
echo "lab: removed $lab_dir"
