#include "transport/http_request.hpp"

#include <cctype>

#include "transport/router.hpp"

namespace dr::transport {

namespace http = boost::beast::http;

std::optional<std::string> framing_problem(const http::request_header<>& header) {
  int codings = 0;
  std::string value;
  for (const auto& field : header) {
    if (field.name() != http::field::transfer_encoding) continue;
    ++codings;
    value = std::string(field.value());
  }
  if (codings == 0) return std::nullopt;
  if (header.count(http::field::content_length) > 0) {
    return "a request with both Transfer-Encoding and Content-Length is refused (RFC 9112 6.3)";
  }
  if (codings > 1) return "Transfer-Encoding appears more than once: send it once";
  std::string coding;
  for (char c : value) {
    if (c != ' ' && c != '\t') {
      coding += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (coding != "chunked") {
    return "Transfer-Encoding '" + value +
           "' is not implemented: send the body with Content-Length, or chunked alone";
  }
  return std::nullopt;
}

Result<Request> to_request(BeastRequest&& message) {
  Request request;
  request.method = method_from_string(std::string_view(message.method_string()));
  request.target = std::string(message.target());
  if (!split_target(request.target, request.path, request.query)) {
    return fail(Errc::invalid_argument, "malformed request target '" + request.target + "'");
  }
  for (const auto& field : message) {
    request.headers.add(std::string(field.name_string()), std::string(field.value()));
  }
  request.body = std::move(message.body());
  return request;
}

}  // namespace dr::transport
