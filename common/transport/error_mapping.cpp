#include "transport/error_mapping.hpp"

#include <array>
#include <optional>

#include "model/json_reader.hpp"

namespace dr::transport {
namespace {

// THE table: error code <-> HTTP status <-> Errc. Read forwards by the server (code -> status),
// backwards by the client (code, else status -> Errc). The first row of a status is the Errc a
// bare status means.
struct Row {
  std::string_view code;
  int status;
  Errc errc;
};
constexpr std::array kTable{
    Row{"invalid_argument", 400, Errc::invalid_argument},
    Row{kUnauthenticated, 401, Errc::permission_denied},
    Row{"permission_denied", 403, Errc::permission_denied},
    Row{"not_found", 404, Errc::not_found},
    Row{kMethodNotAllowed, 405, Errc::invalid_argument},
    Row{"failed_precondition", 409, Errc::failed_precondition},
    Row{"aborted", 409, Errc::aborted},
    Row{"already_exists", 409, Errc::already_exists},
    Row{kPayloadTooLarge, 413, Errc::invalid_argument},
    Row{kUnsupportedMediaType, 415, Errc::invalid_argument},
    Row{kTooManyRequests, 429, Errc::unavailable},
    Row{"internal", 500, Errc::internal},
    Row{"unavailable", 503, Errc::unavailable},
    Row{"deadline_exceeded", 504, Errc::deadline_exceeded},
};

const Row* find_code(std::string_view code) noexcept {
  for (const auto& row : kTable) {
    if (row.code == code) return &row;
  }
  return nullptr;
}

std::string reason_of(int status) {
  for (const auto& row : kTable) {
    if (row.status == status) return std::string(row.code);
  }
  return "HTTP " + std::to_string(status);
}

}  // namespace

int http_status(Errc code) noexcept { return http_status(to_string(code)); }

int http_status(std::string_view code) noexcept {
  const Row* row = find_code(code);
  return row != nullptr ? row->status : 500;
}

Errc errc_from_code(std::string_view code, int status) noexcept {
  if (const Row* row = find_code(code)) return row->errc;
  for (const auto& row : kTable) {
    if (row.status == status) return row.errc;
  }
  if (status == 408) return Errc::deadline_exceeded;
  if (status == 502 || status == 429) return Errc::unavailable;
  if (status >= 400 && status < 500) return Errc::invalid_argument;
  return Errc::internal;
}

nlohmann::json error_body(std::string_view code, std::string_view message,
                          const model::Problems& problems) {
  nlohmann::json error = {{"code", code}, {"message", message}};
  if (!problems.empty()) {
    auto& list = error["problems"] = nlohmann::json::array();
    for (const auto& p : problems) list.push_back({{"pointer", p.pointer}, {"message", p.message}});
  }
  return {{"error", std::move(error)}};
}

Response error_response(std::string_view code, std::string_view message,
                        const model::Problems& problems) {
  if (find_code(code) == nullptr) code = "internal";
  return Response::json(http_status(code), error_body(code, message, problems));
}

Response error_response(const Error& error) {
  return error_response(to_string(error.code), error.message);
}

Response error_response(const model::Problems& problems, std::string_view message) {
  return error_response(to_string(Errc::invalid_argument), message, problems);
}

Error error_from_response(const Response& response, std::string_view context) {
  std::string code;
  std::string message;
  const auto parsed = model::parse_json(response.body);
  const auto text = [](const nlohmann::json& obj, const char* key) {
    const auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (parsed && parsed->is_object() && parsed->contains("error") && (*parsed)["error"].is_object()) {
    const auto& e = (*parsed)["error"];
    code = text(e, "code");
    message = text(e, "message");
    if (e.contains("problems") && e["problems"].is_array()) {
      for (const auto& p : e["problems"]) {
        if (p.is_object()) message += "; " + text(p, "pointer") + ": " + text(p, "message");
      }
    }
  }
  if (code.empty()) {
    code = reason_of(response.status);
    message = "HTTP " + std::to_string(response.status) + ": " + response.body.substr(0, 200);
  }
  std::string full(context);
  full += message;
  return fail(errc_from_code(code, response.status), std::move(full), response.status);
}

}  // namespace dr::transport
