#pragma once
// The HTTP vocabulary of the agents' route handlers: a request as a handler sees it (already
// authenticated, its path matched, its JSON body parsed), the response it returns, and the
// identity of the caller. Plain values with no Asio, Beast or OpenSSL in sight, so handlers are
// pure functions of data that unit tests call without sockets.
//
// Thread-safety: values; copy or move them freely between threads.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dr::transport {

// The methods the APIs use; anything else a client sends arrives as `other` (405 or 404).
enum class Method { get, head, post, put, patch, delete_, options, other };

const char* to_string(Method method) noexcept;  // "GET", "DELETE", ...; "OTHER" for other
Method method_from_string(std::string_view verb) noexcept;

// Who is calling. Set by the server after the TLS handshake (and the bearer-token check); the
// route's Access rule decides whether this caller may call it (see auth.hpp for the mapping).
enum class IdentityKind {
  peer_site,          // the configured peer site's agent (client certificate from the peer CA)
  site_operator,      // an operator (operator certificate or bearer token); "operator"
  viewer,             // reads only: a dashboard (viewer certificate or bearer token); "viewer"
  alertmanager_hook,  // the Alertmanager webhook's token: its hook and nothing else;
                      // "alertmanager"
  anonymous,          // a certificate from a configured CA that maps to no configured identity
};
enum class AuthMethod { client_certificate, bearer_token };

const char* to_string(IdentityKind kind) noexcept;  // "peer_site", "operator", "anonymous"
const char* to_string(AuthMethod how) noexcept;     // "client_certificate", "bearer_token"

struct Identity {
  IdentityKind kind = IdentityKind::anonymous;
  std::string name;  // the site name, the operator's certificate CN or the bearer token's name;
                     // for anonymous the certificate's CN (for error messages and logs)
  AuthMethod how = AuthMethod::client_certificate;
  bool operator==(const Identity&) const = default;
};

// Header fields in arrival order. Names compare case-insensitively (RFC 9110 §5.1).
class Headers {
 public:
  void add(std::string name, std::string value);
  // Replaces every field of that name with one field.
  void set(std::string name, std::string value);
  // The first field of that name, if any.
  std::optional<std::string_view> get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct Request {
  Method method = Method::get;
  std::string target;  // as sent: "/v1/apps/app%201?verbose=1"
  std::string path;    // the target without its query, still percent-encoded: "/v1/apps/app%201"
  std::map<std::string, std::string> path_params;  // decoded: {"app": "app 1"}
  std::map<std::string, std::string> query;        // decoded; a repeated key keeps its last value
  Headers headers;
  std::string body;
  // The body parsed as JSON by the router before the handler runs (a body that is not JSON never
  // reaches a handler); null when the body is empty.
  nlohmann::json json;
  Identity caller;

  // The path parameter a matched route declared; "" if absent (a route handler asks only for
  // parameters its own pattern has).
  const std::string& param(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;  // extra fields; Content-Type and Content-Length are set from the above

  // `doc` as compact JSON text.
  static Response json(int status, const nlohmann::json& doc);
  static Response text(int status, std::string text);
  static Response no_content();  // 204, empty body
};

}  // namespace dr::transport
