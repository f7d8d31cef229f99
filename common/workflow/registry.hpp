#pragma once
// The DR site's side of the peer API: what the production agent asks of the DR agent, as
// functions over the DR site's interfaces (the DR agent's peer routes are these over HTTPS;
// LocalDrPeer is these in process, for tests and sweeps).
//
//   inventory     libvirt's view of the site (switches, portgroups, domains, hosts) with the pools
//                 of the site's Ceph cluster
//   bootstrap     pool mirroring on, the production site's bootstrap token imported (rx-tx) unless
//                 that site is already a peer of the pool, then mirroring on in each RBD namespace
//                 of the pool the request names (made if absent); only the configured peer site
//   register      mode first: the first description mapped with the site's policy; mode second:
//                 the shipped second description validated against the inventory (every problem
//                 at once); then both descriptions and the mirror pairs stored, the app
//                 protecting (protected again when the same generation is shipped again)
//   view          each pair's DR image: role, whether a complete mirror snapshot is there, lag
//   unregister    the app forgotten (refused while it is failing or failed over here, or while a
//                 drill of it is in place: workflow/drill.hpp)
//
// Ownership: DrSite borrows everything; it must outlive the calls. Thread-safety: the calls may
// run on several threads at once (the store and the adapters are thread-safe); registrations of
// one app are serialised by the store's optimistic versions (a lost race is Errc::aborted).

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "api/peer_api.hpp"
#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "model/problem.hpp"
#include "state/state_store.hpp"
#include "storage/mirror_storage.hpp"
#include "virt/hypervisor.hpp"
#include "virt/site_config.hpp"

namespace dr::workflow {

struct DrSite {
  state::StateStore& store;
  storage::MirrorStorage& storage;
  virt::Hypervisor& hypervisor;
  const virt::SiteConfig& config;
  std::string site_name;  // this site
  std::string peer_site;  // the production site it pairs with
  std::optional<model::MappingPolicy> policy;  // mode first: how this site maps an app
  std::function<void(std::string_view)> log;
};

// Why a registration was refused: the error, and for a description that cannot be mapped or is
// not valid here (invalid_argument) every problem with its pointer into the request.
struct Refusal {
  Error error;
  model::Problems problems;
};

Result<model::Inventory> site_inventory(DrSite& site);
Result<api::PoolPeers> accept_bootstrap(DrSite& site, const std::string& pool,
                                        const api::BootstrapRequest& request);
Result<api::Registered, Refusal> register_app(DrSite& site, const std::string& app_id,
                                              const api::Registration& registration);
Result<api::DrAppView> dr_view(DrSite& site, const std::string& app_id);
Status unregister_app(DrSite& site, const std::string& app_id);

// The DR site's monitor (the DR agent runs it every few seconds): every pair of every app that
// is protecting or protected gets its status recorded (role, synced, lag); an app protecting
// whose every pair has synced becomes protected.
void refresh_protection(DrSite& site);

// One pair's DR image as this site sees it; `synced_as_of` (when given) gets when its newest
// complete mirror snapshot arrived.
api::DrImageView pair_view(DrSite& site, const state::MirrorPairRecord& pair,
                           std::optional<state::Timestamp>* synced_as_of = nullptr);

// The DR site as its peer sees it, in process.
class LocalDrPeer final : public api::DrPeer {
 public:
  explicit LocalDrPeer(DrSite& site) : site_(site) {}
  Result<model::Inventory> inventory() override { return site_inventory(site_); }
  Result<api::PoolPeers> bootstrap(const std::string& pool,
                                   const api::BootstrapRequest& request) override {
    return accept_bootstrap(site_, pool, request);
  }
  // A refusal's problems are folded into the error's message ("; POINTER: message"), as the
  // HTTPS client reads them from the error body.
  Result<api::Registered> register_app(const std::string& app_id,
                                       const api::Registration& registration) override;
  Result<api::DrAppView> app(const std::string& app_id) override {
    return dr_view(site_, app_id);
  }
  Status unregister(const std::string& app_id) override { return unregister_app(site_, app_id); }

 private:
  DrSite& site_;
};

}  // namespace dr::workflow
