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
#      ignore it and are powered off after failover.shutdownTimeoutSeconds); each image changes
#      roles by the one role-change machine (a fresh snapshot synced to site-b before site-a
#      demotes it, the demotion complete at site-b before the promote); site-a releases the app
#      (failed_over there) and the DR agent restores: APP1 runs whole at site-b
#      (marker generation 2, the added disk attached), site-a's VMs are shut off and its images
#      non-primary; a disaster failover of the failed-over app is refused.
# Along the way it captures both agents' live answers (operator and peer routes, errors, a job
# while it runs) and validates each against schemas/openapi.yaml (check_live_answers.py).
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

# capture NAME AGENT(dr|production) PATH [AS(ops|site-a|site-b)]: GETs PATH from AGENT as the
# operator or as a site's agent (peer routes) and keeps {agent, method, path, status, body}.
answers=$lab_dir/answers
rm -rf "$answers" && mkdir -p "$answers"
capture() {
  local name=$1 agent=$2 path=$3 as=${4:-ops} url cert key
  if [ "$agent" = dr ]; then url=$DRPAIR_DR_URL; else url=$DRPAIR_PRODUCTION_URL; fi
  if [ "$as" = ops ]; then cert=$DRPAIR_CERT key=$DRPAIR_KEY
  else cert=$lab_dir/pki/$as/agent.crt key=$lab_dir/pki/$as/agent.key; fi
  local status
  status=$(curl -sS --cacert "$DRPAIR_CACERT" --cert "$cert" --key "$key" -o "$answers/$name.body" \
    -w '%{http_code}' "$url$path")
  /usr/bin/python3 - "$agent" "$path" "$status" "$answers/$name.body" >"$answers/$name.json" <<'PY'
import json, sys
agent, path, status, body = sys.argv[1:]
with open(body) as f:
    print(json.dumps({"agent": agent, "method": "get", "path": path, "status": int(status),
                      "body": json.load(f)}))
PY
  rm -f "$answers/$name.body"
}

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
capture prod-apps production /v1/apps
capture prod-app production /v1/apps/app1
capture prod-jobs production /v1/jobs
job=$(curl_ops "$DRPAIR_PRODUCTION_URL/v1/jobs" | json_get 'd["jobs"][0]["id"]')
capture prod-job production "/v1/jobs/$job"
capture prod-descriptions production /v1/apps/app1/descriptions
capture dr-apps dr /v1/apps
capture dr-app dr /v1/apps/app1
capture dr-peer-view dr /v1/peer/apps/app1 site-a
capture dr-inventory dr /v1/peer/inventory site-a
capture prod-peer-view production /v1/peer/apps/app1 site-b
capture prod-peer-image production /v1/peer/apps/app1/images/rbd/app1-web1-root site-b
capture prod-peer-image-other production /v1/peer/apps/app1/images/rbd/not-app1s site-b
capture dr-not-found dr /v1/apps/nope
capture dr-job-not-found dr /v1/jobs/999999

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
drpair failover app1 --type planned --reason "e2e planned migration" >/dev/null ||
  failed "planned failover not started"
failover_job=$(curl_ops "$DRPAIR_DR_URL/v1/jobs" | json_get 'd["jobs"][0]["id"]')
capture dr-job-running dr "/v1/jobs/$failover_job"
grep -q '"state": *"running"\|"state": *"pending"' "$answers/dr-job-running.json" ||
  echo "note: the failover job had already finished when captured"
drpair jobs "$failover_job" --follow >/dev/null || failed "planned failover"
capture dr-job-done dr "/v1/jobs/$failover_job"
"$root/deploy/lab/app1.sh" check "$dr_site" 2 || failed "APP1 is not whole at site-b"
virsh -q -c "$DRPAIR_DR_LIBVIRT_URI" domblklist app1-app1 | grep -q "rbd/app1-app1-extra" ||
  failed "the restored app1-app1 has no disk rbd/app1-app1-extra"
grep -q "stop app1: asked 4 vm(s) to shut down" "$lab_dir/production/agent.log" ||
  failed "the production agent did not ask APP1's VMs to shut down"
for vm in app1-web1 app1-web2 app1-app1 app1-db1; do
  st=$(virsh -q -c "$DRPAIR_PRODUCTION_LIBVIRT_URI" domstate "$vm" | head -1)
  [ "$st" = "shut off" ] || failed "$vm is '$st' at site-a after a planned failover"
done
for image in "${images[@]}" app1-app1-extra; do
  [ "$(mirroring site-a "$image")" = "enabled non-primary" ] || failed "rbd/$image is not demoted at site-a"
  [ "$(mirroring site-b "$image")" = "enabled primary" ] || failed "rbd/$image is not primary at site-b"
done
# The one role-change machine ran per image: synced forward before the demote, no stall found.
/usr/bin/python3 - "$answers/dr-job-done.json" "${images[@]}" app1-app1-extra <<'PY' || failed "the planned failover's steps"
import json, sys
job = json.load(open(sys.argv[1]))["body"]
steps = {s["name"]: s for s in job["steps"]}
for name in ["stop-production", "release-production"]:
    assert steps[name]["state"] == "done", name
for image in sys.argv[2:]:
    change = steps["role-change:rbd/" + image]
    assert change["state"] == "done", image
    ran = [s["step"] for s in change["detail"]["steps"]]
    assert ran[:2] == ["observe", "sync_forward"] and "promote_to" in ran, (image, ran)
    assert change["detail"]["recoveredStall"] is False, image
PY
capture prod-peer-view-released production /v1/peer/apps/app1 site-b
json_get 'd["body"]["state"]' <"$answers/prod-peer-view-released.json" | grep -qx failed_over ||
  failed "site-a does not hold APP1 as failed_over after the hand-over"
echo "ok: APP1 runs at site-b; site-a shut off and demoted"
if drpair failover app1 --type disaster --reason "again" 2>/dev/null; then
  failed "a failover of the failed-over app was accepted"
fi
echo "ok: a second failover is refused"
capture dr-app-failed-over dr /v1/apps/app1
capture prod-app-failed-over production /v1/apps/app1

step "4. the live answers against schemas/openapi.yaml"
/usr/bin/python3 "$root/tests/e2e/check_live_answers.py" "$answers" "$root" ||
  failed "an answer does not match schemas/openapi.yaml"
echo
echo "e2e: all checks passed"
