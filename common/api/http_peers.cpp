#include "api/http_peers.hpp"

#include "model/json_io.hpp"
#include "model/json_reader.hpp"
#include "transport/router.hpp"

namespace dr::api {
namespace {

using nlohmann::json;
using transport::Method;

std::string app_path(const std::string& app) {
  return "/v1/peer/apps/" + transport::path_segment(app);
}

std::string image_path(const std::string& app, const storage::ImageSpec& image) {
  return app_path(app) + "/images/" + transport::path_segment(image.pool) + "/" +
         transport::path_segment(image.image);
}

// One call; the 2xx answer's body read with `read`. Errors name the route.
template <class T>
Result<T> call(transport::PeerClient& client, Method method, const std::string& target,
               const json* body, model::Parsed<T> (*read)(const json&),
               std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
  transport::ClientRequest request;
  request.method = method;
  request.target = target;
  request.timeout = timeout;
  if (body != nullptr) request.body = body->dump();
  const std::string route = std::string(transport::to_string(method)) + " " + target;
  auto response = client.call(request);
  if (!response) {
    Error e = response.error();
    e.message = route + ": " + e.message;
    return e;
  }
  auto doc = model::parse_json(response->body);
  if (!doc) {
    return fail(Errc::internal, route + ": the answer is not JSON: " + doc.error().front().message);
  }
  auto value = read(*doc);
  if (!value) {
    return fail(Errc::internal, route + ": the answer is not what drpair/v1 says (" +
                                    model::format(value.error().front()) + ")");
  }
  return std::move(*value);
}

}  // namespace

Result<model::Inventory> HttpDrPeer::inventory() {
  return call<model::Inventory>(client_, Method::get, "/v1/peer/inventory", nullptr,
                                &model::read_inventory);
}

Result<PoolPeers> HttpDrPeer::bootstrap(const std::string& pool, const BootstrapRequest& request) {
  const json body = to_json(request);
  return call<PoolPeers>(client_, Method::post,
                         "/v1/peer/pools/" + transport::path_segment(pool) + "/bootstrap", &body,
                         &read_pool_peers);
}

Result<Registered> HttpDrPeer::register_app(const std::string& app,
                                            const Registration& registration) {
  const json body = to_json(registration);
  return call<Registered>(client_, Method::put, app_path(app), &body, &read_registered);
}

Result<DrAppView> HttpDrPeer::app(const std::string& app) {
  return call<DrAppView>(client_, Method::get, app_path(app), nullptr, &read_dr_app_view);
}

Status HttpDrPeer::unregister(const std::string& app) {
  transport::ClientRequest request;
  request.method = Method::delete_;
  request.target = app_path(app);
  auto response = client_.call(request);
  if (!response) {
    Error e = response.error();
    e.message = "DELETE " + request.target + ": " + e.message;
    return e;
  }
  return {};
}

Result<ProductionAppView> HttpProductionPeer::app(const std::string& app) {
  return call<ProductionAppView>(client_, Method::get, app_path(app), nullptr,
                                 &read_production_app_view);
}

Result<ProductionAppView> HttpProductionPeer::stop(const std::string& app) {
  return call<ProductionAppView>(client_, Method::post, app_path(app) + "/stop", nullptr,
                                 &read_production_app_view, stop_timeout_);
}

Result<ImageEnd> HttpProductionPeer::image(const std::string& app,
                                           const storage::ImageSpec& image) {
  return call<ImageEnd>(client_, Method::get, image_path(app, image), nullptr, &read_image_end);
}

Result<ImageSnapshot> HttpProductionPeer::snapshot(const std::string& app,
                                                   const storage::ImageSpec& image) {
  return call<ImageSnapshot>(client_, Method::post, image_path(app, image) + "/snapshot", nullptr,
                             &read_image_snapshot);
}

Result<ImageSnapshot> HttpProductionPeer::demote(const std::string& app,
                                                 const storage::ImageSpec& image) {
  return call<ImageSnapshot>(client_, Method::post, image_path(app, image) + "/demote", nullptr,
                             &read_image_snapshot);
}

Result<ImageEnd> HttpProductionPeer::promote(const std::string& app,
                                             const storage::ImageSpec& image) {
  return call<ImageEnd>(client_, Method::post, image_path(app, image) + "/promote", nullptr,
                        &read_image_end);
}

Result<ProductionAppView> HttpProductionPeer::release(const std::string& app) {
  return call<ProductionAppView>(client_, Method::post, app_path(app) + "/release", nullptr,
                                 &read_production_app_view);
}

Result<ImageEnd> HttpProductionPeer::resync(const std::string& app,
                                            const storage::ImageSpec& image) {
  return call<ImageEnd>(client_, Method::post, image_path(app, image) + "/resync", nullptr,
                        &read_image_end);
}

Result<ProductionAppView> HttpProductionPeer::reverse(const std::string& app) {
  return call<ProductionAppView>(client_, Method::post, app_path(app) + "/reverse", nullptr,
                                 &read_production_app_view);
}

Result<ProductionAppView> HttpProductionPeer::pair(const std::string& app,
                                                   const PairImages& request) {
  const json body = to_json(request);
  return call<ProductionAppView>(client_, Method::post, app_path(app) + "/pairs", &body,
                                 &read_production_app_view);
}

Result<ProductionAppView> HttpProductionPeer::start(const std::string& app,
                                                    const StartRequest& request) {
  const json body = to_json(request);
  return call<ProductionAppView>(client_, Method::post, app_path(app) + "/start", &body,
                                 &read_production_app_view, stop_timeout_);
}

}  // namespace dr::api
