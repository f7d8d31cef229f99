#pragma once
// A client of the other agent's API (or, from the CLI, of an agent's operator API): one request,
// one response or one error, synchronously. Workflow code calls it from the blocking pool; the
// CLI from its main thread. Test doubles implement it without sockets (FakePeerClient).
//
// Results: a 2xx response is the value; anything else is a dr::Error -
//   unavailable        the connection or the TLS handshake failed, or the peer closed it
//   deadline_exceeded  connecting, sending or receiving ran past the deadline
//   permission_denied  the server's certificate is not the expected peer site's
//   <from the body>    a non-2xx response, mapped back by error_from_response() (error_mapping.hpp)
//
// Thread-safety: implementations are safe to call from several threads; BeastPeerClient
// serialises calls over its one connection (use one client per concurrent stream of calls).

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "transport/http_types.hpp"

namespace dr::transport {

struct ClientRequest {
  Method method = Method::get;
  std::string target;  // origin-form, already percent-encoded: "/v1/apps/app1"
  Headers headers;     // extra fields (Host, Content-Type, Content-Length are set by the client)
  std::string body;
  std::string content_type = "application/json";  // sent only with a body
  // This request's time to be sent and answered, instead of the client's request_timeout (a call
  // known to take long: a planned failover's demotion).
  std::optional<std::chrono::milliseconds> timeout;
};

class PeerClient {
 public:
  virtual ~PeerClient() = default;

  virtual Result<Response> call(const ClientRequest& request) = 0;

  // Conveniences over call().
  Result<Response> get(std::string target);
  Result<Response> post_json(std::string target, const nlohmann::json& doc);
  Result<Response> put_json(std::string target, const nlohmann::json& doc);
};

}  // namespace dr::transport
