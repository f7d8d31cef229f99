#include "transport/peer_client.hpp"

namespace dr::transport {
namespace {

Result<Response> call_json(PeerClient& client, Method method, std::string target,
                           const nlohmann::json& doc) {
  ClientRequest request;
  request.method = method;
  request.target = std::move(target);
  request.body = doc.dump();
  return client.call(request);
}

}  // namespace

Result<Response> PeerClient::get(std::string target) {
  ClientRequest request;
  request.target = std::move(target);
  return call(request);
}

Result<Response> PeerClient::post_json(std::string target, const nlohmann::json& doc) {
  return call_json(*this, Method::post, std::move(target), doc);
}

Result<Response> PeerClient::put_json(std::string target, const nlohmann::json& doc) {
  return call_json(*this, Method::put, std::move(target), doc);
}

}  // namespace dr::transport
