#!/usr/bin/env bash
# The two-site lab (README, first command): drpair doing its whole job on one machine.
#
#   deploy/lab/up.sh [--no-failover | --drill | --round-trip]
#
# On a fresh Debian 12 machine: installs the packages, builds drpair, then
#   1. brings up two Ceph clusters (site-a, site-b) with rbd-mirror, a private libvirtd per site
#      (QEMU, TCG guests) with an Open vSwitch bridge behind the libvirt network vswitch0 (site-b
#      also a second switch, backend0, on a bridge of its own), a CA and agent certificates per
#      site plus an operator certificate, and both agents on loopback; they map with the lab's
#      mapping policy (deploy/lab/app1.sh policy: other VLANs at site-b, app1-db on backend0,
#      app1-web's subnet translated);
#   2. creates APP1 at site-a: 4 tiny VMs on 3 VLAN portgroups, each booting from its own RBD image
#      a boot sector that prints the marker kept on its disk ("DRPAIR vm=NAME gen=1");
#   3. protects APP1 (mode first: the DR agent maps it), waits until every mirror pair synced;
#      with --drill or --round-trip, a drill (deploy/lab/drill.sh 1: APP1 up at site-b on the
#      isolated drill switch from copies of its replicas, proven, marker generation 2 written at
#      site-a meanwhile and read back from site-b's replicas, cleaned up, site-b as before);
#      writes marker generation 2 into the production images, takes a mirror snapshot and waits
#      until it landed at site-b;
#   4. unless --no-failover: takes site-a down (deploy/lab/disaster.sh), fires the failover with a
#      signed webhook, follows the job with `drpair jobs ID --follow`, and proves APP1 runs whole
#      at site-b: every VM running, every NIC where the policy puts it (switch, portgroup, VLAN in
#      libvirt and OVS, translated address), every serial console showing generation 2;
#   5. prints the report (phase times, RTO, replication lag) and writes lab.env; its path is the
#      last line ("lab.env: PATH").
# With --round-trip, after step 4 the whole way home and a second disaster:
#   6. site-a returns (deploy/lab/site-returns.sh) while a poller reads site-a with Ceph's `rbd`
#      and virsh every 0.5 s: within 60 s of its agent starting every APP1 image there is
#      non-primary, at no sample does an APP1 VM run there, and site-a takes no new primary mirror
#      snapshot (its demotions aside);
#   7. `drpair reprotect app1 --wait`; the reverse lag stays under twice the snapshot interval;
#      marker generation 3 written at site-b is read back from site-a's replica with `rbd`;
#   8. `drpair failback app1 --wait`; the proof at site-a (every VM running, every NIC on its
#      portgroup and VLAN, every console showing generation 3), none at site-b, every image primary
#      only at site-a; a second failback is refused;
#   9. a second disaster, `drpair failover app1 --type disaster --wait`, and APP1 whole at site-b
#      with generation 3; the report adds the fence, reprotect and failback times and the reverse lag.
# With --no-failover (or --drill) it stops after step 3: APP1 runs at site-a and is registered at
# site-b; then `drpair drill app1` by hand, or deploy/lab/disaster.sh and a signed webhook (see
# lab.env and the README) fail it over.
# Running it again is safe: what is up stays up. deploy/lab/down.sh removes everything.
# Environment: see deploy/lab/lab.sh (state folder, ports, build folder).
set -euo pipefail
# shellcheck source=deploy/lab/lab.sh
. "$(dirname "$0")/lab.sh"

failover=yes
round_trip=no
drill=no
case "${1:-}" in
  --no-failover) failover=no ;;
  --drill) failover=no drill=yes ;;
  --round-trip) round_trip=yes drill=yes ;;
  "") ;;
  *) echo "usage: $0 [--no-failover | --drill | --round-trip]" >&2; exit 2 ;;
esac

started=$(date +%s.%N)

if [ "${DRPAIR_LAB_SKIP_BUILD:-}" != 1 ]; then
  say "packages and build"
  "$lab_root/deploy/install-deps.sh"
  cmake -S "$lab_root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  ninja -C "$build_dir" drpair drpair-production-agent drpair-dr-agent
fi
for b in drpair drpair-production-agent drpair-dr-agent; do
  [ -x "$bin/$b" ] || lab_die "$bin/$b is not built"
done
mkdir -p "$lab_dir"

say "site infrastructure: Ceph pair, libvirtd + Open vSwitch per site, certificates"
"$lab_root/deploy/ceph-pair.sh" up
"$lab_root/deploy/libvirtd.sh" up "$prod_site" >/dev/null
"$lab_root/deploy/libvirtd.sh" up "$dr_site" >/dev/null
"$lab_root/deploy/pki/make-pki.sh" "$lab_dir/pki" --sites site-a,site-b --operator ops >/dev/null
cat "$pki/site-a/ca.crt" "$pki/site-b/ca.crt" >"$pki/agents-ca.pem"
mkdir -p "$lab_dir/production" "$lab_dir/dr" "$lab_dir/consoles/site-a" "$lab_dir/consoles/site-b"
# site-b's own Open vSwitch bridges, named per lab folder (one Open vSwitch serves every lab of the
# host): its second switch's, where the mapping policy puts APP1's db network; and the drill
# bridge, with no uplink (no port but the drill VMs'), for drills.
lab_hash=$(printf '%s' "$lab_dir" | md5sum | cut -c1-8)
second_bridge=bk-$lab_hash
drill_network=drill0
drill_bridge=drill-$lab_hash
for br in "$second_bridge" "$drill_bridge"; do
  ovs-vsctl --db="$(. "$DRPAIR_LIBVIRTD_DIR/$dr_site/env"; echo "$DRPAIR_OVS_DB")" --timeout=20 \
    --may-exist add-br "$br" -- set bridge "$br" datapath_type=netdev ||
    lab_die "cannot make the Open vSwitch bridge $br"
done
DRPAIR_SITE_CONFIG=$lab_dir/production/site.json "$lab_root/deploy/lab/app1.sh" site-setup "$prod_site" production >/dev/null
DRPAIR_SITE_CONFIG=$lab_dir/dr/site.json "$lab_root/deploy/lab/app1.sh" site-setup "$dr_site" dr "$second_bridge" >/dev/null
# Both agents map APP1 with the lab's mapping policy (the DR agent in mode first, the production
# agent in mode second): other VLANs at site-b, app1-db on the second switch, app1-web's subnet
# translated (deploy/lab/app1.sh, "Where APP1's networks are").
"$lab_root/deploy/lab/app1.sh" policy "$dr_site" >"$lab_dir/policy.json"
# VMs drpair defines keep their serial console in a file the lab can read: restored ones (and a
# drill's) at site-b, those a failback brings home (added at site-b) at site-a.
for agent_site in production:site-a dr:site-b; do
  python3 - "$lab_dir/${agent_site%%:*}/site.json" "$lab_dir/consoles/${agent_site#*:}" \
    "$drill_network" "$drill_bridge" <<'PY'
import json, sys
path, consoles, network, bridge = sys.argv[1:]
doc = json.load(open(path))
doc["consoleLogDir"] = consoles
if doc["site"] == "site-b":
    doc["drill"] = {"network": network, "bridge": bridge, "kind": "openvswitch"}
json.dump(doc, open(path, "w"), indent=2)
PY
done

secret_file=$lab_dir/dr/webhook.secret
[ -s "$secret_file" ] || (umask 077; openssl rand -hex 32 >"$secret_file")
webhook_secret=$(cat "$secret_file")
# Alertmanager's bearer token; the DR agent's config keeps only its SHA-256.
token_file=$lab_dir/dr/alertmanager.token
[ -s "$token_file" ] || (umask 077; openssl rand -hex 24 >"$token_file")
alertmanager_token=$(cat "$token_file")

# agent_config ROLE SITE PEER PORT PEER_PORT DIR
agent_config() {
  local role=$1 site=$2 peer=$3 port=$4 peer_port=$5 dir=$6
  python3 - "$role" "$site" "$peer" "$port" "$peer_port" "$dir" "$pki" "$DRPAIR_CEPH_DIR" \
    "$DRPAIR_LIBVIRTD_DIR" "$secret_file" "$token_file" <<'PY'
import hashlib, json, os, sys
role, site, peer, port, peer_port, d, pki, ceph, libvirtd, secret, token = sys.argv[1:]
libvirtd_site = {"site-a": "lab-a", "site-b": "lab-b"}[site]
uri = [l.strip().split("=", 1)[1].strip("'") for l in open(f"{libvirtd}/{libvirtd_site}/env")
       if l.startswith("DRPAIR_LIBVIRT_URI=")][0]
doc = {
  "apiVersion": "drpair/v1", "kind": "AgentConfig", "role": role,
  "listen": {"address": "127.0.0.1", "port": int(port)},
  "tls": {"cert": f"{pki}/{site}/agent.crt", "key": f"{pki}/{site}/agent.key",
          "peerCa": f"{pki}/{peer}/ca.crt", "operatorCa": f"{pki}/operator/ca.crt"},
  "operators": {"names": ["ops"], "viewers": ["dashboard"]},
  "peer": {"site": peer, "url": f"https://127.0.0.1:{peer_port}", "ca": f"{pki}/{peer}/ca.crt",
           "timeoutSeconds": 60},
  "stateFile": f"{d}/state.db",
  "mappingPolicy": os.path.join(os.path.dirname(d), "policy.json"),
  "libvirt": {"uri": uri},
  "siteConfig": f"{d}/site.json",
  "ceph": {"conf": f"{ceph}/{site}/ceph.conf", "clientId": "admin"},
  "protection": {"captureIntervalSeconds": 30, "snapshotIntervalSeconds": 30,
                 "replicationTimeoutSeconds": 300},
  # The lab's guests (a boot sector) ignore ACPI: a planned failover powers them off after 5 s.
  "failover": {"fenceTimeoutSeconds": 5, "demoteTimeoutSeconds": 120, "promoteTimeoutSeconds": 120,
               "shutdownTimeoutSeconds": 5},
}
if role == "dr":
  token_hash = hashlib.sha256(open(token).read().strip().encode()).hexdigest()
  doc["webhooks"] = {"secretFile": secret, "maxAgeSeconds": 300,
                     "alertmanager": {"tokenSha256": token_hash, "appLabel": "drpair_app",
                                      "type": "disaster"}}
json.dump(doc, open(f"{d}/agent.json", "w"), indent=2)
PY
}
agent_config production site-a site-b "$prod_port" "$dr_port" "$lab_dir/production"
agent_config dr site-b site-a "$dr_port" "$prod_port" "$lab_dir/dr"

say "agents: production (site-a, :$prod_port) and DR (site-b, :$dr_port), mutual TLS"
start_agent drpair-production-agent "$lab_dir/production" "$prod_port"
start_agent drpair-dr-agent "$lab_dir/dr" "$dr_port"

lab_env=$lab_dir/lab.env
cat >"$lab_env" <<ENV
DRPAIR_PRODUCTION_URL=https://127.0.0.1:$prod_port
DRPAIR_DR_URL=https://127.0.0.1:$dr_port
DRPAIR_CACERT=$pki/agents-ca.pem
DRPAIR_CERT=$pki/operator/ops.crt
DRPAIR_KEY=$pki/operator/ops.key
DRPAIR_WEBHOOK_SECRET=$webhook_secret
DRPAIR_ALERTMANAGER_TOKEN=$alertmanager_token
DRPAIR_DR_LIBVIRT_URI=$(. "$DRPAIR_LIBVIRTD_DIR/$dr_site/env"; echo "$DRPAIR_LIBVIRT_URI")
DRPAIR_PRODUCTION_LIBVIRT_URI=$(. "$DRPAIR_LIBVIRTD_DIR/$prod_site/env"; echo "$DRPAIR_LIBVIRT_URI")
DRPAIR_PRODUCTION_CEPH_CONF=$DRPAIR_CEPH_DIR/site-a/ceph.conf
DRPAIR_DR_CEPH_CONF=$DRPAIR_CEPH_DIR/site-b/ceph.conf
DRPAIR_LAB_DIR=$lab_dir
DRPAIR_CEPH_DIR=$DRPAIR_CEPH_DIR
DRPAIR_LIBVIRTD_DIR=$DRPAIR_LIBVIRTD_DIR
DRPAIR_DRILL_NETWORK=$drill_network
DRPAIR_DRILL_BRIDGE=$drill_bridge
DRPAIR_SECOND_BRIDGE=$second_bridge
ENV
set -a
# shellcheck disable=SC1090
. "$lab_env"
set +a

say "APP1 at site-a: 4 VMs on 3 VLAN portgroups, booting from RBD"
"$lab_root/deploy/lab/app1.sh" create "$prod_site"

app_state=$(drpair status app1 --url "$DRPAIR_DR_URL" --json 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin).get("state",""))' 2>/dev/null || true)
if [ "$app_state" = failed_over ]; then
  say "APP1 already failed over to site-b (an earlier run); deploy/lab/down.sh starts over"
  drpair status app1 --url "$DRPAIR_DR_URL"
  echo "lab.env: $lab_env"
  exit 0
fi
if [ "$app_state" != protected ]; then
  say "protect APP1 (mode first): capture, ship, pair, replicate"
  drpair protect app1 --mode first --wait
fi
drpair status app1 --url "$DRPAIR_DR_URL"

if [ $drill = yes ]; then
  "$lab_root/deploy/lab/drill.sh" 1
fi

say "new data at production: marker generation 2, a mirror snapshot, landed at site-b"
"$lab_root/deploy/lab/app1.sh" write-marker "$prod_site" 2
marked=$(date -u +%Y-%m-%dT%H:%M:%S)
drpair snapshot app1
landed=no
for _ in $(seq 120); do
  if drpair status app1 --url "$DRPAIR_DR_URL" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
ok = d["images"] and all(i["lastSyncAt"] and i["lastSyncAt"][:19] >= sys.argv[1] for i in d["images"])
sys.exit(0 if ok else 1)' "$marked"; then
    landed=yes
    break
  fi
  sleep 1
done
if [ $landed = no ]; then
  drpair status app1 --url "$DRPAIR_DR_URL" >&2 || true
  lab_die "the mirror snapshot taken at $marked (UTC) has not synced to site-b after 120 s: see" \
    "the images' lastSyncAt above and 'rbd mirror pool status --verbose' at site-b"
fi
drpair status app1 --url "$DRPAIR_DR_URL"
lag=$(drpair status app1 --url "$DRPAIR_DR_URL" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
lags = [i["lagSeconds"] for i in d["images"] if i["lagSeconds"] is not None]
print(max(lags) if lags else "unknown")')

if [ $failover = no ]; then
  say "protected: APP1 runs at site-a and is registered at site-b (no failover: ${1:-})"
  echo "lab.env: $lab_env"
  exit 0
fi

protect_job=$(curl -sS --cacert "$DRPAIR_CACERT" --cert "$DRPAIR_CERT" --key "$DRPAIR_KEY" \
  "$DRPAIR_PRODUCTION_URL/v1/jobs?app=app1" | python3 -c '
import json, sys
jobs = [j for j in json.load(sys.stdin)["jobs"] if j["type"] == "protect" and j["state"] == "succeeded"]
print(jobs[0]["id"] if jobs else "")')
curl -sS --cacert "$DRPAIR_CACERT" --cert "$DRPAIR_CERT" --key "$DRPAIR_KEY" \
  "$DRPAIR_PRODUCTION_URL/v1/jobs/$protect_job" >"$lab_dir/protect-job.json"

"$lab_root/deploy/lab/disaster.sh"

say "failover by signed webhook"
body=$(printf '{"app":"app1","type":"disaster","idempotencyKey":"lab-%s","reason":"site-a lost (lab)"}' "$(date +%s)")
t=$(date +%s)
sig=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac "$DRPAIR_WEBHOOK_SECRET" -r | cut -d' ' -f1)
fired=$(now)
answer=$(curl -sS --fail-with-body --cacert "$DRPAIR_CACERT" --cert "$DRPAIR_CERT" --key "$DRPAIR_KEY" \
  -H "Content-Type: application/json" -H "X-Drpair-Signature: t=$t,v1=$sig" \
  --data "$body" "$DRPAIR_DR_URL/v1/hooks/failover")
job=$(printf '%s' "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["job"]["id"])')
echo "webhook accepted: job $job"
drpair jobs "$job" --follow --url "$DRPAIR_DR_URL"
recovered=$(now)

say "proof: APP1 at site-b"
"$lab_root/deploy/lab/app1.sh" check "$dr_site" 2

say "report"
{
  cat "$lab_dir/protect-job.json"
  echo
  curl -sS --cacert "$DRPAIR_CACERT" --cert "$DRPAIR_CERT" --key "$DRPAIR_KEY" "$DRPAIR_DR_URL/v1/jobs/$job"
  echo
} | python3 -c '
import json, sys
from datetime import datetime
# A phase lasts from its first step'"'"'s start to its last step'"'"'s end: steps of one phase may run
# in parallel (the promotes), so their durations do not add up.
spans = {}
def at(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
def add(name, start, end):
    first, last = spans.get(name, (start, end))
    spans[name] = (min(first, start), max(last, end))
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    for s in json.loads(line).get("steps", []):
        if not s.get("startedAt") or not s.get("finishedAt"):
            continue
        n = s["name"]
        kind = n.split(":")[0]
        table = {"capture": "capture", "map": "ship", "ship": "ship", "peer-pool": "pair",
                 "mirror": "pair", "await-replication": "replicate", "fence": "fence",
                 "stop-production": "fence", "role-change": "promote", "release-production": "promote",
                 "promote": "promote",
                 "restore/inspect-network": "networks", "restore/ensure-network": "networks",
                 "restore/define-domain": "define", "restore/start-group": "start"}
        if kind in table:
            add(table[kind], at(s["startedAt"]), at(s["finishedAt"]))
for name in ["capture", "ship", "pair", "replicate", "fence", "promote", "networks", "define", "start"]:
    first, last = spans.get(name, (0, 0))
    print(f"  {name:<10} {last - first:7.1f} s")
'
echo "  RTO (webhook to every VM running): $(secs "$fired" "$recovered") s"
echo "  replication lag before the disaster: $lag s"
if [ $round_trip = yes ]; then
  "$lab_root/deploy/lab/round-trip.sh"
fi
echo "  lab total: $(secs "$started" "$(now)") s"
echo "lab.env: $lab_env"
