#!/usr/bin/env bash
# End to end, the operator's path without a disaster: both agents as separate processes on
# loopback with real mutual TLS, the real Ceph pair and a real libvirtd per site, driven through
# the lab's scripts (deploy/lab) with a state folder and ports of their own (set by ctest, as for
# agents_e2e.sh). What it proves, in order:
#   1. unprotect: APP1, protected by up.sh (mode first), is unprotected: the DR agent no longer
#      knows it, no APP1 image mirrors at site-a, its VMs keep running; then it is protected again;
#   2. drift: a disk is added to a running APP1 VM at site-a; the production agent notices at its
#      next capture and re-protects on its own with generation 2, pairing the new disk;
#   3. planned failover (CLI): the production agent shuts APP1's VMs down (ACPI; the lab's guests
#      ignore it and are powered off after failover.shutdownTimeoutSeconds) and demotes its images;
#      the DR agent promotes once each demotion arrived and restores: APP1 runs whole at site-b
#      (marker generation 2, the added disk attached), site-a's VMs are shut off and its images
#      non-primary; a disaster failover of the failed-over app is refused.
set -euo pipefail
# shellcheck source=tests/e2e/e2e_lib.sh
. "$(dirname "$0")/e2e_lib.sh"
dr_app() { curl_ops "$DRPAIR_DR_URL/v1/apps/app1"; }
# mirroring SITE IMAGE: "disabled", or "enabled primary" / "enabled non-primary" (rbd info).
mirroring() {
  rbd -c "$DRPAIR_CEPH_DIR/$1/ceph.conf" info "rbd/$2" --format json | python3 -c '
import json, sys
m = json.load(sys.stdin).get("mirroring") or {}
state = m.get("state", "disabled")
print(state if state != "enabled" else "enabled " + ("primary" if m.get("primary") else "non-primary"))'
}
# wait_for WHAT SECONDS COMMAND...: polls COMMAND every second until it succeeds.
wait_for() {
  local what=$1 limit=$2
  shift 2
  for _ in $(seq "$limit"); do
    "$@" && return 0
    sleep 1
  done
  failed "$what (after ${limit}s)"
}
images=(app1-web1-root app1-web2-root app1-app1-root app1-db1-root app1-db1-data)

step "1. unprotect, then protect again"
drpair unprotect app1 --wait || failed "unprotect"
code=$(curl_ops -o /dev/null -w '%{http_code}' "$DRPAIR_DR_URL/v1/apps/app1")
[ "$code" = 404 ] || failed "the DR agent still knows app1 after unprotect (HTTP $code)"
for image in "${images[@]}"; do
  [ "$(mirroring site-a "$image")" = disabled ] || failed "rbd/$image still mirrors at site-a"
done
state=$(curl_ops "$DRPAIR_PRODUCTION_URL/v1/apps/app1" | json_get 'd["state"]')
[ "$state" = unprotected ] || failed "app1 is '$state' at site-a after unprotect"
"$root/deploy/lab/app1.sh" check "$prod_site" 1 >/dev/null || failed "APP1 stopped running at site-a"
echo "ok: unprotected; every image unmirrored; APP1 still runs at site-a"
drpair protect app1 --mode first --wait || failed "protect again after unprotect"
echo "ok: protected again"

step "2. drift: a disk added at site-a is protected on its own (generation 2)"
"$root/deploy/lab/app1.sh" add-disk "$prod_site" app1-app1 app1-app1-extra
grown() {
  dr_app | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if d["generation"] == 2 and d["state"] == "protected" and len(d["images"]) == 6 else 1)'
}
wait_for "app1 was not re-protected with generation 2 and 6 images" 240 grown
grep -q "app app1 drifted: protecting generation 2" "$lab_dir/production/agent.log" ||
  failed "the production agent did not log the drift"
[ "$(mirroring site-a app1-app1-extra)" = "enabled primary" ] || failed "the new disk does not mirror"
echo "ok: generation 2 protected, the new disk paired"

step "3. planned failover"
drpair failover app1 --type planned --reason "e2e planned migration" --wait ||
  failed "planned failover"
"$root/deploy/lab/app1.sh" check "$dr_site" 2 || failed "APP1 is not whole at site-b"
virsh -q -c "$DRPAIR_DR_LIBVIRT_URI" domblklist app1-app1 | grep -q "rbd/app1-app1-extra" ||
  failed "the restored app1-app1 has no disk rbd/app1-app1-extra"
grep -q "demote app1: asked 4 vm(s) to shut down" "$lab_dir/production/agent.log" ||
  failed "the production agent did not ask APP1's VMs to shut down"
for vm in app1-web1 app1-web2 app1-app1 app1-db1; do
  st=$(virsh -q -c "$DRPAIR_PRODUCTION_LIBVIRT_URI" domstate "$vm" | head -1)
  [ "$st" = "shut off" ] || failed "$vm is '$st' at site-a after a planned failover"
done
for image in "${images[@]}" app1-app1-extra; do
  [ "$(mirroring site-a "$image")" = "enabled non-primary" ] || failed "rbd/$image is not demoted at site-a"
  [ "$(mirroring site-b "$image")" = "enabled primary" ] || failed "rbd/$image is not primary at site-b"
done
echo "ok: APP1 runs at site-b; site-a shut off and demoted"
if drpair failover app1 --type disaster --reason "again" 2>/dev/null; then
  failed "a failover of the failed-over app was accepted"
fi
echo "ok: a second failover is refused"
echo
echo "e2e: all checks passed"
