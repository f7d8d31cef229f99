#pragma once
// The production site's workflows: protect and unprotect (journaled jobs), and the planned
// failover's stop-and-demote (the answer to the DR agent's POST /v1/peer/apps/{app}/demote).
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
//   peer-pool:<pool>      x P   pool mirroring on, a bootstrap token to the DR agent
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
// Stop-and-demote (planned failover, production side), idempotent rather than journaled (the
// DR agent's job journals the call and repeats it after a cut):
// @verbatim
//   stop-vms           every running VM of the app asked to shut down (ACPI); those still
//     |                running after shutdown_timeout powered off (0: at once)
//     v
//   demote:<image> x N in parallel: a primary is demoted; one demoted here before answers its
//     |                newest demotion snapshot; one that is neither is failed_precondition
//     v
//   (app -> failing_over -> failed_over: this site no longer snapshots or re-protects it)
// @endverbatim
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

// Runs (or resumes) an unprotect job; the app ends unprotected, or failed.
Status run_unprotect(ProductionSite& site, const std::string& app_id, Steps& steps);

// Stop-and-demote: every image's demotion snapshot, in the pairs' order.
Result<api::Demoted> stop_and_demote(ProductionSite& site, const std::string& app_id);

// What this site holds of the app (the DR agent's fence reads it): each image's role here and
// how many of its VMs run.
Result<api::ProductionAppView> production_view(ProductionSite& site, const std::string& app_id);

// The production site as its peer sees it, in process: the peer API's calls answered by this
// site's workflows (the agent's routes answer the same over HTTPS).
class LocalProductionPeer final : public api::ProductionPeer {
 public:
  explicit LocalProductionPeer(ProductionSite& site) : site_(site) {}
  Result<api::ProductionAppView> app(const std::string& app_id) override {
    return production_view(site_, app_id);
  }
  Result<api::Demoted> demote(const std::string& app_id) override {
    return stop_and_demote(site_, app_id);
  }

 private:
  ProductionSite& site_;
};

// The app's VMs found in libvirt (domains whose drpair metadata names it).
Result<std::vector<virt::DomainStatus>> app_domains(virt::Hypervisor& hypervisor,
                                                    const std::string& app_id);

}  // namespace dr::workflow
