#pragma once
// The production agent: it runs at the site where applications run. Its routes list the apps
// it finds in libvirt, start protect and unprotect jobs (workflow/protect.hpp: capture, optional
// mapping against the DR site's inventory, pool peering, mirroring, shipping, waiting for
// replication), take a snapshot now, and answer the DR agent (the app's view for the fence; the
// planned failover's hand-over, workflow/handover.hpp). Its loops take mirror snapshots on each pair's interval,
// refresh each pair's status from the DR agent, and re-capture on an interval to re-protect with
// the next generation when the topology drifts.
//
// Thread-safety: routes run on the server's handler pool, jobs on their own threads, loops on
// one thread; shared state is the thread-safe store and connections, and a mutex-guarded map of
// snapshot times.

#include <memory>

#include "service/service.hpp"

namespace dr::production {

std::unique_ptr<service::Service> make_production_agent(service::Runtime& runtime);

}  // namespace dr::production
