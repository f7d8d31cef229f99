#include "in_process_agent.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>

#include "dr_agent.hpp"
#include "production_agent.hpp"
#include "service/audit.hpp"
#include "state/sqlite_state_store.hpp"
#include "virt/libvirt_hypervisor.hpp"
#include "virt/site_config.hpp"

namespace dr::testing {
namespace {

Error unused(const std::string& call) {
  return Error{Errc::internal,
               "OnePoolStorage::" + call + ": this test storage has only list_pools"};
}

template <typename T>
T need(Result<T> r, const std::string& what) {
  if (!r) throw std::runtime_error(what + ": " + r.error().message);
  return std::move(*r);
}

}  // namespace

Result<std::vector<storage::PoolSpace>> OnePoolStorage::list_pools() {
  return std::vector<storage::PoolSpace>{{"rbd", std::uint64_t{1} << 50}};
}
Status OnePoolStorage::set_site_name(const std::string&) { return unused("set_site_name"); }
Result<std::string> OnePoolStorage::site_name() { return unused("site_name"); }
Status OnePoolStorage::enable_pool_mirroring(const std::string&) { return unused("enable_pool_mirroring"); }
Status OnePoolStorage::disable_pool_mirroring(const std::string&) { return unused("disable_pool_mirroring"); }
Result<std::string> OnePoolStorage::mirror_uuid(const std::string&) { return unused("mirror_uuid"); }
Result<storage::BootstrapToken> OnePoolStorage::create_bootstrap_token(const std::string&) { return unused("create_bootstrap_token"); }
Status OnePoolStorage::import_bootstrap_token(const std::string&, const storage::BootstrapToken&,
                                              storage::PeerDirection) { return unused("import_bootstrap_token"); }
Result<std::vector<storage::PeerSite>> OnePoolStorage::list_peers(const std::string&) { return unused("list_peers"); }
Status OnePoolStorage::remove_peer(const std::string&, const std::string&) { return unused("remove_peer"); }
Status OnePoolStorage::create_image(const storage::ImageSpec&, std::uint64_t) { return unused("create_image"); }
Status OnePoolStorage::remove_image(const storage::ImageSpec&) { return unused("remove_image"); }
Result<bool> OnePoolStorage::image_exists(const storage::ImageSpec&) { return unused("image_exists"); }
Result<std::uint64_t> OnePoolStorage::image_size(const storage::ImageSpec&) { return unused("image_size"); }
Status OnePoolStorage::write(const storage::ImageSpec&, std::uint64_t, std::span<const std::byte>) { return unused("write"); }
Result<std::string> OnePoolStorage::checksum(const storage::ImageSpec&) { return unused("checksum"); }
Result<std::uint64_t> OnePoolStorage::copy_image(const storage::ImageSpec&, const storage::ImageSpec&, std::stop_token) { return unused("copy_image"); }
Status OnePoolStorage::enable_mirroring(const storage::ImageSpec&, storage::MirrorMode) { return unused("enable_mirroring"); }
Status OnePoolStorage::disable_mirroring(const storage::ImageSpec&, bool) { return unused("disable_mirroring"); }
Result<storage::ImageMirrorInfo> OnePoolStorage::mirror_info(const storage::ImageSpec&) { return unused("mirror_info"); }
Result<storage::ImageMirrorStatus> OnePoolStorage::mirror_status(const storage::ImageSpec&) { return unused("mirror_status"); }
Result<std::vector<storage::MirrorSnapshot>> OnePoolStorage::mirror_snapshots(const storage::ImageSpec&) { return unused("mirror_snapshots"); }
Result<storage::MirrorSnapshotRef> OnePoolStorage::create_mirror_snapshot(const storage::ImageSpec&) { return unused("create_mirror_snapshot"); }
Status OnePoolStorage::wait_for_snapshot(const storage::ImageSpec&, const storage::MirrorSnapshotRef&,
                                         storage::Deadline) { return unused("wait_for_snapshot"); }
Result<storage::MirrorSnapshotRef> OnePoolStorage::demote(const storage::ImageSpec&) { return unused("demote"); }
Status OnePoolStorage::promote(const storage::ImageSpec&, storage::Promotion) { return unused("promote"); }
Status OnePoolStorage::resync(const storage::ImageSpec&) { return unused("resync"); }
Result<storage::ReplicationLag> OnePoolStorage::replication_lag(const storage::ImageSpec&) { return unused("replication_lag"); }

InProcessAgent::InProcessAgent(InProcessAgentOptions options) : options_(std::move(options)) {
  const bool dr = options_.role == config::AgentRole::dr;
  site_ = dr ? "site-b" : "site-a";
  const std::string peer_site = dr ? "site-a" : "site-b";
  auto& c = rt_.config;
  c.role = options_.role;
  if (!options_.site_config_file.empty()) {
    std::ifstream in(options_.site_config_file);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto site = virt::parse_site_config(text);
    if (!site) throw std::runtime_error(options_.site_config_file + ": unreadable site config");
    c.site = *site;
  } else {
    c.site.site = site_;
    c.site.domain_type = "test";
  }
  if (c.site.site != site_) {
    throw std::runtime_error("the site config is of " + c.site.site + ", not " + site_);
  }
  c.peer.site = peer_site;
  c.peer.port = 9;
  c.libvirt_uri = options_.libvirt_uri.empty()
                     ? std::string("test://" DR_FIXTURES_DIR "/libvirt/site-b-big.xml")
                     : options_.libvirt_uri;
  c.state_file = options_.work_dir + "/state.db";
  c.webhooks = options_.webhooks;
  rt_.log = [](std::string_view) {};
  rt_.store = need(state::SqliteStateStore::open(c.state_file), "state " + c.state_file);
  rt_.hypervisor = need(virt::open_libvirt(c.libvirt_uri), "libvirt " + c.libvirt_uri);
  rt_.workers = virt::libvirt_factory(c.libvirt_uri, rt_.hypervisor);
  rt_.storage = std::make_unique<OnePoolStorage>();
  transport::ClientOptions peer;
  peer.port = c.peer.port;
  const std::string own = options_.pki_dir + "/" + site_;
  const std::string peer_ca = options_.pki_dir + "/" + peer_site + "/ca.crt";
  peer.tls = {own + "/agent.crt", own + "/agent.key", peer_ca};
  peer.expected_site = c.peer.site;
  peer.connect_timeout = std::chrono::seconds(1);
  rt_.peer = need(transport::BeastPeerClient::create(peer), "peer client");
  rt_.peer_fence = need(transport::BeastPeerClient::create(peer), "peer client");
  service_ = dr ? drsite::make_dr_agent(rt_) : production::make_production_agent(rt_);
  auto router = service::make_router(rt_, *service_);
  if (options_.extra_routes) options_.extra_routes(*router);

  transport::ServerOptions server;
  server.tls = {own + "/agent.crt", own + "/agent.key", peer_ca,
                options_.pki_dir + "/operator/ca.crt"};
  server.auth.peer_site = c.peer.site;
  server.auth.operator_names = {"ops"};
  server.auth.viewer_names = {"dashboard"};
  if (c.webhooks && c.webhooks->alertmanager) {
    server.auth.bearer_tokens.push_back(config::alertmanager_token(*c.webhooks->alertmanager));
  }
  server.handler_threads = options_.handler_threads;
  server.audit = service::audit_sink(rt_);
  server_ = need(transport::HttpServer::start(server, router), "server");
}

InProcessAgent::~InProcessAgent() {
  server_->stop();
  service_->executor().stop();
}

transport::ClientOptions InProcessAgent::client(const std::string& who) const {
  transport::ClientOptions o;
  o.port = port();
  o.tls = {options_.pki_dir + "/" + who + ".crt", options_.pki_dir + "/" + who + ".key",
           options_.pki_dir + "/" + site_ + "/ca.crt"};
  o.expected_site = site_;
  return o;
}

}  // namespace dr::testing
