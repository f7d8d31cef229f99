#include "service/run_agent.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <mutex>
#include <thread>

#include "model/json_io.hpp"
#include "service/audit.hpp"
#include "service/rest_shapes.hpp"
#include "state/sqlite_state_store.hpp"
#include "storage/rbd_mirror_storage.hpp"
#include "transport/beast_peer_client.hpp"
#include "transport/http_server.hpp"
#include "virt/libvirt_hypervisor.hpp"

namespace dr::service {

namespace {

void log_line(std::string_view program, std::string_view line) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::cerr << format_time(now()) << ' ' << program << ": " << line << std::endl;
}

Result<std::unique_ptr<transport::PeerClient>> make_peer_client(const config::AgentConfig& c,
                                                                std::chrono::seconds timeout,
                                                                PeerTracker& tracker) {
  transport::ClientOptions options;
  options.host = c.peer.host;
  options.port = c.peer.port;
  options.tls = {c.tls.cert_file, c.tls.key_file, c.peer.ca_file};
  options.expected_site = c.peer.site;
  options.connect_timeout = std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(5));
  options.request_timeout = timeout;
  auto client = transport::BeastPeerClient::create(options);
  if (!client) return client.error();
  return std::unique_ptr<transport::PeerClient>(
      std::make_unique<TrackedPeerClient>(std::move(*client), tracker));
}

}  // namespace

int run_agent(int argc, char** argv, config::AgentRole role,
              const std::function<std::unique_ptr<Service>(Runtime&)>& make_service) {
  const std::string program =
      role == config::AgentRole::production ? "drpair-production-agent" : "drpair-dr-agent";
  CLI::App cli{"drpair " + std::string(config::to_string(role)) + " agent", program};
  std::string config_path;
  cli.add_option("--config", config_path, "The agent's config file (README, Configuration)")
      ->required();
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  // Signals are taken by sigwait below: block them before any thread (libvirt's, librados')
  // exists, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto log = [program](std::string_view line) { log_line(program, line); };
  auto loaded = config::load_agent_config(config_path);
  if (!loaded) {
    for (const auto& p : loaded.error()) log(config_path + ": " + model::format(p));
    return 2;
  }
  if (loaded->role != role) {
    log(config_path + ": /role: this is the " + config::to_string(role) +
        " agent, the config is for '" + config::to_string(loaded->role) + "'");
    return 2;
  }
  Runtime rt;
  rt.config = std::move(*loaded);
  rt.log = log;
  auto store = state::SqliteStateStore::open(rt.config.state_file);
  if (!store) {
    log("state file " + rt.config.state_file + ": " + store.error().message);
    return 1;
  }
  rt.store = std::move(*store);
  auto hv = virt::open_libvirt(rt.config.libvirt_uri);
  if (!hv) {
    log("libvirt " + rt.config.libvirt_uri + ": " + hv.error().message);
    return 1;
  }
  rt.hypervisor = std::shared_ptr<virt::Hypervisor>(std::move(*hv));
  rt.workers = virt::libvirt_factory(rt.config.libvirt_uri, rt.hypervisor);
  auto ceph = storage::open_rbd_mirror_storage({rt.config.ceph_conf, rt.config.ceph_client_id});
  if (!ceph) {
    log("ceph " + rt.config.ceph_conf + ": " + ceph.error().message);
    return 1;
  }
  rt.storage = std::move(*ceph);
  auto peer = make_peer_client(rt.config, rt.config.peer.timeout, rt.peer_tracker);
  auto fence = make_peer_client(rt.config, rt.config.failover.fence_timeout, rt.peer_tracker);
  if (!peer || !fence) {
    log("peer " + rt.config.peer.url + ": " + (peer ? fence.error() : peer.error()).message);
    return 1;
  }
  rt.peer = std::move(*peer);
  rt.peer_fence = std::move(*fence);

  auto service = make_service(rt);
  auto router = make_router(rt, *service);

  transport::ServerOptions options;
  options.address = rt.config.listen_address;
  options.port = rt.config.listen_port;
  options.max_connections = rt.config.max_connections;
  options.audit = audit_sink(rt);
  options.tls = rt.config.tls;
  options.auth = rt.config.auth;
  options.handler_threads = 4;
  options.log = log;
  auto server = transport::HttpServer::start(options, router);
  if (!server) {
    log("listen " + rt.config.listen_address + ":" + std::to_string(rt.config.listen_port) + ": " +
        server.error().message);
    return 1;
  }
  log(rt.config.site_name() + " listening on " + rt.config.listen_address + ":" +
      std::to_string((*server)->port()));
  if (auto resumed = service->executor().resume_unfinished(); !resumed) {
    log("cannot resume jobs: " + resumed.error().message);
  } else if (*resumed > 0) {
    log("resumed " + std::to_string(*resumed) + " unfinished job(s)");
  }
  std::jthread loops([&service](std::stop_token stop) { service->run_loops(stop); });

  int signal = 0;
  sigwait(&signals, &signal);
  log(std::string("stopping (") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") + ")");
  loops.request_stop();
  loops.join();
  (*server)->stop();
  service->executor().stop();
  log("stopped");
  return 0;
}

}  // namespace dr::service
