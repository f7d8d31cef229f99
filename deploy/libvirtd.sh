#!/bin/sh
# A private libvirtd (QEMU driver) plus Open vSwitch (userspace datapath) for one drpair site,
# without systemd: for the system tests and the two-site lab. Several sites run side by side,
# each with its own state folder, sockets, OVS database and bridge.
#
#   deploy/libvirtd.sh up     [SITE]   start (idempotent); prints the site's environment lines
#   deploy/libvirtd.sh status [SITE]   exit 0 if the daemons run and libvirtd answers
#   deploy/libvirtd.sh down   [SITE]   destroy the site's VMs, stop the daemons, remove the state
#                                      (QEMU's capabilities cache is kept: restarts take 0.2 s)
#
# SITE defaults to "site"; the state lives in $DRPAIR_LIBVIRTD_DIR/SITE (default
# /tmp/drpair-libvirtd/SITE). After `up`, SITE/env holds:
#   DRPAIR_LIBVIRT_URI   qemu:///system?socket=.../libvirt-sock   (connect here)
#   DRPAIR_OVS_DB        unix:.../db.sock                          (ovs-vsctl --db=...)
#   DRPAIR_OVS_BRIDGE    the site's OVS bridge (userspace datapath, datapath_type=netdev)
#   DRPAIR_SWITCH        the libvirt network on that bridge (default vswitch0)
#
# How (deploy notes, NOTES.md): libvirtd runs under `tini -s` (a subreaper, so QEMU children are
# reaped: destroy takes ~0.2 s instead of ~1.8 s) in a private mount namespace in which the site's
# folders are bind-mounted over /etc/libvirt, /run, /var/lib/libvirt, /var/cache/libvirt and
# /var/log/libvirt. It shares the host's network namespace (guests reach Ceph on 127.0.0.1).
# libvirt runs ovs-vsctl against /run/openvswitch/db.sock, so OVS's run folder is the site's
# run/openvswitch: inside the namespace that is exactly /run/openvswitch.
set -eu

verb=${1:-}
site=${2:-site}
case "$site" in *[!A-Za-z0-9_-]*|'') echo "libvirtd.sh: bad site name '$site'" >&2; exit 2;; esac
base=${DRPAIR_LIBVIRTD_DIR:-/tmp/drpair-libvirtd}
state=$base/$site
run=$state/run
ovsrun=$run/openvswitch
uri="qemu:///system?socket=$run/libvirt/libvirt-sock"
switch=${DRPAIR_SWITCH:-vswitch0}
# Interface names are at most 15 characters.
bridge=$(printf 'ovs-%s' "$site" | cut -c1-15)
ovsdb="unix:$ovsrun/db.sock"

log() { echo "libvirtd.sh[$site]: $*" >&2; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Stops the process whose PID is in file $1: TERM, up to 10 s, then KILL.
stop_pid() {
  [ -f "$1" ] || return 0
  pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

vsctl() { ovs-vsctl --db="$ovsdb" "$@"; }

answers() { virsh -c "$uri" version >/dev/null 2>&1; }

write_configs() {
  mkdir -p "$state/etc/qemu" "$state/etc/qemu/networks" "$run/libvirt" "$ovsrun" \
    "$state/lib/qemu" "$state/log" "$state/ovs" "$base/cache-$site"
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

start_ovs() {
  if pid_alive "$ovsrun/ovsdb-server.pid" && pid_alive "$ovsrun/ovs-vswitchd.pid"; then return; fi
  export OVS_RUNDIR="$ovsrun" OVS_DBDIR="$state/ovs" OVS_LOGDIR="$state/log"
  [ -f "$state/ovs/conf.db" ] ||
    ovsdb-tool create "$state/ovs/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server "$state/ovs/conf.db" --remote="punix:$ovsrun/db.sock" \
    --pidfile="$ovsrun/ovsdb-server.pid" --detach --log-file="$state/log/ovsdb-server.log" -vconsole:off
  vsctl --no-wait init
  # The kernel module is missing here: vswitchd logs that and runs the userspace datapath.
  ovs-vswitchd "$ovsdb" --pidfile="$ovsrun/ovs-vswitchd.pid" --detach \
    --log-file="$state/log/ovs-vswitchd.log" -vconsole:off
  vsctl --may-exist add-br "$bridge" -- set bridge "$bridge" datapath_type=netdev
}

start_libvirtd() {
  if pid_alive "$state/libvirtd.pid" && answers; then return; fi
  getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
  getent passwd libvirt-qemu >/dev/null ||
    useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
  # setsid: the daemon outlives the calling shell (and ctest's process group).
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
    [ $i -lt 300 ] || { log "libvirtd does not answer after 30 s"; exit 1; }
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
    start_ovs
    start_libvirtd
    define_switch
    write_env
    log "up ($uri)"
    ;;
  status)
    pid_alive "$state/libvirtd.pid" || { log "libvirtd not running"; exit 1; }
    pid_alive "$ovsrun/ovs-vswitchd.pid" || { log "ovs-vswitchd not running"; exit 1; }
    answers || { log "libvirtd does not answer"; exit 1; }
    log "running ($uri)"
    ;;
  down)
    if answers; then
      for dom in $(virsh -c "$uri" list --name 2>/dev/null); do
        virsh -c "$uri" destroy "$dom" >/dev/null 2>&1 || true
      done
    fi
    stop_pid "$state/libvirtd.pid"
    # QEMU processes left behind by a crashed daemon.
    for p in "$run"/libvirt/qemu/*.pid; do [ -f "$p" ] && stop_pid "$p"; done
    if pid_alive "$ovsrun/ovs-vswitchd.pid"; then vsctl --if-exists del-br "$bridge" || true; fi
    stop_pid "$ovsrun/ovs-vswitchd.pid"
    stop_pid "$ovsrun/ovsdb-server.pid"
    rm -rf "$state"
    log "down"
    ;;
  *)
    echo "usage: $0 up|status|down [SITE]" >&2
    exit 2
    ;;
esac
