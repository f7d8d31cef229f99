#include "transport/router.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>

#include "model/json_reader.hpp"
#include "transport/error_mapping.hpp"

namespace dr::transport {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  // REQUIRES: path starts with '/'. "/" is no segments; "/a//b" keeps its empty segment.
  std::vector<std::string_view> segments;
  if (path == "/") return segments;
  std::size_t start = 1;
  while (true) {
    const auto slash = path.find('/', start);
    segments.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_json_media_type(std::string_view content_type) {
  const auto semi = content_type.find(';');
  auto type = content_type.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  std::string lower(type);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "application/json" ||
         (lower.starts_with("application/") && lower.ends_with("+json"));
}

}  // namespace

bool Access::allows(IdentityKind kind) const noexcept {
  switch (kind) {
    case IdentityKind::peer_site:
      return peer_site;
    case IdentityKind::site_operator:
      return site_operator;
    case IdentityKind::viewer:
      return viewer;
    case IdentityKind::alertmanager_hook:
      return alertmanager_hook;
    case IdentityKind::anonymous:
      return anonymous;
  }
  return false;
}

std::string Access::kinds() const {
  std::string out;
  for (auto kind : {IdentityKind::site_operator, IdentityKind::viewer, IdentityKind::peer_site,
                    IdentityKind::alertmanager_hook}) {
    if (allows(kind)) out += (out.empty() ? "" : " or ") + std::string(to_string(kind));
  }
  return out.empty() ? "none" : out;
}

struct Router::Route {
  Method method;
  std::string pattern;
  std::vector<std::string> segments;  // "{name}" kept with its braces
  int literal_count = 0;
  Access access;
  RouteOptions options;
  Handler handler;

  static bool is_param(const std::string& s) { return s.size() > 2 && s.front() == '{'; }

  // Fills `params` when every segment matches.
  bool match(const std::vector<std::string_view>& path, std::map<std::string, std::string>& params,
             bool& bad_escape) const {
    if (path.size() != segments.size()) return false;
    for (std::size_t i = 0; i < path.size(); ++i) {
      if (is_param(segments[i])) {
        if (path[i].empty()) return false;
      } else if (segments[i] != path[i]) {
        return false;
      }
    }
    for (std::size_t i = 0; i < path.size(); ++i) {
      if (!is_param(segments[i])) continue;
      std::string decoded;
      if (!percent_decode(path[i], decoded)) {
        bad_escape = true;
        return false;
      }
      params[segments[i].substr(1, segments[i].size() - 2)] = std::move(decoded);
    }
    return true;
  }
};

Router::Router() = default;
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Router& Router::add(Method method, std::string_view pattern, Access access, Handler handler,
                    RouteOptions options) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': '" + std::string(pattern) +
                                "'");
  }
  Route route{method, std::string(pattern), {}, 0, access, options, std::move(handler)};
  for (const auto segment : split_path(pattern)) {
    const bool opens = segment.find('{') != std::string_view::npos;
    const bool closes = segment.find('}') != std::string_view::npos;
    if (opens || closes) {
      if (segment.size() < 3 || segment.front() != '{' || segment.back() != '}' ||
          segment.substr(1, segment.size() - 2).find_first_of("{}") != std::string_view::npos) {
        throw std::invalid_argument("malformed parameter segment '" + std::string(segment) +
                                    "' in route '" + route.pattern + "'");
      }
    } else {
      ++route.literal_count;
    }
    route.segments.emplace_back(segment);
  }
  for (const auto& r : routes_) {
    if (r.method == method && r.segments == route.segments) {
      throw std::invalid_argument(std::string("route added twice: ") + to_string(method) + " " +
                                  route.pattern);
    }
  }
  routes_.push_back(std::move(route));
  // Most literal segments first, so "/v1/apps/summary" is tried before "/v1/apps/{app}".
  std::stable_sort(routes_.begin(), routes_.end(), [](const Route& a, const Route& b) {
    return a.literal_count > b.literal_count;
  });
  return *this;
}

Lane Router::Match::lane() const { return route != nullptr ? route->options.lane : Lane::pool; }

Router::Match Router::match(Method method, std::string_view path) const {
  const auto segments = split_path(path);
  Match out;
  for (const auto& route : routes_) {
    std::map<std::string, std::string> params;
    if (!route.match(segments, params, out.bad_escape)) continue;
    if (route.method == method) {
      if (out.route == nullptr) {
        out.route = &route;
        out.params = std::move(params);
      }
    } else if (std::find(out.allowed.begin(), out.allowed.end(), to_string(route.method)) ==
               out.allowed.end()) {
      out.allowed.emplace_back(to_string(route.method));
    }
  }
  return out;
}

Response Router::dispatch(Request request) const {
  auto found = match(request.method, request.path);
  return dispatch(std::move(request), std::move(found));
}

Response Router::dispatch(Request request, Match matched) const {
  const Route* found = matched.route;
  const auto& allowed = matched.allowed;
  const bool bad_escape = matched.bad_escape;
  if (found != nullptr) request.path_params = std::move(matched.params);
  if (found == nullptr) {
    if (bad_escape) {
      return error_response("invalid_argument",
                            "malformed %-escape in path '" + request.path + "'");
    }
    if (allowed.empty()) {
      return error_response("not_found", "no such resource: " + request.path);
    }
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    auto response = error_response(kMethodNotAllowed, std::string(to_string(request.method)) +
                                                          " is not allowed on " + request.path +
                                                          "; allowed: " + allow);
    response.headers.set("Allow", allow);
    return response;
  }
  if (!found->access.allows(request.caller.kind)) {
    return error_response("permission_denied", std::string(to_string(request.caller.kind)) +
                                                   " caller '" + request.caller.name +
                                                   "' may not call " + to_string(request.method) +
                                                   " " + found->pattern + ": it needs the role " +
                                                   found->access.kinds());
  }
  if (!request.body.empty()) {
    const auto content_type = request.headers.get("Content-Type");
    if (content_type && !is_json_media_type(*content_type)) {
      return error_response(
          kUnsupportedMediaType,
          "request bodies must be application/json, not '" + std::string(*content_type) + "'");
    }
  }
  if (!request.body.empty() && found->options.body == Body::json) {
    auto parsed = model::parse_json(request.body);
    if (!parsed) {
      return error_response("invalid_argument", "request body is not valid JSON", parsed.error());
    }
    request.json = std::move(*parsed);
  }
  try {
    return found->handler(request);
  } catch (const std::exception& e) {
    return error_response("internal", std::string("handler for ") + to_string(request.method) +
                                          " " + found->pattern + " threw: " + e.what());
  }
}

std::string path_segment(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

bool split_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query) {
  if (target.empty() || target.front() != '/') return false;
  const auto question = target.find('?');
  path = std::string(target.substr(0, question));
  query.clear();
  if (question == std::string_view::npos) return true;
  auto rest = target.substr(question + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string key;
    std::string value;
    if (!percent_decode(pair.substr(0, eq), key, true)) return false;
    if (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), value, true)) {
      return false;
    }
    query[std::move(key)] = std::move(value);
  }
  return true;
}

}  // namespace dr::transport
