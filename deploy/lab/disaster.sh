#!/usr/bin/env bash
# Takes the lab's production site (site-a) down the way a disaster would: its agent is killed,
# its VMs are powered off and its libvirtd stopped (a lost host), its Ceph daemons killed. The DR
# agent then cannot reach it, so a disaster failover passes fencing. Nothing is cleaned up:
# deploy/lab/site-returns.sh brings the site back with its data, deploy/lab/down.sh removes the lab.
set -euo pipefail
# shellcheck source=deploy/lab/lab.sh
. "$(dirname "$0")/lab.sh"
[ -d "$lab_dir" ] || lab_die "no lab at $lab_dir (run deploy/lab/up.sh first)"
say "disaster at site-a: agent, VMs, libvirtd and Ceph daemons go down"
if [ -f "$lab_dir/production/agent.pid" ]; then
  kill -KILL "$(cat "$lab_dir/production/agent.pid")" 2>/dev/null || true
  rm -f "$lab_dir/production/agent.pid"
fi
# shellcheck disable=SC1090
. "$DRPAIR_LIBVIRTD_DIR/$prod_site/env"
for vm in $(virsh -c "$DRPAIR_LIBVIRT_URI" list --name); do
  virsh -c "$DRPAIR_LIBVIRT_URI" destroy "$vm" >/dev/null && echo "  powered off $vm"
done
"$lab_root/deploy/libvirtd.sh" stop "$prod_site" 2>/dev/null
"$lab_root/deploy/ceph-pair.sh" stop-site site-a --kill
echo "  site-a is down"
