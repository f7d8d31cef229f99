#!/usr/bin/env bash
# System test of deploy/lab/app1.sh against a real libvirtd + OVS site (ctest fixture libvirtd)
# and a real Ceph site (ctest fixture ceph_pair): site-setup, create (4 TCG guests booting from
# RBD and printing their marker), check, write-marker + reboot, check's failure paths, idempotent
# create, destroy. Leaves the site as it found it (destroy also runs on failure).
#
# Usage: app1_lab_test.sh SITE
# Environment: DRPAIR_LIBVIRTD_DIR, DRPAIR_CEPH_DIR, DRPAIR_CEPH_SITE (as for app1.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
app1=$root/deploy/lab/app1.sh
site=${1:?usage: app1_lab_test.sh SITE}
state=${DRPAIR_LIBVIRTD_DIR:-/tmp/drpair-libvirtd}/$site
# shellcheck disable=SC1091
. "$state/env"
uri=$DRPAIR_LIBVIRT_URI
vms=(app1-web1 app1-web2 app1-app1 app1-db1)
ceph_conf=${DRPAIR_CEPH_DIR:-/tmp/drpair-ceph}/${DRPAIR_CEPH_SITE:-site-a}/ceph.conf

step() { echo "== $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

cleanup() {
  local rc=$?
  if [ $rc != 0 ]; then
    echo "-- cleaning up after a failure (rc=$rc)" >&2
    for v in "${vms[@]}"; do
      echo "-- serial log of $v:" >&2
      cat -A "$state/app1/serial/$v.log" >&2 2>/dev/null || true
    done
  fi
  "$app1" destroy "$site" >/dev/null 2>&1 || echo "-- destroy failed during cleanup" >&2
  exit $rc
}
trap cleanup EXIT

step "topology matches tests/fixtures/descriptions/app1.first.json"
"$app1" topology | /usr/bin/python3 -c '
import json, sys
first = json.load(open(sys.argv[1]))
nets = {n["id"]: n["portgroup"] for n in first["networks"]}
want = []
for vm in first["vms"]:
    nics = ",".join(n["mac"] + "/" + (nets[n["network"]] if "network" in n else "") + "/" + n["ip"]
                    for n in vm["nics"])
    want.append("|".join([vm["name"], vm["id"], str(vm["bootOrder"]),
                          " ".join(d["image"] for d in vm["disks"]), nics]))
have = [l.strip() for l in sys.stdin if l.strip()]
if sorted(have) != sorted(want):
    sys.exit("app1.sh topology differs from the fixture:\n  have %s\n  want %s" % (have, want))
' "$root/tests/fixtures/descriptions/app1.first.json"

step "site-setup"
cfg=$("$app1" site-setup "$site")
[ -f "$cfg" ] || die "site-setup printed '$cfg', not a file"
/usr/bin/python3 -c '
import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))
' "$cfg" "$root/schemas/site_config.v1.schema.json" || die "$cfg does not match the SiteConfig schema"
"$app1" site-setup "$site" >/dev/null || die "site-setup is not idempotent"
virsh -q -c "$uri" secret-list | grep -q "ceph client.libvirt" || die "no ceph secret defined"

step "create"
t0=$(now_ms)
"$app1" create "$site"
echo "create took $(($(now_ms) - t0)) ms"
"$app1" check "$site" 1 || die "check 1 after create"

step "capture sees APP1 (if the drpair CLI is built)"
drpair=${DRPAIR_BIN:-$root/build/bin/drpair}
if [ -x "$drpair" ]; then
  "$drpair" site capture --libvirt "$uri" --app app1 --config "$cfg" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
names = sorted(v["name"] for v in d["vms"])
assert names == ["app1-app1", "app1-db1", "app1-web1", "app1-web2"], names
pgs = sorted((n["portgroup"], n["vlan"]) for n in d["networks"])
assert pgs == [("app1-app", 102), ("app1-db", 103), ("app1-web", 101)], pgs
addr_only = sum(1 for v in d["vms"] for n in v["nics"] if "network" not in n)
assert addr_only == 3, addr_only
print("capture: 4 VMs, 3 portgroups, 3 address-only NICs")
'
else
  echo "skipped: no $drpair"
fi

step "write-marker 2: running guests keep gen=1 until they reboot"
"$app1" write-marker "$site" 2
t0=$(now_ms)
if "$app1" check "$site" 2 >/dev/null 2>&1; then die "check 2 passed before any reboot"; fi
waited=$(($(now_ms) - t0))
# A wrong marker is final: check must not wait for the boot timeout.
[ $waited -lt 30000 ] || die "check took ${waited} ms to reject running guests' gen=1 markers"
t0=$(now_ms)
# In reverse, as a restore's boot order does (web last): check reads app1-web1's serial log first,
# right after its start, before the guest has printed its marker. check must wait for a booting
# guest (CI once ran check straight after a restore and read an empty serial log).
for ((i = ${#vms[@]} - 1; i >= 0; i--)); do
  virsh -q -c "$uri" destroy "${vms[i]}" >/dev/null
  virsh -q -c "$uri" start "${vms[i]}" >/dev/null
done
"$app1" check "$site" 2 || die "no gen=2 after reboot"
echo "reboot of 4 VMs to gen=2 markers: $(($(now_ms) - t0)) ms"

step "check names what is wrong"
dev=$(virsh -q -c "$uri" domiflist app1-db1 | awk '{print $1; exit}')
ovs-vsctl --db="$DRPAIR_OVS_DB" set port "$dev" tag=999
out=$("$app1" check "$site" 2 2>&1) && die "check passed with a wrong OVS tag"
grep -qF "app1-db1: NIC 52:54:00:30:00:01 (port '$dev') is on OVS bridge '$DRPAIR_OVS_BRIDGE' with tag '999', expected bridge '$DRPAIR_OVS_BRIDGE' (network $DRPAIR_SWITCH) and tag 103" <<<"$out" ||
  die "check did not name the wrong OVS tag: $out"
ovs-vsctl --db="$DRPAIR_OVS_DB" set port "$dev" tag=103
virsh -q -c "$uri" destroy app1-web2 >/dev/null
out=$("$app1" check "$site" 2 2>&1) && die "check passed with a VM shut off"
grep -q "app1-web2: state 'shut off', not running" <<<"$out" || die "check did not name the stopped VM: $out"
if "$app1" check "$site" x >/dev/null 2>&1; then die "check accepted a bad generation"; fi

step "create again (idempotent): restarts what is not running, keeps the data"
"$app1" create "$site"
"$app1" check "$site" 2

step "destroy"
"$app1" destroy "$site"
for v in "${vms[@]}"; do
  if virsh -q -c "$uri" dominfo "$v" >/dev/null 2>&1; then die "domain $v still defined"; fi
done
left=$(rbd -c "$ceph_conf" ls rbd | grep '^app1-' || true)
[ -z "$left" ] || die "images left behind: $left"
if virsh -q -c "$uri" net-dumpxml "$DRPAIR_SWITCH" | grep -q "portgroup name='app1-"; then
  die "portgroups left on $DRPAIR_SWITCH"
fi
if virsh -q -c "$uri" secret-list | grep -q "ceph client.libvirt"; then die "secret left behind"; fi
"$app1" destroy "$site" >/dev/null || die "destroy is not idempotent"
echo "PASS"
