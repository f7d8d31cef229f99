# Sourced by the lab's scripts (up.sh, disaster.sh, down.sh): where the lab keeps its state and
# which ports it uses. Everything can be moved with the environment, so a test can run a lab of
# its own beside an operator's.
#   DRPAIR_LAB_DIR        state folder of the lab (default /tmp/drpair-lab)
#   DRPAIR_LAB_PORT       the production agent's port; the DR agent uses the next (default 18443)
#   DRPAIR_CEPH_PORT      first port of the lab's Ceph pair (default 13300)
#   DRPAIR_BUILD_DIR      where drpair is built (default: build/ in the source tree)
# shellcheck shell=bash disable=SC2034
lab_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
lab_dir=${DRPAIR_LAB_DIR:-/tmp/drpair-lab}
lab_port=${DRPAIR_LAB_PORT:-18443}
build_dir=${DRPAIR_BUILD_DIR:-$lab_root/build}
bin=$build_dir/bin
pki=$lab_dir/pki
export DRPAIR_CEPH_DIR=$lab_dir/ceph
export DRPAIR_CEPH_PORT=${DRPAIR_CEPH_PORT:-13300}
export DRPAIR_LIBVIRTD_DIR=$lab_dir/libvirtd
prod_site=lab-a   # libvirtd sites; their Ceph sites and drpair sites are site-a and site-b
dr_site=lab-b
prod_port=$lab_port
dr_port=$((lab_port + 1))

say() { printf '\n== %s\n' "$*"; }
lab_die() { echo "lab: error: $*" >&2; exit 1; }

# Stops the process whose PID is in file $1 (TERM, then KILL after 10 s).
stop_pidfile() {
  [ -f "$1" ] || return 0
  local pid
  pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

# start_agent NAME DIR PORT: starts an agent from DIR/agent.json unless it runs; waits until it
# answers /healthz.
start_agent() {
  local name=$1 dir=$2 port=$3
  if [ -f "$dir/agent.pid" ] && kill -0 "$(cat "$dir/agent.pid")" 2>/dev/null; then return 0; fi
  setsid "$bin/$name" --config "$dir/agent.json" >>"$dir/agent.log" 2>&1 &
  echo $! >"$dir/agent.pid"
  for _ in $(seq 100); do
    if curl -sf --cacert "$pki/agents-ca.pem" --cert "$pki/operator/ops.crt" \
         --key "$pki/operator/ops.key" "https://127.0.0.1:$port/healthz" >/dev/null; then
      return 0
    fi
    kill -0 "$(cat "$dir/agent.pid")" 2>/dev/null || { tail -20 "$dir/agent.log" >&2; lab_die "$name exited"; }
    sleep 0.2
  done
  tail -20 "$dir/agent.log" >&2
  lab_die "$name does not answer on port $port"
}

# What the lab's scripts share once the lab is up: APP1's state at an agent, the drpair CLI, times.
py=/usr/bin/python3
interval=30  # the lab's protection.snapshotIntervalSeconds (up.sh)
now() { date +%s.%N; }
secs() { $py -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
drpair() { "$bin/drpair" "$@"; }
state_at() { # state_at URL: APP1's state at that agent
  drpair status app1 --url "$1" --json | $py -c 'import json,sys; print(json.load(sys.stdin)["state"])'
}
# Exports lab.env (a script that runs on a lab up.sh made).
load_lab_env() {
  [ -f "$lab_dir/lab.env" ] || lab_die "no lab at $lab_dir (run deploy/lab/up.sh first)"
  set -a
  # shellcheck disable=SC1091
  . "$lab_dir/lab.env"
  set +a
}
