#pragma once
// The DR agent: it runs at the recovery site. Its routes: it receives an app's description from
// its peer (mode `first`: map it with the site's mapping policy; mode `second`: validate it
// against the site's inventory and refuse with every problem), imports the RBD bootstrap token
// for each pool, registers the app durably, watches every mirror pair until it has synced (the
// app is then "protected") and reports lag. A failover is started by an operator
// (POST /v1/apps/{app}/failover), by a signed webhook (POST /v1/hooks/failover) or by
// Alertmanager (POST /v1/hooks/alertmanager); the same idempotency key, or a second request while
// a failover of the same type runs, finds the job already started instead of starting another.
// The job itself is the failover workflow (workflow/failover.hpp, with its diagram).
//
// Thread-safety: as the production agent (production_agent.hpp).

#include <memory>

#include "service/service.hpp"

namespace dr::drsite {

std::unique_ptr<service::Service> make_dr_agent(service::Runtime& runtime);

}  // namespace dr::drsite
