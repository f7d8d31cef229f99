#pragma once
// The production agent (README "The production agent"): it runs at the site where applications
// run. It lists the apps it finds in libvirt, captures them, protects an app with mode `first`
// (ship the captured FirstDescription; the DR agent maps it) or `second` (map it here against the
// DR site's inventory and ship the SecondDescription, which the DR agent validates), pairs every
// disk as an RBD mirror (the bootstrap token travels over the peer channel), takes mirror
// snapshots on each pair's interval, re-captures on an interval and re-protects with the next
// generation when the topology drifts, and, on the DR agent's request during a planned failover,
// stops the app's VMs and demotes its images.
//
// Protect, as a journaled job (a job cut off by a crash resumes at the next start):
// @verbatim
//   capture -> [map (mode second: DR inventory + policy)] -> peer-pool:<pool> x P
//     -> mirror:<pool/image> x N (enable snapshot mirroring, first mirror snapshot)
//     -> ship (PUT the description to the DR agent, store its SecondDescription and the pairs)
//     -> await-replication (the DR agent reports every pair synced: app "protected")
// @endverbatim
// Unprotect: unregister (DR agent) -> unmirror:<pool/image> x N -> app "unprotected".
//
// Thread-safety: routes run on the server's handler pool, jobs on their own threads, loops on
// one thread; shared state is the thread-safe store and connections, and a mutex-guarded map of
// snapshot times.

#include <memory>

#include "service/service.hpp"

namespace dr::production {

std::unique_ptr<service::Service> make_production_agent(service::Runtime& runtime);

}  // namespace dr::production
