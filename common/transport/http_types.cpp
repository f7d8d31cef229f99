#include "transport/http_types.hpp"

#include <algorithm>
#include <cctype>

namespace dr::transport {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

struct MethodName {
  Method method;
  const char* name;
};
constexpr MethodName kMethods[] = {
    {Method::get, "GET"},         {Method::head, "HEAD"},   {Method::post, "POST"},
    {Method::put, "PUT"},         {Method::patch, "PATCH"}, {Method::delete_, "DELETE"},
    {Method::options, "OPTIONS"},
};

}  // namespace

const char* to_string(Method method) noexcept {
  for (const auto& m : kMethods) {
    if (m.method == method) return m.name;
  }
  return "OTHER";
}

Method method_from_string(std::string_view verb) noexcept {
  // Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET.
  for (const auto& m : kMethods) {
    if (verb == m.name) return m.method;
  }
  return Method::other;
}

const char* to_string(IdentityKind kind) noexcept {
  switch (kind) {
    case IdentityKind::peer_site:
      return "peer_site";
    case IdentityKind::site_operator:
      return "operator";
    case IdentityKind::viewer:
      return "viewer";
    case IdentityKind::alertmanager_hook:
      return "alertmanager";
    case IdentityKind::anonymous:
      return "anonymous";
  }
  return "anonymous";
}

const char* to_string(AuthMethod how) noexcept {
  switch (how) {
    case AuthMethod::client_certificate:
      return "client_certificate";
    case AuthMethod::bearer_token:
      return "bearer_token";
  }
  return "client_certificate";
}

void Headers::add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::set(std::string name, std::string value) {
  std::erase_if(fields_, [&](const auto& f) { return iequals(f.first, name); });
  fields_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (iequals(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

const std::string& Request::param(const std::string& name) const {
  static const std::string kEmpty;
  const auto it = path_params.find(name);
  return it == path_params.end() ? kEmpty : it->second;
}

Response Response::json(int status, const nlohmann::json& doc) {
  Response r;
  r.status = status;
  // Strings from handlers may carry bytes that are not UTF-8 (a libvirt message in a legacy
  // locale): replace them instead of throwing in the middle of answering.
  r.body = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::text(int status, std::string text) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(text);
  return r;
}

Response Response::no_content() {
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

}  // namespace dr::transport
