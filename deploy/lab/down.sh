#!/usr/bin/env bash
# Removes everything the lab made: both agents, the VMs, networks and daemons of both libvirtd
# sites, the Ceph pair, and the lab's state folder. Safe to run twice, and after a cut-off up.sh.
set -euo pipefail
# shellcheck source=deploy/lab/lab.sh
. "$(dirname "$0")/lab.sh"
stop_pidfile "$lab_dir/production/agent.pid"
stop_pidfile "$lab_dir/dr/agent.pid"
# site-b's own bridges (up.sh) go while Open vSwitch still runs: the last site's down stops it.
if [ -f "$lab_dir/lab.env" ] && [ -f "$DRPAIR_LIBVIRTD_DIR/$dr_site/env" ]; then
  # shellcheck disable=SC1090
  ovs_db=$(. "$DRPAIR_LIBVIRTD_DIR/$dr_site/env"; echo "$DRPAIR_OVS_DB")
  for var in DRPAIR_DRILL_BRIDGE DRPAIR_SECOND_BRIDGE; do
    br=$(sed -n "s/^$var=//p" "$lab_dir/lab.env")
    if [ -n "$br" ] && [ -n "$ovs_db" ]; then
      ovs-vsctl --db="$ovs_db" --timeout=10 --if-exists del-br "$br" || true
    fi
  done
fi
for site in "$prod_site" "$dr_site"; do
  "$lab_root/deploy/libvirtd.sh" down "$site" || true
done
"$lab_root/deploy/ceph-pair.sh" down || true
rm -rf "$lab_dir"
echo "lab: removed $lab_dir"
