#!/bin/sh
# A private libvirtd (QEMU driver) for one drpair site, plus a bridge for it on the host's one
# Open vSwitch (userspace datapath), without systemd: for the system tests and the two-site lab.
# Several sites run side by side on one host, each with its own state folder, libvirtd and bridge.
#
#   deploy/libvirtd.sh up     [SITE]   start (idempotent); prints the site's environment lines.
#                                      Fails unless the site's bridge exists afterwards and a tap
#                                      (as libvirt makes for a VM's NIC) can be added to it
#   deploy/libvirtd.sh status [SITE]   exit 0 if the daemons run, libvirtd answers, the bridge exists
#   deploy/libvirtd.sh stop   [SITE]   a lost host: its VMs powered off (their QEMU killed) and its
#                                      libvirtd stopped; its state and bridge stay, so `up` brings
#                                      it back with its domains and networks (idempotent)
#   deploy/libvirtd.sh down   [SITE]   destroy the site's VMs, stop its libvirtd, delete its bridge,
#                                      remove its state (idempotent); stops Open vSwitch when no
#                                      site uses it any more. QEMU's capabilities cache
#                                      ($DRPAIR_LIBVIRTD_DIR/cache-SITE) is kept: restarts take 0.2 s
#
# SITE defaults to "site"; the state lives in $DRPAIR_LIBVIRTD_DIR/SITE (default
# /tmp/drpair-libvirtd/SITE). After `up`, SITE/env holds:
#   DRPAIR_LIBVIRT_URI   qemu:///system?socket=.../libvirt-sock   (connect here)
#   DRPAIR_OVS_DB        unix:/tmp/drpair-ovs/run/db.sock          (ovs-vsctl --db=...; all sites)
#   DRPAIR_OVS_BRIDGE    the site's bridge (datapath_type=netdev): ovs-SITE cut to 15 characters,
#                        or ovs-HASH (11 hex digits of the state path's MD5) when a site of another
#                        DRPAIR_LIBVIRTD_DIR already holds that name (e.g. two build trees' ctest
#                        fixtures, both SITE=systest). Read it from SITE/env, do not guess it.
#   DRPAIR_SWITCH        the libvirt network on that bridge (default vswitch0)
#
# How (docs/platform-notes.md, "A private libvirtd"): libvirtd runs under `tini -s` (a subreaper,
# so QEMU children are reaped: destroy takes ~0.2 s instead of ~1.8 s) in a private mount namespace
# in which the site's folders are bind-mounted over /etc/libvirt, /run, /var/lib/libvirt,
# /var/cache/libvirt and /var/log/libvirt. It shares the host's network namespace (guests reach
# Ceph on 127.0.0.1).
#
# Open vSwitch: its userspace (netdev) datapath makes ONE tap device `ovs-netdev` per network
# namespace, so only one ovs-vswitchd can run on the host (a second one fails with "creating tap
# device failed: Device or resource busy" and makes no bridge). So all sites, whatever their
# DRPAIR_LIBVIRTD_DIR, share one ovsdb-server + ovs-vswitchd whose state is /tmp/drpair-ovs
# (conf.db; run/ with db.sock, PID files and control sockets; log/). It is reference-counted:
# /tmp/drpair-ovs/users/BRIDGE holds the state folder of the site that owns BRIDGE. The first
# `up` starts Open vSwitch, the last `down` stops it (`ovs-appctl exit --cleanup`: the datapath
# and its taps go too) and removes /tmp/drpair-ovs. Registrations whose state folder is gone are
# dropped, with their bridges. Start, registration and stop run under the lock
# /run/lock/drpair-ovs.lock (the empty lock file stays). Before Open vSwitch starts, a leftover
# persistent tap `ovs-netdev` from a crashed run is deleted if no process holds it; if a process
# holds it (an Open vSwitch not started by this script), `up` fails naming that process.
# libvirt runs ovs-vsctl against /run/openvswitch/db.sock: the site's run/openvswitch is a symlink
# to /tmp/drpair-ovs/run, and inside libvirtd's namespace the site's run folder is /run.
set -eu

verb=${1:-}
site=${2:-site}
case "$site" in *[!A-Za-z0-9_-]*|'') echo "libvirtd.sh: bad site name '$site'" >&2; exit 2;; esac
# Absolute and canonical: the state path also names the site in Open vSwitch's user list.
base=$(realpath -m -- "${DRPAIR_LIBVIRTD_DIR:-/tmp/drpair-libvirtd}")
state=$base/$site
run=$state/run
uri="qemu:///system?socket=$run/libvirt/libvirt-sock"
switch=${DRPAIR_SWITCH:-vswitch0}
# The site's bridge: ovs-SITE, or ovs-HASH (of the state path) if a site of another
# DRPAIR_LIBVIRTD_DIR holds that name. Interface names are at most 15 characters. `up` chooses
# and writes it to SITE/bridge.
primary_bridge=$(printf 'ovs-%s' "$site" | cut -c1-15)
alt_bridge=ovs-$(printf '%s' "$state" | md5sum | cut -c1-11)
bridge=$(cat "$state/bridge" 2>/dev/null) || bridge=$primary_bridge
# The host's one Open vSwitch (see above): not per DRPAIR_LIBVIRTD_DIR, on purpose.
ovsdir=/tmp/drpair-ovs
ovsrun=$ovsdir/run
ovsdb="unix:$ovsrun/db.sock"
ovslock=/run/lock/drpair-ovs.lock

log() { echo "libvirtd.sh[$site]: $*" >&2; }
die() { log "$*"; exit 1; }

# A process that exited but is not reaped yet (a zombie) counts as gone.
proc_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

pid_alive() { _pid=$(cat "$1" 2>/dev/null) && [ -n "$_pid" ] && proc_alive "$_pid"; }

# Stops the process whose PID is in file $1: TERM, up to 10 s, then KILL. (Daemons remove their
# own PID file when they exit: it may vanish at any time.)
stop_pid() {
  pid=$(cat "$1" 2>/dev/null) || pid=
  if [ -n "$pid" ] && proc_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while proc_alive "$pid" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

vsctl() { ovs-vsctl --db="$ovsdb" --timeout=20 "$@"; }

answers() { virsh -c "$uri" version >/dev/null 2>&1; }

ovs_alive() { pid_alive "$ovsrun/ovsdb-server.pid" && pid_alive "$ovsrun/ovs-vswitchd.pid"; }

# Runs "$@" (a function) in a subshell holding the host-wide Open vSwitch lock (fd 9; daemons
# started there get 9>&- so that they do not keep it).
with_ovs_lock() {
  mkdir -p "$(dirname "$ovslock")"
  (
    flock -w 120 9 || die "could not take $ovslock within 120 s"
    "$@"
  ) 9>"$ovslock"
}

# PIDs of the processes holding tap/tun device $1 open.
tap_holders() {
  grep -ls "^iff:[[:space:]]*$1\$" /proc/[0-9]*/fdinfo/* 2>/dev/null | cut -d/ -f3 | sort -u || true
}

# Deletes the tap device $1 if it exists and no process holds it (a persistent tap left by an
# ovs-vswitchd that died without cleaning up). Fails, naming the holders, if a process holds it,
# and fails if $1 is some other kind of interface (left alone).
free_tap() {
  [ -e "/sys/class/net/$1" ] || return 0
  [ -e "/sys/class/net/$1/tun_flags" ] || { log "  $1 exists and is not a tap device"; return 1; }
  holders=$(tap_holders "$1")
  if [ -n "$holders" ]; then
    for p in $holders; do log "  $1 is held by PID $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"; done
    return 1
  fi
  log "deleting leftover tap device $1"
  ip tuntap del dev "$1" mode tap 2>/dev/null || ip link delete "$1" 2>/dev/null || true
  [ ! -e "/sys/class/net/$1" ] || { log "  could not delete $1"; return 1; }
}

ovs_start() {
  stop_pid "$ovsrun/ovs-vswitchd.pid"
  stop_pid "$ovsrun/ovsdb-server.pid"
  mkdir -p "$ovsrun" "$ovsdir/log" "$ovsdir/users"
  if ! free_tap ovs-netdev; then
    [ -n "$(ls -A "$ovsdir/users")" ] || rm -rf "$ovsdir"
    die "tap device ovs-netdev is in use: another Open vSwitch userspace datapath runs on this host (an older deploy/libvirtd.sh?); stop it first"
  fi
  export OVS_RUNDIR="$ovsrun" OVS_DBDIR="$ovsdir" OVS_LOGDIR="$ovsdir/log"
  # A database left by a crash still lists the bridges of live sites: keep it.
  [ -f "$ovsdir/conf.db" ] ||
    ovsdb-tool create "$ovsdir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server "$ovsdir/conf.db" --remote="punix:$ovsrun/db.sock" \
    --pidfile="$ovsrun/ovsdb-server.pid" --detach --log-file="$ovsdir/log/ovsdb-server.log" \
    -vconsole:off 9>&-
  vsctl --no-wait init
  # The kernel module is missing here: vswitchd logs that and runs the userspace datapath.
  ovs-vswitchd "$ovsdb" --pidfile="$ovsrun/ovs-vswitchd.pid" --detach \
    --log-file="$ovsdir/log/ovs-vswitchd.log" -vconsole:off 9>&-
  log "started Open vSwitch ($ovsdir)"
}

ovs_stop() {
  vpid=$(cat "$ovsrun/ovs-vswitchd.pid" 2>/dev/null) || vpid=
  if [ -n "$vpid" ] && proc_alive "$vpid"; then
    # --cleanup deletes the datapath and its ports, taps included.
    OVS_RUNDIR="$ovsrun" ovs-appctl --timeout=10 -t "$ovsrun/ovs-vswitchd.$vpid.ctl" exit --cleanup \
      >/dev/null 2>&1 || true
  fi
  stop_pid "$ovsrun/ovs-vswitchd.pid"
  stop_pid "$ovsrun/ovsdb-server.pid"
  [ -n "$(tap_holders ovs-netdev)" ] || free_tap ovs-netdev || true
  rm -rf "$ovsdir"
  log "stopped Open vSwitch (no site uses it)"
}

# Drops registrations whose site state folder is gone (the site was removed without `down`).
prune_users() {
  for r in "$ovsdir"/users/*; do
    [ -f "$r" ] || continue
    [ ! -d "$(cat "$r")" ] || continue
    b=$(basename "$r")
    log "dropping stale bridge $b (its site $(cat "$r") is gone)"
    if ovs_alive; then vsctl --if-exists del-br "$b" || true; fi
    rm -f "$r"
  done
}

bridge_fail() {
  log "$*"
  tail -n 5 "$ovsdir/log/ovs-vswitchd.log" >&2 2>/dev/null || true
  exit 1
}

# The bridge registered to this site (empty if none).
own_bridge() {
  for r in "$ovsdir"/users/*; do
    if [ -f "$r" ] && [ "$(cat "$r")" = "$state" ]; then basename "$r"; return 0; fi
  done
  return 0
}

# Under the lock: start Open vSwitch if needed, register the site, make and check its bridge.
ovs_up() {
  ovs_alive || ovs_start
  mkdir -p "$ovsdir/users"
  prune_users
  bridge=$(own_bridge)
  if [ -z "$bridge" ]; then
    bridge=$primary_bridge
    if [ -f "$ovsdir/users/$bridge" ]; then
      log "bridge $bridge belongs to the site in $(cat "$ovsdir/users/$bridge"): using $alt_bridge"
      bridge=$alt_bridge
      [ ! -f "$ovsdir/users/$bridge" ] ||
        die "bridge $bridge belongs to the site in $(cat "$ovsdir/users/$bridge") too"
    fi
    echo "$state" >"$ovsdir/users/$bridge"
  fi
  echo "$bridge" >"$state/bridge"
  if ! vsctl br-exists "$bridge"; then
    # A persistent tap of that name from a crashed run would be taken over by vswitchd; drop it.
    free_tap "$bridge" || die "interface $bridge exists and is not a free tap: cannot make bridge $bridge"
  fi
  vsctl --may-exist add-br "$bridge" -- set bridge "$bridge" datapath_type=netdev ||
    bridge_fail "ovs-vsctl add-br $bridge failed"
  vsctl br-exists "$bridge" || bridge_fail "bridge $bridge is not in Open vSwitch's database"
  err=$(vsctl get interface "$bridge" error 2>/dev/null || echo '?')
  [ "$err" = '[]' ] || bridge_fail "bridge $bridge: Open vSwitch reports error $err"
  [ -e "/sys/class/net/$bridge" ] || bridge_fail "bridge $bridge: no network device $bridge"
  # A VM-facing port as libvirt makes it: a tap device added to the bridge must get an OpenFlow port.
  t=drpt$$
  ip tuntap add dev "$t" mode tap || bridge_fail "cannot create test tap $t"
  if out=$(vsctl add-port "$bridge" "$t" 2>&1); then
    ofport=$(vsctl get interface "$t" ofport 2>&1) || ofport="? ($ofport)"
  else
    ofport="? (add-port: $out)"
  fi
  vsctl --if-exists del-port "$bridge" "$t" || true
  ip tuntap del dev "$t" mode tap 2>/dev/null || true
  case "$ofport" in
    ''|*[!0-9]*|0) bridge_fail "bridge $bridge does not take a port (test port $t: ofport $ofport)";;
  esac
}

# Under the lock: delete the site's bridge, unregister it, stop Open vSwitch if no site is left.
ovs_down() {
  [ -d "$ovsdir" ] || { free_tap "$bridge" || true; return 0; }
  mine=1
  b=$(own_bridge)
  if [ -n "$b" ]; then
    bridge=$b
  elif [ -f "$ovsdir/users/$bridge" ]; then
    mine=0  # another site's (this one's `up` failed before registering)
  fi
  if [ $mine = 1 ]; then
    if ovs_alive; then vsctl --if-exists del-br "$bridge" || log "could not delete bridge $bridge"; fi
    rm -f "$ovsdir/users/$bridge"
  fi
  prune_users
  if [ -z "$(ls -A "$ovsdir/users" 2>/dev/null)" ]; then ovs_stop; fi
  if [ $mine = 1 ]; then free_tap "$bridge" || true; fi
}

write_configs() {
  if [ -d "$run/openvswitch" ] && [ ! -L "$run/openvswitch" ]; then
    die "site state $state comes from an older deploy/libvirtd.sh (its own Open vSwitch): run '$0 down $site' first"
  fi
  mkdir -p "$state/etc/qemu" "$state/etc/qemu/networks" "$run/libvirt" \
    "$state/lib/qemu" "$state/log" "$base/cache-$site"
  ln -sfn "$ovsrun" "$run/openvswitch"
  cat >"$state/etc/libvirtd.conf" <<CONF
unix_sock_dir = "/run/libvirt"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
  cat >"$state/etc/qemu.conf" <<CONF
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
stdio_handler = "file"
CONF
  : >"$state/etc/network.conf"
}

start_libvirtd() {
  if pid_alive "$state/libvirtd.pid" && answers; then return; fi
  getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
  getent passwd libvirt-qemu >/dev/null ||
    useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
  # setsid: the daemon outlives the calling shell (and ctest's process group).
  # shellcheck disable=SC2016 # $1 and $2 expand in the inner shell
  setsid unshare --mount --propagation private sh -c '
    set -e
    mount --bind "$1/etc" /etc/libvirt
    mount --bind "$1/run" /run
    mount --bind "$1/lib" /var/lib/libvirt 2>/dev/null || { mkdir -p /var/lib/libvirt; mount --bind "$1/lib" /var/lib/libvirt; }
    mkdir -p /var/cache/libvirt /var/log/libvirt
    mount --bind "$2" /var/cache/libvirt
    mount --bind "$1/log" /var/log/libvirt
    exec tini -s -- libvirtd -f /etc/libvirt/libvirtd.conf
  ' sh "$state" "$base/cache-$site" </dev/null >"$state/log/libvirtd.out" 2>&1 &
  echo $! >"$state/libvirtd.pid"
  i=0
  until answers; do
    if ! pid_alive "$state/libvirtd.pid"; then
      log "libvirtd exited; see $state/log/libvirtd.out and $state/log/libvirtd.log"
      cat "$state/log/libvirtd.out" >&2 || true
      exit 1
    fi
    [ $i -lt 300 ] || die "libvirtd does not answer after 30 s"
    sleep 0.1
    i=$((i + 1))
  done
}

define_switch() {
  if virsh -c "$uri" net-info "$switch" >/dev/null 2>&1; then return; fi
  xml=$state/switch.xml
  cat >"$xml" <<XML
<network>
  <name>$switch</name>
  <forward mode='bridge'/>
  <bridge name='$bridge'/>
  <virtualport type='openvswitch'/>
</network>
XML
  virsh -c "$uri" net-define "$xml" >/dev/null
  virsh -c "$uri" net-start "$switch" >/dev/null
  virsh -c "$uri" net-autostart "$switch" >/dev/null
}

# The site's VMs and libvirtd stop; its state stays.
stop_site() {
  if answers; then
    for dom in $(virsh -c "$uri" list --name 2>/dev/null); do
      virsh -c "$uri" destroy "$dom" >/dev/null 2>&1 || true
    done
  fi
  stop_pid "$state/libvirtd.pid"
  # QEMU processes left behind by a crashed daemon.
  for p in "$run"/libvirt/qemu/*.pid; do
    if [ -f "$p" ]; then stop_pid "$p"; fi
  done
}

write_env() {
  cat >"$state/env" <<ENV
DRPAIR_LIBVIRT_URI='$uri'
DRPAIR_OVS_DB='$ovsdb'
DRPAIR_OVS_BRIDGE='$bridge'
DRPAIR_SWITCH='$switch'
ENV
  cat "$state/env"
}

case "$verb" in
  up)
    write_configs
    with_ovs_lock ovs_up
    bridge=$(cat "$state/bridge")
    start_libvirtd
    define_switch
    write_env
    log "up ($uri, bridge $bridge)"
    ;;
  status)
    pid_alive "$state/libvirtd.pid" || die "libvirtd not running"
    ovs_alive || die "Open vSwitch ($ovsdir) not running"
    answers || die "libvirtd does not answer"
    if ! vsctl br-exists "$bridge" || [ ! -e "/sys/class/net/$bridge" ]; then
      die "bridge $bridge missing"
    fi
    log "running ($uri, bridge $bridge)"
    ;;
  stop)
    stop_site
    log "stopped (state kept: '$0 up $site' starts it again)"
    ;;
  down)
    stop_site
    # A site started by an older libvirtd.sh ran its own Open vSwitch in run/openvswitch.
    if [ -d "$run/openvswitch" ] && [ ! -L "$run/openvswitch" ]; then
      stop_pid "$run/openvswitch/ovs-vswitchd.pid"
      stop_pid "$run/openvswitch/ovsdb-server.pid"
      free_tap ovs-netdev || true
    fi
    with_ovs_lock ovs_down
    rm -rf "$state"
    log "down"
    ;;
  *)
    echo "usage: $0 up|status|stop|down [SITE]" >&2
    exit 2
    ;;
esac
