#!/usr/bin/env bash
# Two independent single-node Ceph clusters on 127.0.0.1, "site-a" and "site-b", for the storage
# tests, the lab and operators trying drpair on one machine. Each site has its own fsid, conf,
# keyrings and ports; mon + mgr + one bluestore OSD on a sparse file; a pool `rbd` of size 1; and
# an rbd-mirror daemon. No systemd: daemons are plain processes with PID files, and only processes
# named by this script's PID files are ever stopped.
#
# Usage: deploy/ceph-pair.sh VERB [ARGS]
#   up [--peered]        create or start both sites and wait until healthy (idempotent); prints
#                        how long it took. --peered also peers the pools (see `peer`).
#   status               one line per site and daemon; exit 0 only when everything runs.
#   down                 stop every daemon of both sites and delete the state folder.
#   stop-site SITE [--kill]  stop SITE's daemons (a "lost site"; --kill: SIGKILL, like a power
#                        loss); its data stays.
#   start-site SITE      start SITE's daemons again and wait until healthy.
#   peer                 lab convenience: image-mode mirroring on `rbd` at both sites, site names,
#                        a bootstrap token from site-a imported at site-b (rx-tx), then restarts
#                        both rbd-mirror daemons so they see the new peer at once. The product
#                        peers through drpair's storage layer instead; tests do not use this.
#   restart-mirror SITE  restart SITE's rbd-mirror daemon.
#   env SITE             print shell lines that point the ceph/rbd CLIs at SITE (eval "$(... env site-a)").
#
# Environment:
#   DRPAIR_CEPH_DIR      state folder (default /tmp/drpair-ceph)
#   DRPAIR_CEPH_PORT     first port (default 13300, or what `up` recorded in $DRPAIR_CEPH_DIR/port):
#                        site-a uses PORT..PORT+99, site-b PORT+100..PORT+199
#   DRPAIR_CEPH_MIRROR_TICK  rbd-mirror's peer refresh and image-state check intervals in seconds
#                        (default 5; Ceph's own default is 30, which is what production runs)
#
# Files written under $DRPAIR_CEPH_DIR/SITE/ (SITE = site-a | site-b):
#   ceph.conf                       the site's cluster conf (admin client: names the keyring below)
#   ceph.client.admin.keyring       client.admin
#   client.conf                     conf for QEMU/libvirt and agents: mon_host, short timeouts
#                                   (client_mount_timeout=10, rados_mon_op_timeout=10,
#                                   rados_osd_op_timeout=30), keyring = client.libvirt.keyring
#   client.libvirt.keyring          client.libvirt (mon 'profile rbd' osd 'profile rbd pool=rbd')
#   client.libvirt.key              the bare base64 key of client.libvirt (virsh secret-set-value)
#   client.rbd-mirror.SITE.keyring  the rbd-mirror daemon's key
#   mon-port                        the mon's v1 port (libvirt <host port=...>); v2 is one less
#   mon/ mgr/ osd/ run/ log/        daemon data, PID files and admin sockets, logs
set -euo pipefail

readonly root=${DRPAIR_CEPH_DIR:-/tmp/drpair-ceph}
# A pair remembers its ports, so later verbs need only DRPAIR_CEPH_DIR.
base_port=${DRPAIR_CEPH_PORT:-$(cat "$root/port" 2>/dev/null || echo 13300)}
readonly base_port
readonly mirror_tick=${DRPAIR_CEPH_MIRROR_TICK:-5}
readonly sites=(site-a site-b)
readonly daemons=(mon.a mgr.x osd.0 rbd-mirror)

log() { echo "ceph-pair: $*" >&2; }
die() { log "error: $*"; exit 1; }

site_index() { case $1 in site-a) echo 0 ;; site-b) echo 1 ;; *) die "unknown site '$1'" ;; esac; }
site_dir() { echo "$root/$1"; }
mon_v2_port() { echo $((base_port + 100 * $(site_index "$1"))); }

# The ceph CLI as the site's admin, with a bounded wait so a dead mon fails fast.
sceph() {
  local site=$1; shift
  timeout 60 ceph -c "$(site_dir "$site")/ceph.conf" --connect-timeout 15 "$@"
}

# Alive and not a zombie: PID 1 here is not an init that reaps promptly, so a daemon that exited
# can linger as a zombie for seconds.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

pid_file() {
  local site=$1 daemon=$2
  case $daemon in
    rbd-mirror) echo "$(site_dir "$site")/run/client.rbd-mirror.$site.pid" ;;
    *) echo "$(site_dir "$site")/run/$daemon.pid" ;;
  esac
}

# A PID file's process counts as ours only if it is alive and runs the expected program: after a
# reboot a stale PID may belong to anything.
running_pid() {
  local file pid exe
  file=$(pid_file "$1" "$2")
  [ -s "$file" ] || return 1
  pid=$(cat "$file")
  alive "$pid" || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  case $2 in
    mon.*) [[ $exe == */ceph-mon ]] ;;
    mgr.*) [[ $exe == */ceph-mgr ]] ;;
    osd.*) [[ $exe == */ceph-osd ]] ;;
    rbd-mirror) [[ $exe == */rbd-mirror ]] ;;
  esac || return 1
  echo "$pid"
}

write_conf() {
  local site=$1 dir fsid v2 v1 lo hi
  dir=$(site_dir "$site")
  fsid=$(cat "$dir/fsid")
  v2=$(mon_v2_port "$site")
  v1=$((v2 + 1))
  lo=$((v2 + 10))
  hi=$((v2 + 99))
  cat >"$dir/ceph.conf" <<EOF
# $site of the drpair Ceph pair (deploy/ceph-pair.sh). Generated; edits are overwritten.
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$v2,v1:127.0.0.1:$v1]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_port_min = $lo
ms_bind_port_max = $hi
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
run_dir = $dir/run
admin_socket = $dir/run/\$name.\$pid.asok
mon_cluster_log_file = $dir/log/cluster.log
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 2
mon_data_avail_crit = 1
mgr_initial_modules =
osd_objectstore = bluestore
bluestore_block_size = 10737418240
bluestore_fsck_on_mkfs = false
osd_memory_target = 939524096
# Short client timeouts: a lost site must fail calls, not hang them.
client_mount_timeout = 10
rados_mon_op_timeout = 10
rados_osd_op_timeout = 30
# How soon rbd-mirror notices a new peer and restarts a stopped image replayer (Ceph: 30 s).
rbd_mirror_pool_replayers_refresh_interval = $mirror_tick
rbd_mirror_image_state_check_interval = $mirror_tick

[client]
keyring = $dir/ceph.client.admin.keyring

[mon]
mon_data = $dir/mon/\$name
pid_file = $dir/run/\$name.pid
log_file = $dir/log/\$name.log
admin_socket = $dir/run/\$name.asok

[mgr]
mgr_data = $dir/mgr/\$name
keyring = $dir/mgr/\$name/keyring
pid_file = $dir/run/\$name.pid
log_file = $dir/log/\$name.log
admin_socket = $dir/run/\$name.asok

[osd]
osd_data = $dir/osd/\$name
keyring = $dir/osd/\$name/keyring
pid_file = $dir/run/\$name.pid
log_file = $dir/log/\$name.log
admin_socket = $dir/run/\$name.asok

[client.rbd-mirror.$site]
keyring = $dir/client.rbd-mirror.$site.keyring
pid_file = $dir/run/\$name.pid
log_file = $dir/log/\$name.log
admin_socket = $dir/run/\$name.asok
EOF
  cat >"$dir/client.conf" <<EOF
# Client conf of $site for QEMU/libvirt and the drpair agents (client.libvirt).
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$v2,v1:127.0.0.1:$v1]
auth_client_required = cephx
client_mount_timeout = 10
rados_mon_op_timeout = 10
rados_osd_op_timeout = 30
admin_socket =
log_file =

[client]
keyring = $dir/client.libvirt.keyring
EOF
  echo "$v1" >"$dir/mon-port"
}

start_daemon() {
  local site=$1 daemon=$2 dir conf
  dir=$(site_dir "$site")
  conf=$dir/ceph.conf
  running_pid "$site" "$daemon" >/dev/null && return 0
  rm -f "$(pid_file "$site" "$daemon")"
  # A daemon started right after the mon can find it not answering yet ("failed to fetch mon
  # config", after client_mount_timeout) and exit: tried again, then reported.
  local try
  for try in 1 2 3; do
    case $daemon in
      mon.a) ceph-mon -c "$conf" -i a 2>>"$dir/log/stderr.log" ;;
      mgr.x) ceph-mgr -c "$conf" -i x 2>>"$dir/log/stderr.log" ;;
      osd.0) ceph-osd -c "$conf" -i 0 2>>"$dir/log/stderr.log" ;;
      # rbd-mirror -c alone did not reach its own cluster here: it needs CEPH_CONF as well.
      rbd-mirror) CEPH_CONF=$conf rbd-mirror -c "$conf" --id "rbd-mirror.$site" ;;
    esac && break
    [ "$try" = 3 ] && die "$site: $daemon exited at start, 3 times (log: $dir/log/stderr.log)"
    log "$site: $daemon exited at start (try $try of 3); starting it again"
    sleep 1
  done
  # The daemons fork; the PID file appears once the child is running.
  for _ in $(seq 1 100); do
    running_pid "$site" "$daemon" >/dev/null && return 0
    sleep 0.1
  done
  die "$site: $daemon did not start (log: $dir/log/)"
}

stop_daemon() {
  local site=$1 daemon=$2 pid
  pid=$(running_pid "$site" "$daemon") || { rm -f "$(pid_file "$site" "$daemon")"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "$site: $daemon ($pid) ignored SIGTERM for 10 s, killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$site" "$daemon")"
}

# Creates a site from nothing: keys, monmap, mon, mgr, OSD, pool, client keys.
create_site() {
  local site=$1 dir conf
  dir=$(site_dir "$site")
  conf=$dir/ceph.conf
  # A bring-up cut off half-way leaves daemons behind without the `created` marker.
  stop_site "$site" KILL
  rm -rf "$dir"
  mkdir -p "$dir"/{mon,mgr/mgr.x,osd/osd.0,run,log}
  uuidgen >"$dir/fsid"
  write_conf "$site"

  ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$dir/ceph.client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/ceph.client.admin.keyring" >/dev/null
  local v2
  v2=$(mon_v2_port "$site")
  monmaptool --create --fsid "$(cat "$dir/fsid")" \
    --addv a "[v2:127.0.0.1:$v2,v1:127.0.0.1:$((v2 + 1))]" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/mon.keyring" \
    2>>"$dir/log/mkfs.log"
  start_daemon "$site" mon.a

  # One CLI round trip per call is ~0.3 s; keys are made offline where the mon is not needed.
  local osd_uuid osd_key
  osd_uuid=$(uuidgen)
  osd_key=$(ceph-authtool --gen-print-key)
  printf '{"cephx_secret": "%s"}' "$osd_key" >"$dir/osd/secret.json"
  sceph "$site" auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    -o "$dir/mgr/mgr.x/keyring"
  start_daemon "$site" mgr.x
  local id
  id=$(sceph "$site" osd new "$osd_uuid" -i "$dir/osd/secret.json")
  [ "$id" = 0 ] || die "$site: expected osd id 0, got '$id'"
  ceph-authtool --create-keyring "$dir/osd/osd.0/keyring" --name osd.0 --add-key "$osd_key" \
    >/dev/null
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" 2>>"$dir/log/mkfs.log" >/dev/null
  start_daemon "$site" osd.0

  sceph "$site" osd pool create rbd 8 8 >/dev/null 2>&1
  timeout 60 rbd -c "$conf" pool init rbd
  sceph "$site" auth get-or-create "client.rbd-mirror.$site" \
    mon 'profile rbd-mirror' osd 'profile rbd' -o "$dir/client.rbd-mirror.$site.keyring"
  sceph "$site" auth get-or-create client.libvirt \
    mon 'profile rbd' osd 'profile rbd pool=rbd' -o "$dir/client.libvirt.keyring"
  sed -n 's/^[[:space:]]*key = //p' "$dir/client.libvirt.keyring" >"$dir/client.libvirt.key"
  start_daemon "$site" rbd-mirror
  touch "$dir/created"
}

# Waits until the site answers HEALTH_OK with every PG active+clean (bounded).
wait_healthy() {
  local site=$1 deadline=$((SECONDS + ${2:-60})) health
  while :; do
    health=$(sceph "$site" health 2>/dev/null || true)
    if [[ $health == HEALTH_OK* ]]; then
      return 0
    fi
    [ $SECONDS -lt $deadline ] || die "$site: not healthy in time: ${health:-no answer}"
    sleep 0.5
  done
}

bring_up_site() {
  local site=$1 dir d
  dir=$(site_dir "$site")
  if [ -e "$dir/created" ]; then
    write_conf "$site"
    for d in "${daemons[@]}"; do start_daemon "$site" "$d"; done
  else
    create_site "$site"
  fi
  wait_healthy "$site" 90
}

# Signals every daemon of the site at once (each takes ~2 s to stop on SIGTERM, so one by one
# would take 8 s) and waits for all of them; SIGKILL after 10 s. SIG=KILL simulates a power loss.
stop_site() {
  local site=$1 sig=${2:-TERM} d pid pids=()
  [ -d "$(site_dir "$site")" ] || return 0
  for d in "${daemons[@]}"; do
    if pid=$(running_pid "$site" "$d"); then
      kill "-$sig" "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  local alive
  for _ in $(seq 1 100); do
    alive=0
    for pid in "${pids[@]}"; do alive "$pid" && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if alive "$pid"; then
      log "$site: $pid ignored SIG$sig for 10 s, killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for d in "${daemons[@]}"; do rm -f "$(pid_file "$site" "$d")"; done
}

kill_site() { stop_site "$1" KILL; }

run_sites_in_parallel() {
  local fn=$1 pids=() s rc=0
  for s in "${sites[@]}"; do
    "$fn" "$s" &
    pids+=($!)
  done
  for s in "${pids[@]}"; do wait "$s" || rc=1; done
  return $rc
}

peer_sites() {
  local a=site-a b=site-b token
  for s in "$a" "$b"; do
    timeout 60 rbd -c "$(site_dir "$s")/ceph.conf" mirror pool enable rbd image \
      --site-name "$s" >/dev/null 2>&1 || die "$s: cannot enable mirroring on pool rbd"
  done
  if timeout 60 rbd -c "$(site_dir "$b")/ceph.conf" mirror pool info rbd --format json |
    grep -q '"peers":\[{'; then
    log "already peered"
    return 0
  fi
  token=$(mktemp)
  timeout 60 rbd -c "$(site_dir "$a")/ceph.conf" mirror pool peer bootstrap create rbd \
    --site-name "$a" >"$token"
  timeout 60 rbd -c "$(site_dir "$b")/ceph.conf" mirror pool peer bootstrap import rbd \
    --site-name "$b" --direction rx-tx "$token"
  rm -f "$token"
  # rbd-mirror sees a peer added after it started only on its periodic refresh.
  for s in "$a" "$b"; do stop_daemon "$s" rbd-mirror; start_daemon "$s" rbd-mirror; done
}

cmd_status() {
  local s d pid ok=0 health
  for s in "${sites[@]}"; do
    if [ ! -e "$(site_dir "$s")/created" ]; then
      echo "$s: absent"
      ok=1
      continue
    fi
    local line="$s:"
    for d in "${daemons[@]}"; do
      if pid=$(running_pid "$s" "$d"); then line+=" $d=$pid"; else line+=" $d=stopped"; ok=1; fi
    done
    if running_pid "$s" mon.a >/dev/null; then
      health=$(sceph "$s" health 2>/dev/null | head -1 || true)
      line+=" health=${health:-no-answer}"
      [[ $health == HEALTH_OK* ]] || ok=1
    fi
    echo "$line conf=$(site_dir "$s")/ceph.conf"
  done
  return $ok
}

check_tools() {
  local t
  for t in ceph ceph-mon ceph-mgr ceph-osd rbd-mirror rbd ceph-authtool monmaptool uuidgen; do
    command -v "$t" >/dev/null || die "missing '$t' (run deploy/install-deps.sh)"
  done
}

main() {
  local verb=${1:-}
  shift || true
  local start_ns
  start_ns=$(date +%s%N)
  elapsed() { echo "$(( ($(date +%s%N) - start_ns) / 1000000 ))"; }
  case $verb in
    up)
      check_tools
      mkdir -p "$root"
      echo "$base_port" >"$root/port"
      run_sites_in_parallel bring_up_site || die "bring-up failed (logs under $root/*/log/)"
      if [ "${1:-}" = --peered ]; then peer_sites; fi
      echo "ceph-pair: up in $(elapsed) ms ($root)"
      ;;
    status) cmd_status ;;
    down)
      # Everything is deleted next, so nothing needs a clean shutdown: SIGKILL takes no time,
      # while SIGTERM took 5-15 s (an rbd-mirror whose peer is already gone hangs in shutdown).
      run_sites_in_parallel kill_site
      rm -rf "$root"
      echo "ceph-pair: down in $(elapsed) ms"
      ;;
    stop-site)
      site_index "${1:?site}" >/dev/null
      if [ "${2:-}" = --kill ]; then stop_site "$1" KILL; else stop_site "$1"; fi
      echo "ceph-pair: $1 stopped in $(elapsed) ms"
      ;;
    start-site)
      site_index "${1:?site}" >/dev/null
      [ -e "$(site_dir "$1")/created" ] || die "$1 was never created: run 'up' first"
      bring_up_site "$1"
      echo "ceph-pair: $1 started in $(elapsed) ms"
      ;;
    restart-mirror)
      site_index "${1:?site}" >/dev/null
      stop_daemon "$1" rbd-mirror
      start_daemon "$1" rbd-mirror
      ;;
    peer) peer_sites ;;
    env)
      site_index "${1:?site}" >/dev/null
      echo "CEPH_CONF=$(site_dir "$1")/ceph.conf"
      echo "export CEPH_CONF"
      ;;
    *)
      sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
      exit 2
      ;;
  esac
}

main "$@"
