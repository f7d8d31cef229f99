#!/usr/bin/env bash
# End to end: both agents as separate processes on loopback with real mutual TLS, the real Ceph
# pair and a real libvirtd per site, driven through the lab's scripts (deploy/lab) with a state
# folder and ports of their own (set by ctest: DRPAIR_LAB_DIR, DRPAIR_LAB_PORT, DRPAIR_CEPH_PORT,
# DRPAIR_BUILD_DIR). What it proves, in order:
#   1. APP1 protected in mode first, replicated, new data (marker gen 2) landed at site-b;
#   2. the signed webhook refuses what it must: no signature, a wrong one, a stale one (401), a
#      replayed delivery (409), a body that is not a failover request (400), an unknown app (404);
#   3. APP1 re-protected in mode second (mapped at production, validated at DR);
#   4. fencing: a disaster failover, fired by Alertmanager (bearer token; a resolved alert does
#      nothing) and then by the CLI, is refused while the production agent answers and holds the
#      app as primary, and the app stays protected;
#   5. disaster: site-a goes down, a signed webhook starts the failover, the DR agent is killed
#      with SIGKILL in the middle of it and restarted, the job resumes and finishes; the same
#      request re-signed finds the same job; APP1 runs whole at site-b from the replicated data.
set -euo pipefail
# shellcheck source=tests/e2e/e2e_lib.sh
. "$(dirname "$0")/e2e_lib.sh"

# hook BODY [T] [SECRET] [HEADER]: POSTs a failover webhook; prints "STATUS BODY".
hook() {
  local body=$1 t=${2:-$(date +%s)} secret=${3:-$DRPAIR_WEBHOOK_SECRET} header=${4:-}
  if [ -z "$header" ]; then
    header="t=$t,v1=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)"
  fi
  local out
  out=$(curl_ops -o /tmp/e2e-hook.$$ -w '%{http_code}' -H "Content-Type: application/json" \
    ${header:+-H "X-Drpair-Signature: $header"} --data "$body" "$DRPAIR_DR_URL/v1/hooks/failover")
  echo "$out $(cat /tmp/e2e-hook.$$)"
  rm -f /tmp/e2e-hook.$$
}
expect_status() {  # expect_status WANT "STATUS BODY" WHAT
  [ "${2%% *}" = "$1" ] || failed "$3: expected HTTP $1, got: $2"
  echo "ok: $3 -> $1"
}

step "2. webhook refusals"
good='{"app":"app1","type":"disaster","idempotencyKey":"e2e-refusals","reason":"e2e"}'
expect_status 401 "$(hook "$good" "" "" "t=1,v1=")" "malformed signature"
expect_status 401 "$(hook "$good" "$(date +%s)" "wrong-secret")" "wrong secret"
expect_status 401 "$(hook "$good" "$(($(date +%s) - 600))")" "timestamp 10 minutes old"
unsigned=$(curl_ops -o /dev/null -w '%{http_code}' -H "Content-Type: application/json" --data "$good" "$DRPAIR_DR_URL/v1/hooks/failover")
[ "$unsigned" = 401 ] || failed "unsigned webhook: expected 401, got $unsigned"
echo "ok: unsigned -> 401"
expect_status 400 "$(hook '{"app":"app1","type":"sideways","idempotencyKey":"e2e-bad"}')" "unknown failover type"
expect_status 404 "$(hook '{"app":"nope","type":"disaster","idempotencyKey":"e2e-404"}')" "unknown app"
t=$(date +%s)
first=$(hook '{"app":"nope","type":"disaster","idempotencyKey":"e2e-replay"}' "$t")
expect_status 409 "$(hook '{"app":"nope","type":"disaster","idempotencyKey":"e2e-replay"}' "$t")" "replayed delivery"
echo "   (first delivery: ${first%% *})"

step "3. re-protect in mode second"
drpair protect app1 --mode second --wait || failed "protect --mode second"
[ "$(curl_ops "$DRPAIR_DR_URL/v1/apps/app1" | json_get 'd["state"]')" = protected ] ||
  failed "app1 is not protected at site-b after mode second"

step "4. fencing refuses a disaster failover while site-a answers (Alertmanager, then the CLI)"
# alertmanager STATUS TOKEN: POSTs an Alertmanager (version 4) payload naming app1; prints
# "HTTP BODY".
alertmanager() {
  local payload
  payload=$(printf '{"version":"4","status":"%s","receiver":"drpair","alerts":[{"status":"%s","labels":{"alertname":"SiteDown","drpair_app":"app1"},"annotations":{},"startsAt":"2026-12-06T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"e2e0001"}]}' "$1" "$1")
  curl_ops -o /tmp/e2e-am.$$ -w '%{http_code}' -H "Authorization: Bearer $2" \
    -H "Content-Type: application/json" --data "$payload" "$DRPAIR_DR_URL/v1/hooks/alertmanager"
  echo " $(cat /tmp/e2e-am.$$)"
  rm -f /tmp/e2e-am.$$
}
expect_status 401 "$(alertmanager firing not-the-token)" "Alertmanager with a wrong bearer token"
# The hook's token calls its hook and nothing else.
hook_reads=$(curl_ops -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $DRPAIR_ALERTMANAGER_TOKEN" \
  "$DRPAIR_DR_URL/v1/apps")
[ "$hook_reads" = 403 ] || failed "the Alertmanager token read /v1/apps ($hook_reads), it may only call its hook"
answer=$(alertmanager resolved "$DRPAIR_ALERTMANAGER_TOKEN")
expect_status 202 "$answer" "a resolved alert"
[ "$(printf '%s' "${answer#* }" | json_get 'len(d["jobs"])')" = 0 ] || failed "a resolved alert started a job: $answer"
answer=$(alertmanager firing "$DRPAIR_ALERTMANAGER_TOKEN")
expect_status 202 "$answer" "a firing alert naming app1"
am_job=$(printf '%s' "${answer#* }" | json_get 'd["jobs"][0]["id"]')
if drpair jobs "$am_job" --follow --url "$DRPAIR_DR_URL"; then
  failed "the Alertmanager failover (job $am_job) passed fencing while site-a answers"
fi
curl_ops "$DRPAIR_DR_URL/v1/jobs/$am_job" | json_get 'd["error"]["message"]' | grep -q "primary" ||
  failed "job $am_job did not fail at the fence: $(curl_ops "$DRPAIR_DR_URL/v1/jobs/$am_job")"
echo "ok: Alertmanager's failover (job $am_job) refused by the fence"
if drpair failover app1 --type disaster --reason "e2e fencing" --wait; then
  failed "a disaster failover passed fencing while site-a answers"
fi
state=$(curl_ops "$DRPAIR_DR_URL/v1/apps/app1" | json_get 'd["state"]')
[ "$state" = protected ] || failed "after the refused failover app1 is '$state', not protected"
echo "ok: refused; app1 still protected"

step "4b. a hostile-input probe of both agents (tests/e2e/probe.py)"
/usr/bin/python3 "$root/tests/e2e/probe.py" "$lab_dir/lab.env" || failed "the hostile-input probe"

step "5. disaster, failover by signed webhook, SIGKILL of the DR agent mid-failover"
"$root/deploy/lab/disaster.sh"
body='{"app":"app1","type":"disaster","idempotencyKey":"e2e-disaster","reason":"site-a lost (e2e)"}'
answer=$(hook "$body")
expect_status 202 "$answer" "signed webhook"
job=$(printf '%s' "${answer#* }" | json_get 'd["job"]["id"]')
for _ in $(seq 600); do
  current=$(curl_ops "$DRPAIR_DR_URL/v1/jobs/$job" | json_get 'd["currentStep"]')
  case "$current" in promote:*|restore/*) break ;; esac
  sleep 0.1
done
echo "killing the DR agent (SIGKILL) at step '$current'"
kill -KILL "$(cat "$lab_dir/dr/agent.pid")"
rm -f "$lab_dir/dr/agent.pid"
start_agent drpair-dr-agent "$lab_dir/dr" "$dr_port"
grep -q "resuming job $job" "$lab_dir/dr/agent.log" || failed "the restarted DR agent did not resume job $job"
drpair jobs "$job" --follow --url "$DRPAIR_DR_URL" || failed "job $job did not succeed after the restart"
again=$(hook "$body")
expect_status 202 "$again" "the same failover re-signed"
[ "$(printf '%s' "${again#* }" | json_get 'd["job"]["id"]')" = "$job" ] || failed "a retried webhook started another job"
[ "$(printf '%s' "${again#* }" | json_get 'd["created"]')" = False ] || failed "a retried webhook reported a new job"
"$root/deploy/lab/app1.sh" check "$dr_site" 2 || failed "APP1 is not whole at site-b"
curl_ops "$DRPAIR_DR_URL/metrics" | grep -E '^drpair_app_state\{app="app1",state="failed_over"\} 1$' >/dev/null ||
  failed "/metrics does not show app1 failed_over"
# The audit trail, through the CLI: the signed webhook's job (the DR agent kept it across the
# SIGKILL) and the Alertmanager token's refused read, each with who asked.
drpair audit --limit 1000 --json --url "$DRPAIR_DR_URL" | /usr/bin/python3 -c '
import json, sys
job = int(sys.argv[1])
entries = json.load(sys.stdin)["entries"]
hook = [e for e in entries if e["path"] == "/v1/hooks/failover" and e.get("job") == job]
refused = [e for e in entries if e["caller"]["kind"] == "alertmanager" and e["status"] == 403]
fired = [e for e in entries if e["path"] == "/v1/hooks/alertmanager" and e["status"] == 202]
assert hook and refused and fired, (len(hook), len(refused), len(fired))
' "$job" || failed "the audit trail lacks the webhook failover or the Alertmanager refusal"
echo "ok: the audit trail names the webhook failover (job $job) and the refused hook token"
echo
echo "e2e: all checks passed"
