#!/usr/bin/env bash
# The way home, in the lab, after a disaster failover of APP1 to site-b (deploy/lab/up.sh runs it
# with --round-trip; it also runs alone on a lab in that state):
#   1. site-a returns (deploy/lab/site-returns.sh) while a poller reads site-a with Ceph's `rbd`
#      and virsh every 0.5 s: within 60 s of its agent starting every APP1 image there must be
#      non-primary, no APP1 VM may run there at any sample, and site-a may take no new primary
#      mirror snapshot (its demotions aside);
#   2. `drpair reprotect app1 --wait`; the reverse lag (site-b -> site-a) must stay under twice the
#      snapshot interval; marker generation 3 written at site-b must be read back from site-a; the
#      app changes at site-b: a disk added to app1-app1, a NIC to app1-web1 (portgroup app1-web),
#      a VM app1-extra to the app (its own root image with marker 3, a NIC on app1-db); the DR
#      agent's own reprotects (drift) must pair both new images;
#   3. `drpair failback app1 --wait`; APP1 whole at site-a with generation 3 (every VM running,
#      every NIC on its portgroup and VLAN), and what was added at site-b there too: the disk
#      attached to app1-app1, the NIC of app1-web1 on app1-web, app1-extra running from its
#      replicated image (marker 3) with its NIC on app1-db; no APP1 domain at site-b, every image
#      primary only at site-a; a second failback is refused;
#      site-a protects the changed app at once: site-b holds its next generation;
#   4. a second disaster and `drpair failover app1 --type disaster --wait`: APP1 whole at site-b,
#      generation 3, with the VM, NIC and disk added there before.
# Prints the report lines (fence, reprotect, reverse lag, failback); exits 1 naming the first
# check that failed.
set -euo pipefail
# shellcheck source=deploy/lab/lab.sh
. "$(dirname "$0")/lab.sh"
load_lab_env
[ "$(state_at "$DRPAIR_DR_URL")" = failed_over ] ||
  lab_die "APP1 is not failed over to site-b: the round trip starts after a disaster failover"

say "round trip 1: site-a returns; site-a read with rbd and virsh every 0.5 s"
samples=$lab_dir/return-samples.jsonl
: >"$samples"
touch "$samples.on"
$py - "$DRPAIR_PRODUCTION_CEPH_CONF" "$DRPAIR_PRODUCTION_LIBVIRT_URI" "$samples" <<'PY' &
# One JSON line per sample: each APP1 image's role and primary mirror snapshots at site-a, and the
# APP1 VMs running there (libvirtd down: none). Runs while OUT.on exists.
import json, os, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
conf, uri, out = sys.argv[1:]
images = ["app1-web1-root", "app1-web2-root", "app1-app1-root", "app1-db1-root", "app1-db1-data"]
def run(args):
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return None
    return p.stdout if p.returncode == 0 else None
rbd = ["rbd", "-c", conf, "--client_mount_timeout=3", "--format", "json"]
pool = ThreadPoolExecutor(max_workers=11)
while os.path.exists(out + ".on"):
    t = time.time()
    sample = {"t": t, "roles": {}, "primarySnaps": {}, "running": []}
    # Every call of one sample at once, so a sample takes about one call's time.
    infos = {img: pool.submit(run, rbd + ["info", f"rbd/{img}"]) for img in images}
    snapls = {img: pool.submit(run, rbd + ["snap", "ls", "--all", f"rbd/{img}"]) for img in images}
    names = pool.submit(run, ["virsh", "-q", "-c", uri, "list", "--name"])
    for img in images:
        info = infos[img].result()
        mirroring = json.loads(info).get("mirroring", {}) if info else {}
        sample["roles"][img] = ("unreachable" if info is None else
                                "primary" if mirroring.get("primary") else "non_primary")
        ids = []
        snaps = snapls[img].result()
        for s in json.loads(snaps) if snaps else []:
            ns = s.get("namespace", {})
            state = str(ns.get("state", ""))
            if ns.get("type") == "mirror" and state.startswith("primary") and "demoted" not in state:
                ids.append(s["id"])
        sample["primarySnaps"][img] = ids
    sample["running"] = [n for n in (names.result() or "").split() if n.startswith("app1-")]
    with open(out, "a") as f:
        f.write(json.dumps(sample) + "\n")
    time.sleep(max(0.0, 0.5 - (time.time() - t)))
PY
poller=$!
trap 'rm -f "$samples.on"' EXIT
came_back=$("$lab_root/deploy/lab/site-returns.sh")
printf '%s\n' "$came_back"
returned=$(printf '%s\n' "$came_back" | sed -n 's/^  agent started: //p')
agent_started=$(date -d "$returned" +%s.%N)
fenced=
for _ in $(seq 120); do
  if [ "$(state_at "$DRPAIR_PRODUCTION_URL")" = failed_over ] &&
     tail -1 "$samples" | $py -c 'import json,sys; d=json.loads(sys.stdin.read()); sys.exit(0 if all(r == "non_primary" for r in d["roles"].values()) else 1)'; then
    fenced=$(now)
    break
  fi
  sleep 0.5
done
sleep 3  # a few samples more: nothing may change back
rm -f "$samples.on"
wait $poller 2>/dev/null || true
[ -n "$fenced" ] || lab_die "site-a did not fence APP1 within 60 s of its agent starting (see $samples, $lab_dir/production/agent.log)"
$py - "$samples" "$agent_started" <<'PY' || lab_die "the returning site broke a fence rule (above; samples in $samples)"
import json, sys
samples = [json.loads(l) for l in open(sys.argv[1])]
started = float(sys.argv[2])
bad = []
running = [s for s in samples if s["running"]]
if running:
    bad.append(f"APP1 VMs ran at site-a in {len(running)} sample(s): {running[0]['running']}")
first_fenced = next((s["t"] for s in samples
                     if all(r == "non_primary" for r in s["roles"].values())), None)
if first_fenced is None or first_fenced - started > 60:
    bad.append("not every image non-primary within 60 s of the agent's start")
# The primary snapshots site-a held when its cluster first answered: any later one is new.
seen = next((s for s in samples if all(r != "unreachable" for r in s["roles"].values())), None)
for s in samples:
    for img, ids in s["primarySnaps"].items():
        new = set(ids) - set(seen["primarySnaps"][img]) if seen else set(ids)
        if new:
            bad.append(f"{img}: new primary mirror snapshot(s) {sorted(new)} at site-a")
for b in sorted(set(bad)):
    print("FAIL", b)
print(f"  {len(samples)} samples; every image non-primary {first_fenced - started:.1f} s after "
      f"the agent started; no APP1 VM running at any sample; no new primary snapshot")
sys.exit(1 if bad else 0)
PY
fence_time=$(secs "$agent_started" "$fenced")
echo "  site-a fenced APP1 $fence_time s after its agent started"

say "round trip 2: reprotect (site-b -> site-a)"
t0=$(now)
drpair reprotect app1 --reason "site-a is back (lab)" --wait
reprotect_time=$(secs "$t0" "$(now)")
drpair status app1 --url "$DRPAIR_DR_URL"
# Then, at once: marker generation 3 written at site-b, and the app changed there (a disk, a NIC, a
# VM). Until the marker has reached site-a and the DR agent's own reprotects have paired both new
# images, and for at least one snapshot interval, the reverse lag is sampled every second.
jobs_before=$(curl -sS --cacert "$DRPAIR_CACERT" --cert "$DRPAIR_CERT" --key "$DRPAIR_KEY" \
  "$DRPAIR_DR_URL/v1/jobs?app=app1" | $py -c 'import json,sys; print(max(j["id"] for j in json.load(sys.stdin)["jobs"]))')
"$lab_root/deploy/lab/app1.sh" write-marker "$dr_site" 3
written=$(date -u +%Y-%m-%dT%H:%M:%S)
"$lab_root/deploy/lab/app1.sh" add-disk "$dr_site" app1-app1 app1-app1-extra
# Addresses as production spells them: app1.sh places them at site-b (app1-web's translated).
extra_nic=52:54:00:99:00:01 extra_nic_ip=192.168.10.61
extra_vm=app1-extra extra_vm_nic=52:54:00:99:00:02 extra_vm_ip=192.168.30.41
"$lab_root/deploy/lab/app1.sh" add-nic "$dr_site" app1-web1 $extra_nic app1-web $extra_nic_ip
"$lab_root/deploy/lab/app1.sh" add-vm "$dr_site" $extra_vm 6f1c2a9e-0005-4c1e-9a0b-000000000005 4 \
  $extra_vm_nic app1-db $extra_vm_ip 3
t0=$(date +%s)
max_lag=0 replicated='' paired=''
while :; do
  # lag, whether every pair's newest sync is after the marker, whether both new images are paired
  # with the app protected_reverse again
  state=$(drpair status app1 --url "$DRPAIR_DR_URL" --json | $py -c '
import json, sys
d = json.load(sys.stdin)
lags = [i["lagSeconds"] for i in d["images"] if i["lagSeconds"] is not None]
synced = all(i["lastSyncAt"] and i["lastSyncAt"][:19] > sys.argv[1] for i in d["images"])
targets = {i["target"] for i in d["images"]}
paired = d["state"] == "protected_reverse" and {"rbd/app1-app1-extra", "rbd/app1-extra-root"} <= targets
print(max(lags) if lags else -1, "yes" if synced else "no", "yes" if paired else "no")' "$written")
  read -r lag synced both <<<"$state"
  [ "$lag" -lt $((2 * interval)) ] || lab_die "reverse lag $lag s is not under twice the interval ($((2 * interval)) s)"
  [ "$lag" -gt "$max_lag" ] && max_lag=$lag
  [ "$synced" = yes ] && replicated=yes
  [ "$both" = yes ] && paired=yes
  waited=$(($(date +%s) - t0))
  [ -n "$replicated" ] && [ -n "$paired" ] && [ $waited -ge $interval ] && break
  [ $waited -lt 240 ] || lab_die "after 240 s: marker replicated to site-a: ${replicated:-no}; the images added at site-b paired: ${paired:-no} (see $lab_dir/dr/agent.log)"
  sleep 1
done
paired=$(curl -sS --cacert "$DRPAIR_CACERT" --cert "$DRPAIR_CERT" --key "$DRPAIR_KEY" \
  "$DRPAIR_DR_URL/v1/jobs?app=app1" | $py -c '
import json, sys
print(" ".join(str(j["id"]) for j in json.load(sys.stdin)["jobs"]
               if j["type"] == "reprotect" and j["id"] > int(sys.argv[1]) and j["state"] == "succeeded"))' "$jobs_before")
echo "  reverse lag at most $max_lag s over $waited s (snapshot interval $interval s)"
"$lab_root/deploy/lab/app1.sh" read-marker "$prod_site" 3 ||
  lab_die "site-a's replica does not hold marker generation 3 written at site-b"
grep -q "app app1 drifted at site-b" "$lab_dir/dr/agent.log" || lab_die "the DR agent did not log the drift"
for img in app1-app1-extra app1-extra-root; do
  [ "$(rbd -c "$DRPAIR_PRODUCTION_CEPH_CONF" --format json info "rbd/$img" |
       $py -c 'import json,sys; print(json.load(sys.stdin)["mirroring"]["primary"])')" = False ] ||
    lab_die "rbd/$img is not a replica at site-a"
done
echo "  reprotect job(s) $paired paired rbd/app1-app1-extra and rbd/app1-extra-root, added at site-b; site-a holds their replicas"

say "round trip 3: failback (planned, no data lost)"
gen_of() { drpair status app1 --url "$DRPAIR_DR_URL" --json | $py -c 'import json,sys; d=json.load(sys.stdin); print(d["generation"], d["state"])'; }
read -r gen_before _ <<<"$(gen_of)"
drpair failback app1 --reason "home (lab)" --wait
failback_done=$(now)
job=$(curl -sS --cacert "$DRPAIR_CACERT" --cert "$DRPAIR_CERT" --key "$DRPAIR_KEY" \
  "$DRPAIR_DR_URL/v1/jobs?app=app1" | $py -c '
import json, sys
print([j for j in json.load(sys.stdin)["jobs"] if j["type"] == "failback"][0]["id"])')
failback_time=$(curl -sS --cacert "$DRPAIR_CACERT" --cert "$DRPAIR_CERT" --key "$DRPAIR_KEY" \
  "$DRPAIR_DR_URL/v1/jobs/$job" | $py -c '
import json, sys
from datetime import datetime
at = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
j = json.load(sys.stdin)
start = [s for s in j["steps"] if s["name"] == "start-production"][0]
print(f"{at(start['"'"'finishedAt'"'"']) - at(j['"'"'createdAt'"'"']):.1f}")')
"$lab_root/deploy/lab/app1.sh" check "$prod_site" 3 || lab_die "APP1 is not whole at site-a after the failback"
virsh -q -c "$DRPAIR_PRODUCTION_LIBVIRT_URI" domblklist app1-app1 | grep -q 'rbd/app1-app1-extra' ||
  lab_die "the disk added at site-b is not attached to app1-app1 at site-a"
echo "  rbd/app1-app1-extra, added at site-b, is attached to app1-app1 at site-a"
"$lab_root/deploy/lab/app1.sh" check-nic "$prod_site" app1-web1 $extra_nic app1-web $extra_nic_ip ||
  lab_die "the NIC added to app1-web1 at site-b is not on its portgroup at site-a"
"$lab_root/deploy/lab/app1.sh" check-vm "$prod_site" $extra_vm 3 $extra_vm_nic app1-db $extra_vm_ip ||
  lab_die "$extra_vm, added at site-b, does not run whole at site-a"
echo "  the NIC and the VM added at site-b came home (above)"
left=$(virsh -q -c "$DRPAIR_DR_LIBVIRT_URI" list --all --name | grep -c '^app1-' || true)
[ "$left" = 0 ] || lab_die "$left APP1 domain(s) left at site-b after the failback"
for img in app1-web1-root app1-web2-root app1-app1-root app1-db1-root app1-db1-data app1-app1-extra app1-extra-root; do
  for conf in "$DRPAIR_PRODUCTION_CEPH_CONF" "$DRPAIR_DR_CEPH_CONF"; do
    primary=$(rbd -c "$conf" --format json info "rbd/$img" |
      $py -c 'import json,sys; print(json.load(sys.stdin)["mirroring"]["primary"])')
    want=False
    [ "$conf" = "$DRPAIR_PRODUCTION_CEPH_CONF" ] && want=True
    [ "$primary" = "$want" ] || lab_die "rbd/$img: primary=$primary with $conf, expected $want"
  done
done
echo "  every APP1 image primary at site-a only; no APP1 domain at site-b"
# What came home changed APP1: site-a protects its next generation at once (the DR site must not
# hold the older one when the next disaster comes); until then APP1 is protecting at site-a. (It
# may be done already: the checks above take seconds.)
for _ in $(seq 120); do
  read -r gen_now state_now <<<"$(gen_of)"
  home=$(state_at "$DRPAIR_PRODUCTION_URL")
  case "$home" in protected | protecting) ;; *) lab_die "APP1 is $home at site-a after the failback" ;; esac
  [ "$gen_now" -gt "$gen_before" ] && [ "$state_now" = protected ] && [ "$home" = protected ] && break
  sleep 0.5
done
[ "$gen_now" -gt "$gen_before" ] && [ "$state_now" = protected ] && [ "$home" = protected ] ||
  lab_die "60 s after the failback APP1 is $home at site-a and site-b holds generation $gen_now ($state_now): what came home is not protected (see $lab_dir/production/agent.log)"
reprotected_time=$(curl -sS --cacert "$DRPAIR_CACERT" --cert "$DRPAIR_CERT" --key "$DRPAIR_KEY" \
  "$DRPAIR_PRODUCTION_URL/v1/jobs?app=app1" | $py -c '
import json, sys
from datetime import datetime
at = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
jobs = [j for j in json.load(sys.stdin)["jobs"] if j["type"] == "protect" and j["state"] == "succeeded"]
newest = max(jobs, key=lambda j: j["id"])
print(f"{at(newest['"'"'updatedAt'"'"']) - float(sys.argv[1]):.1f}")' "$failback_done")
echo "  APP1 with what came home protected at site-b as generation $gen_now, $reprotected_time s after the failback command returned"
if drpair failback app1 2>"$lab_dir/second-failback.err"; then
  lab_die "a second failback was accepted"
fi
echo "  a second failback is refused: $(cat "$lab_dir/second-failback.err")"

say "round trip 4: a second disaster, failed over again"
"$lab_root/deploy/lab/disaster.sh"
t0=$(now)
drpair failover app1 --type disaster --reason "second disaster (lab)" --wait
second_rto=$(secs "$t0" "$(now)")
"$lab_root/deploy/lab/app1.sh" check "$dr_site" 3 || lab_die "APP1 is not whole at site-b after the second failover"
"$lab_root/deploy/lab/app1.sh" check-nic "$dr_site" app1-web1 $extra_nic app1-web $extra_nic_ip &&
  "$lab_root/deploy/lab/app1.sh" check-vm "$dr_site" $extra_vm 3 $extra_vm_nic app1-db $extra_vm_ip &&
  virsh -q -c "$DRPAIR_DR_LIBVIRT_URI" domblklist app1-app1 | grep -q 'rbd/app1-app1-extra' ||
  lab_die "what came home at the failback is not restored at site-b by the second failover"
echo "  restored with it: app1-extra, the NIC of app1-web1 and the disk of app1-app1 added at site-b"

say "round-trip report"
echo "  time to fence the returning site (agent start to every image non-primary): $fence_time s"
echo "  reprotect (resync, command to job done): $reprotect_time s"
echo "  reverse lag after the reprotect: at most $max_lag s (interval $interval s)"
echo "  failback (command to every VM running at site-a): $failback_time s"
echo "  what came home protected again (failback command returned to site-a's protect job done): $reprotected_time s"
echo "  second disaster failover (command to every VM running at site-b): $second_rto s"
