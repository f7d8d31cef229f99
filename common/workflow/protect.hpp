#pragma once
// The production site's workflows: protect and unprotect (journaled jobs). Its side of a planned
// failover is workflow/handover.hpp.
//
// Protect (mode first: the DR agent maps; mode second: this site maps against the DR site's
// inventory and the DR agent validates):
// @verbatim
//   (app -> protecting)
//     v
//   capture          the app from libvirt; the stored generation when nothing changed, the
//     |              next one otherwise (stored as the first description of that generation)
//     v
//   map              mode second only: inventory from the DR agent, mapping with this site's
//     |              policy
//     v
//   peer-pool:<pool>      x P   pool mirroring on, a bootstrap token to the DR agent, then
//     |                         mirroring on in the pool's RBD namespaces the app's images are
//     |                         in, here (as they are) and at the DR site (made there)
//     v
//   mirror:<image>        x N   mirroring on (in parallel), a first mirror snapshot
//     v
//   ship             register the description at the DR agent; store the second description
//     |              it answers and the mirror pairs
//     v
//   await-replication        the DR agent reports the app protected at this generation
//     v
//   (app -> protected, generation; on an error -> failed, with the error)
// @endverbatim
// Unprotect: unregister at the DR agent (not known there counts as done) -> unmirror:<image>
// x N (mirroring off; rbd-mirror then removes the DR copies) -> mirror pairs forgotten ->
// (app -> unprotected).
//
// Ownership: ProductionSite borrows everything; it must outlive the call. Thread-safety: one
// job per app at a time; several apps' jobs may run at once.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "api/peer_api.hpp"
#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "state/state_store.hpp"
#include "storage/mirror_storage.hpp"
#include "virt/hypervisor.hpp"
#include "virt/site_config.hpp"
#include "workflow/steps.hpp"

namespace dr::workflow {

// The production site as its workflows see it.
struct ProductionSite {
  state::StateStore& store;
  storage::MirrorStorage& storage;
  virt::Hypervisor& hypervisor;
  const virt::SiteConfig* config = nullptr;  // subnets of shared portgroups, for capture
  std::string site_name;                     // this site
  std::string peer_site;                     // the DR site, for messages
  api::DrPeer& peer;
  std::optional<model::MappingPolicy> policy;  // mode second: this site's mapping rules
  std::chrono::milliseconds replication_timeout{std::chrono::minutes(30)};
  std::chrono::milliseconds replication_poll{2000};
  std::chrono::seconds shutdown_timeout{120};
  int parallelism = 8;
  std::function<void(std::string_view)> log;
  // Told of every mirror snapshot a workflow takes (app, image), for the snapshot schedule.
  std::function<void(const std::string&, const std::string&)> snapshot_taken;
};

// Captures the app; the generation is the stored one when nothing changed, the next otherwise.
Result<model::FirstDescription> capture_next(ProductionSite& site, const std::string& app_id);

// Runs (or resumes) a protect job; the app ends protected at the captured generation, or failed.
Status run_protect(ProductionSite& site, const std::string& app_id, api::RegistrationMode mode,
                   Steps& steps);

// Runs (or resumes) an unprotect job; the app ends unprotected, or failed. Refused by the DR site
// (failed_precondition: the app runs there, or a drill of it is in place) the app keeps its state
// and protection, with the refusal as its last error.
Status run_unprotect(ProductionSite& site, const std::string& app_id, Steps& steps);

}  // namespace dr::workflow
