#!/usr/bin/env bash
# Brings the lab's production site (site-a) back after deploy/lab/disaster.sh, the way a repaired
# site comes back: its Ceph daemons (with the data they had: every APP1 image still primary
# there), its libvirtd (with APP1's domains defined, shut off), and its production agent (with its
# state: APP1 still "protected" as far as that state knows). It touches nothing else: what
# happens to APP1 at site-a from then on is drpair's doing (the agent asks the DR agent, and fences
# the app here when it runs at site-b: its VMs stay off, its images are demoted).
#
#   deploy/lab/site-returns.sh
#
# Prints when the agent started (UTC, "agent started: ...") so a caller can time the fence.
set -euo pipefail
# shellcheck source=deploy/lab/lab.sh
. "$(dirname "$0")/lab.sh"
[ -f "$lab_dir/production/agent.json" ] || lab_die "no lab at $lab_dir (run deploy/lab/up.sh first)"
say "site-a returns: Ceph daemons, libvirtd, production agent"
"$lab_root/deploy/ceph-pair.sh" start-site site-a
"$lab_root/deploy/libvirtd.sh" up "$prod_site" >/dev/null
start_agent drpair-production-agent "$lab_dir/production" "$prod_port"
echo "  agent started: $(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"
