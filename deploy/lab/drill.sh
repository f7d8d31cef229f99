#!/usr/bin/env bash
# A drill of APP1 in the lab: deploy/lab/up.sh --drill (and --round-trip) runs it after protection,
# before any disaster; it also runs alone on a lab left by `up.sh --no-failover`.
#
#   deploy/lab/drill.sh GEN      GEN: the marker generation APP1's replicas hold now (up.sh: 1)
#
#   1. site-b as virsh and Ceph's rbd list it: domains, networks, images;
#   2. `drpair drill app1 --wait`; the proof at site-b (app1.sh check-drill): every APP1 VM runs as
#      NAME-drill from the copies of its replicas, its console showing marker gen=GEN, every NIC on
#      the drill network's portgroup with its VLAN, its OVS port on the drill bridge (never on the
#      switch a failover uses); APP1 still runs at site-a, its images primary there;
#   3. during the drill, marker gen=GEN+1 written at site-a reaches site-b's replicas (read with
#      `rbd`) within twice the snapshot interval, while the drill's copies keep gen=GEN;
#   4. `drpair drill app1 --cleanup --wait`; site-b's domains, networks and images are those of 1.
# Prints the report lines (the drill's recovery point, its time to every VM running, the marker's
# arrival, the cleanup); exits 1 naming the first check that failed.
set -euo pipefail
# shellcheck source=deploy/lab/lab.sh
. "$(dirname "$0")/lab.sh"
gen=${1:-}
case "$gen" in '' | *[!0-9]*) lab_die "usage: $0 GEN (the marker generation the replicas hold)" ;; esac
load_lab_env
xrbd() { timeout 60 rbd -c "$DRPAIR_DR_CEPH_CONF" "$@"; }
[ "$(state_at "$DRPAIR_DR_URL")" = protected ] || lab_die "APP1 is not protected at site-b: a drill needs that"
[ -n "${DRPAIR_DRILL_NETWORK:-}" ] && [ -n "${DRPAIR_DRILL_BRIDGE:-}" ] ||
  lab_die "lab.env names no drill network and bridge (DRPAIR_DRILL_NETWORK, DRPAIR_DRILL_BRIDGE)"

# site-b as an operator's tools list it.
inventory() {
  echo "domains:"
  virsh -q -c "$DRPAIR_DR_LIBVIRT_URI" list --all --name | sed '/^$/d' | sort
  echo "networks:"
  virsh -q -c "$DRPAIR_DR_LIBVIRT_URI" net-list --all --name | sed '/^$/d' | sort
  echo "images:"
  xrbd ls rbd | sort
}
# copy_marker IMAGE: the marker in sector 1 of IMAGE at site-b.
copy_marker() {
  { xrbd export --no-progress "rbd/$1" - 2>/dev/null || true; } | head -c 1024 | tail -c 512 | tr -d '\0'
}

say "drill 1: site-b before the drill"
inventory >"$lab_dir/drill-before.txt"
cat "$lab_dir/drill-before.txt"

say "drill 2: drpair drill app1 --wait"
asked=$(now)
drpair drill app1 --reason "lab drill" --wait
ran=$(now)
job=$(drpair jobs --app app1 --json | $py -c '
import json, sys
jobs = [j for j in json.load(sys.stdin)["jobs"] if j["type"] == "drill"]
print(max(j["id"] for j in jobs))')
drpair jobs "$job" --json >"$lab_dir/drill-job.json"
"$lab_root/deploy/lab/app1.sh" check-drill "$dr_site" "$gen" "$DRPAIR_DRILL_NETWORK" "$DRPAIR_DRILL_BRIDGE" ||
  lab_die "APP1's drill at site-b does not hold (above)"
"$lab_root/deploy/lab/app1.sh" check "$prod_site" "$gen" ||
  lab_die "APP1 does not run whole at site-a during the drill (above)"
[ "$(state_at "$DRPAIR_PRODUCTION_URL")" = protected ] || lab_die "APP1 is not protected at site-a during the drill"
drpair status app1 --url "$DRPAIR_DR_URL" | sed -n '/^drill/,/^$/p'

say "drill 3: marker gen=$((gen + 1)) written at site-a reaches site-b's replicas during the drill"
"$lab_root/deploy/lab/app1.sh" write-marker "$prod_site" $((gen + 1))
written=$(now)
arrived=
for _ in $(seq $((interval * 4))); do
  if "$lab_root/deploy/lab/app1.sh" read-marker "$dr_site" $((gen + 1)) 2>/dev/null; then
    arrived=$(now)
    break
  fi
  [ "$(secs "$written" "$(now)" | cut -d. -f1)" -lt $((interval * 2)) ] || break
  sleep 0.5
done
[ -n "$arrived" ] || {
  "$lab_root/deploy/lab/app1.sh" read-marker "$dr_site" $((gen + 1)) || true
  lab_die "marker gen=$((gen + 1)) has not reached site-b's replicas within $((interval * 2)) s (twice the snapshot interval)"
}
echo "arrived at site-b's replicas $(secs "$written" "$arrived") s after it was written"
for img in app1-web1-root app1-web2-root app1-app1-root app1-db1-root; do
  got=$(copy_marker "$img-drill")
  case "$got" in
    "DRPAIR vm="*" gen=$gen") ;;
    *) lab_die "the drill's copy rbd/$img-drill holds '$got', expected its marker gen=$gen: a copy changed with the replica" ;;
  esac
done
echo "the drill's copies still hold gen=$gen"

say "drill 4: drpair drill app1 --cleanup --wait; site-b as before"
cleanup_start=$(now)
drpair drill app1 --cleanup --wait
cleaned=$(now)
inventory >"$lab_dir/drill-after.txt"
if ! diff -u "$lab_dir/drill-before.txt" "$lab_dir/drill-after.txt"; then
  lab_die "site-b after the drill's cleanup differs from before it (diff above)"
fi
echo "site-b's domains, networks and images are what they were before the drill"

say "drill report"
$py - "$lab_dir/drill-job.json" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))
report = next(s["detail"] for s in job["steps"] if s["name"] == "report")
point = report["recoveryPoint"]
phases = report["phases"]
print(f"  recovery point     {point['at']} (RPO {point['rpoSeconds']:.1f} s, {len(point['images'])} images)")
print(f"  copies             {phases['copyMs'] / 1000:7.1f} s  ({sum(i['bytes'] for i in point['images']) // 1024} KiB written,"
      f" {max(i['attempts'] for i in point['images'])} attempt(s) at most)")
print(f"  drill restore      {phases['restoreMs'] / 1000:7.1f} s")
print(f"  to all VMs running {report['toAllRunningMs'] / 1000:7.1f} s (agent's clock, from the request)")
PY
echo "  drill, request to --wait's end: $(secs "$asked" "$ran") s"
echo "  marker at site-b's replicas during the drill: $(secs "$written" "$arrived") s after written"
echo "  cleanup: $(secs "$cleanup_start" "$cleaned") s"
