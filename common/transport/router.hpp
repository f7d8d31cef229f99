#pragma once
// The route table of one agent API: (method, path pattern) -> handler, and per route the kinds of
// caller that may call it.
//
//   Router router;
//   router.add(Method::get, "/v1/apps/{app}", kPeerOrOperator,
//              [&](const Request& req) { return get_app(store, req.param("app")); });
//   Response r = router.dispatch(std::move(request));   // what the server does per request
//
// dispatch() decides, in this order: no pattern matches the path -> 404 not_found; patterns
// match but none for this method -> 405 method_not_allowed with an Allow header; the caller's
// kind is not in the route's Access -> 403 permission_denied; a body not declared as JSON -> 415;
// a body that is not JSON -> 400 invalid_argument (routes of Body::json; see Body); otherwise the
// handler's Response. A handler
// that throws is a bug: dispatch answers 500 internal and names the exception, it never lets it
// escape into the server.
//
// Patterns are absolute paths of literal segments and `{name}` segments; a `{name}` segment
// matches one non-empty path segment, percent-decoded into Request::path_params. Literal segments
// win over parameters ("/v1/apps/summary" before "/v1/apps/{app}"); no trailing-slash folding.
//
// Handlers are plain synchronous functions. The server runs them on its blocking thread pool,
// never on network threads, because they call libvirt, Ceph and SQLite.
//
// Thread-safety: add() only during setup, before the server starts; dispatch() is const and safe
// from several threads at once (handlers must be too).

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "transport/http_types.hpp"

namespace dr::transport {

// Which kinds of caller may call a route. The TLS layer has already required a certificate from
// a configured CA of every connection (auth.hpp); Access is the authorisation on top of that.
struct Access {
  bool peer_site = false;
  bool site_operator = false;
  bool viewer = false;
  bool alertmanager_hook = false;
  bool anonymous = false;
  bool allows(IdentityKind kind) const noexcept;
  std::string kinds() const;  // "operator or viewer", for a 403's message
};
inline constexpr Access kPeerOnly{.peer_site = true};
// Changes through the operator API.
inline constexpr Access kOperatorOnly{.site_operator = true};
// Reads of the operator API.
inline constexpr Access kReaders{.site_operator = true, .viewer = true};
inline constexpr Access kPeerOrOperator{.peer_site = true, .site_operator = true};
// Any caller that completed mutual TLS, e.g. a health check.
inline constexpr Access kAnyCaller{.peer_site = true,
                                   .site_operator = true,
                                   .viewer = true,
                                   .alertmanager_hook = true,
                                   .anonymous = true};

using Handler = std::function<Response(const Request&)>;

// How dispatch reads a route's body. json: parsed into Request::json before the handler runs
// (400 if it is not JSON). raw: left in Request::body for the handler, which must authenticate it
// before it parses it (the signed webhook checks its HMAC over the raw bytes first). Either way a
// declared Content-Type must be JSON (415 otherwise).
enum class Body { json, raw };

// Where the server runs a route's handler. pool: the handler pool, shared by every route, where
// handlers may block on libvirt, Ceph or SQLite. quick: threads of their own that slow handlers
// never hold up, for handlers that only read memory or the local store briefly (/healthz,
// /metrics): a monitor must see the agent alive while it works hardest.
enum class Lane { pool, quick };

struct RouteOptions {
  Body body = Body::json;
  Lane lane = Lane::pool;
};

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  // Adds a route. Throws std::invalid_argument for a malformed pattern (not starting with '/',
  // an empty or unterminated `{}`) or a (method, pattern) already added: both are startup bugs.
  Router& add(Method method, std::string_view pattern, Access access, Handler handler,
              RouteOptions options = {});

 private:
  struct Route;

 public:
  // Where (method, path) goes, found once: the server reads its lane, then hands it to dispatch.
  class Match {
   public:
    // The found route's lane; pool when none matches.
    Lane lane() const;

   private:
    friend class Router;
    const Route* route = nullptr;
    std::map<std::string, std::string> params;
    std::vector<std::string> allowed;  // methods of other routes whose pattern matches the path
    bool bad_escape = false;
  };
  Match match(Method method, std::string_view path) const;

  // REQUIRES: request.path and request.caller are set (the server sets every field but json and
  // path_params, which dispatch fills); `found` is match(request.method, request.path) of this
  // router. The one-argument form matches first.
  Response dispatch(Request request, Match found) const;
  Response dispatch(Request request) const;

 private:
  std::vector<Route> routes_;
};

// Splits a request target into its path and decoded query; false if the target is not an
// origin-form path ("/...") or its query has a malformed %-escape.
bool split_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query);

// Percent-encodes one path segment for a request target ("app 1" -> "app%201"): everything but
// RFC 3986's unreserved characters.
std::string path_segment(std::string_view text);

// RFC 3986 percent-decoding ('+' stays '+'; in queries call with plus_is_space); false on a
// malformed escape.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space = false);

}  // namespace dr::transport
