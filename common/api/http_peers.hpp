#pragma once
// The peer API (api/peer_api.hpp) over HTTPS: each call is one request on a transport::PeerClient
// (mutual TLS, the peer's certificate pinned), its answer read with the typed reader. A non-2xx
// answer is the peer's error as a value; a 2xx answer that does not read as its type is internal,
// naming the route and the first problem.
//
// Ownership: both borrow their clients, which must outlive them. Thread-safety: as the clients.

#include <chrono>
#include <optional>

#include "api/peer_api.hpp"
#include "transport/peer_client.hpp"

namespace dr::api {

class HttpDrPeer final : public DrPeer {
 public:
  explicit HttpDrPeer(transport::PeerClient& client) : client_(client) {}
  Result<model::Inventory> inventory() override;
  Result<PoolPeers> bootstrap(const std::string& pool, const BootstrapRequest& request) override;
  Result<Registered> register_app(const std::string& app,
                                  const Registration& registration) override;
  Result<DrAppView> app(const std::string& app) override;
  Status unregister(const std::string& app) override;

 private:
  transport::PeerClient& client_;
};

class HttpProductionPeer final : public ProductionPeer {
 public:
  // `stop_timeout`: the time stopping or starting the app may take (the production agent shuts its
  // VMs down and powers off those still running after its shutdown timeout; it starts them in
  // boot order, each waited for), instead of the client's request timeout.
  HttpProductionPeer(transport::PeerClient& client,
                     std::optional<std::chrono::milliseconds> stop_timeout = std::nullopt)
      : client_(client), stop_timeout_(stop_timeout) {}
  Result<ProductionAppView> app(const std::string& app) override;
  Result<ProductionAppView> stop(const std::string& app) override;
  Result<ImageEnd> image(const std::string& app, const storage::ImageSpec& image) override;
  Result<ImageSnapshot> snapshot(const std::string& app, const storage::ImageSpec& image) override;
  Result<ImageSnapshot> demote(const std::string& app, const storage::ImageSpec& image) override;
  Result<ImageEnd> promote(const std::string& app, const storage::ImageSpec& image) override;
  Result<ProductionAppView> release(const std::string& app) override;
  Result<ImageEnd> resync(const std::string& app, const storage::ImageSpec& image) override;
  Result<ProductionAppView> reverse(const std::string& app) override;
  Result<ProductionAppView> pair(const std::string& app, const PairImages& request) override;
  Result<ProductionAppView> start(const std::string& app, const StartRequest& request) override;

 private:
  transport::PeerClient& client_;
  std::optional<std::chrono::milliseconds> stop_timeout_;
};

}  // namespace dr::api
