# What the e2e scripts share (sourced): the lab's settings, failure reporting with both agents'
# logs, a lab brought up with `up.sh --no-failover` and torn down at exit, lab.env exported, and
# helpers to call the agents.
# shellcheck shell=bash
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export DRPAIR_LAB_SKIP_BUILD=1
# shellcheck source=deploy/lab/lab.sh
. "$root/deploy/lab/lab.sh"

step() { printf '\n### %s\n' "$*"; }
failed() {
  echo "e2e: FAILED: $*" >&2
  for log in "$lab_dir"/production/agent.log "$lab_dir"/dr/agent.log; do
    [ -f "$log" ] && { echo "--- $log" >&2; tail -30 "$log" >&2; }
  done
  exit 1
}
cleanup() { "$root/deploy/lab/down.sh" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup

"$root/deploy/lab/up.sh" --no-failover || failed "up.sh --no-failover"
set -a
# shellcheck disable=SC1091
. "$lab_dir/lab.env"
set +a
drpair() { "$bin/drpair" "$@"; }
curl_ops() { curl -sS --cacert "$DRPAIR_CACERT" --cert "$DRPAIR_CERT" --key "$DRPAIR_KEY" "$@"; }
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
