#pragma once
// An agent inside the calling process, for the handler tests and the agents benchmark: the
// agent's own routes (service::make_router over make_production_agent or make_dr_agent) served by
// HttpServer over mutual TLS on a free port of 127.0.0.1, with a SQLite state file, the libvirt
// test driver and, in place of Ceph, OnePoolStorage. A production agent is site-a (its libvirt
// and site config: the caller's), a DR agent site-b (by default one host of 512 CPUs and 8 TiB
// with the switch "vswitch0", so big apps fit). The agent's loops do not run; its peer is an
// address where nothing listens (port 9), so any call to it is `unavailable`.
//
// The PKI is deploy/pki/make-pki.sh's layout (sites site-a and site-b, operator "ops").
// Thread-safety: the agent is; the object is set up and torn down by one thread.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/agent_config.hpp"
#include "service/service.hpp"
#include "storage/mirror_storage.hpp"
#include "transport/beast_peer_client.hpp"
#include "transport/http_server.hpp"

namespace dr::testing {

// A Ceph cluster that has one pool, "rbd", with 1 PiB free, and nothing else: every other call
// is `internal`, naming the call, so a handler that reaches Ceph beyond list_pools fails
// visibly instead of passing on a fake answer.
class OnePoolStorage final : public storage::MirrorStorage {
 public:
  Result<std::vector<storage::PoolSpace>> list_pools() override;
  Status set_site_name(const std::string&) override;
  Result<std::string> site_name() override;
  Status enable_pool_mirroring(const std::string&) override;
  Status disable_pool_mirroring(const std::string&) override;
  Result<std::string> mirror_uuid(const std::string&) override;
  Result<storage::BootstrapToken> create_bootstrap_token(const std::string&) override;
  Status import_bootstrap_token(const std::string&, const storage::BootstrapToken&,
                                storage::PeerDirection) override;
  Result<std::vector<storage::PeerSite>> list_peers(const std::string&) override;
  Status remove_peer(const std::string&, const std::string&) override;
  Status create_image(const storage::ImageSpec&, std::uint64_t) override;
  Status remove_image(const storage::ImageSpec&) override;
  Result<bool> image_exists(const storage::ImageSpec&) override;
  Result<std::uint64_t> image_size(const storage::ImageSpec&) override;
  Status write(const storage::ImageSpec&, std::uint64_t, std::span<const std::byte>) override;
  Result<std::string> checksum(const storage::ImageSpec&) override;
  Result<std::uint64_t> copy_image(const storage::ImageSpec&, const storage::ImageSpec&,
                                   std::stop_token) override;
  Status enable_mirroring(const storage::ImageSpec&, storage::MirrorMode) override;
  Status disable_mirroring(const storage::ImageSpec&, bool) override;
  Result<storage::ImageMirrorInfo> mirror_info(const storage::ImageSpec&) override;
  Result<storage::ImageMirrorStatus> mirror_status(const storage::ImageSpec&) override;
  Result<std::vector<storage::MirrorSnapshot>> mirror_snapshots(
      const storage::ImageSpec&) override;
  Result<storage::MirrorSnapshotRef> create_mirror_snapshot(const storage::ImageSpec&) override;
  Status wait_for_snapshot(const storage::ImageSpec&, const storage::MirrorSnapshotRef&,
                           storage::Deadline) override;
  Result<storage::MirrorSnapshotRef> demote(const storage::ImageSpec&) override;
  Status promote(const storage::ImageSpec&, storage::Promotion) override;
  Status resync(const storage::ImageSpec&) override;
  Result<storage::ReplicationLag> replication_lag(const storage::ImageSpec&) override;
};

struct InProcessAgentOptions {
  config::AgentRole role = config::AgentRole::dr;
  std::string pki_dir;   // make-pki.sh's folder
  std::string work_dir;  // an existing folder for the state file and the test driver's site XML
  // The site: a libvirt URI and the SiteConfig file (its "site" must be site-a for production,
  // site-b for DR). Empty: the big DR site described above (DR only).
  std::string libvirt_uri;
  std::string site_config_file;
  int handler_threads = 4;
  std::optional<config::WebhookConfig> webhooks;
  // Routes added after the agent's own (baselines of a benchmark).
  std::function<void(transport::Router&)> extra_routes;
};

class InProcessAgent {
 public:
  // Throws std::runtime_error naming what could not be set up.
  explicit InProcessAgent(InProcessAgentOptions options);
  ~InProcessAgent();  // stops the server, then the agent's jobs
  InProcessAgent(const InProcessAgent&) = delete;
  InProcessAgent& operator=(const InProcessAgent&) = delete;

  service::Runtime& runtime() { return rt_; }
  std::uint16_t port() const { return server_->port(); }
  // Options for a client of this agent presenting `who`'s certificate: "site-a/agent" or
  // "site-b/agent" (the peer), "operator/ops" (an operator) or "operator/dashboard" (a viewer).
  transport::ClientOptions client(const std::string& who) const;

 private:
  InProcessAgentOptions options_;
  std::string site_;  // this agent's site
  service::Runtime rt_;
  std::unique_ptr<service::Service> service_;
  std::unique_ptr<transport::HttpServer> server_;
};

}  // namespace dr::testing
