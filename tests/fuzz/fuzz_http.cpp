// libFuzzer target over the agents' HTTP path without sockets: bytes -> Beast's request parser
// (the server's limits) -> the framing rule and the Request conversion of
// transport/http_request.hpp -> a Router shaped like the agents' (parameters, JSON and raw
// bodies, every access rule) -> the error body. Besides "no crash, no sanitizer report" it checks
// that every answer is below 500 and that every error answer is the one error body
// (schemas/api/error.v1.schema.json: {"error": {"code", "message", "problems"?}}).
// The first input byte picks the caller (peer, operator, viewer, Alertmanager hook, anonymous).
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "model/json_reader.hpp"
#include "transport/error_mapping.hpp"
#include "transport/http_request.hpp"
#include "transport/router.hpp"

namespace {

using namespace dr::transport;
namespace http = boost::beast::http;
using nlohmann::json;

// Reads a body the way the agents' handlers do: strictly, every problem a 400.
Response read_body(const json& doc) {
  dr::model::JsonReader r(dr::model::JsonReader::UnknownKeys::reject);
  if (!r.object(doc, "", {"type", "force", "reason", "idempotencyKey"})) {
    return error_response(r.problems);
  }
  (void)r.enumeration(doc, "", "type", {{"disaster", 1}, {"planned", 2}}, 0, true);
  (void)r.opt_boolean(doc, "", "force");
  (void)r.opt_string(doc, "", "reason", false);
  (void)r.opt_string(doc, "", "idempotencyKey", false);
  if (!r.ok()) return error_response(r.problems);
  return Response::json(202, {{"job", {{"id", 1}}}});
}

const Router& router() {
  static const Router r = [] {
    Router out;
    out.add(Method::get, "/healthz", kAnyCaller,
            [](const Request&) { return Response::json(200, {{"status", "ok"}}); },
            {.lane = Lane::quick})
        .add(Method::get, "/v1/apps/{app}", kReaders,
             [](const Request& q) { return Response::json(200, {{"id", q.param("app")}}); })
        .add(Method::post, "/v1/apps/{app}/failover", kOperatorOnly,
             [](const Request& q) { return read_body(q.json); })
        .add(
            Method::post, "/v1/hooks/failover", kAnyCaller,
            [](const Request& q) {
              auto doc = dr::model::parse_json(q.body);
              if (!doc) return error_response("invalid_argument", "not JSON", doc.error());
              return read_body(*doc);
            },
            {.body = Body::raw})
        .add(Method::post, "/v1/hooks/alertmanager",
             Access{.site_operator = true, .alertmanager_hook = true},
             [](const Request& q) { return read_body(q.json); })
        .add(Method::get, "/v1/peer/apps/{app}/images/{pool}/{image}", kPeerOnly,
             [](const Request& q) {
               return Response::json(200, {{"image", q.param("pool") + "/" + q.param("image")}});
             })
        .add(Method::delete_, "/v1/peer/apps/{app}", kPeerOnly,
             [](const Request&) { return Response::no_content(); });
    return out;
  }();
  return r;
}

void check_answer(const Response& r) {
  if (r.status < 200 || r.status >= 500) std::abort();
  if (r.status < 400) return;
  auto doc = json::parse(r.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("error")) std::abort();
  const json& e = doc["error"];
  if (!e.is_object() || !e.contains("code") || !e["code"].is_string() || !e.contains("message") ||
      !e["message"].is_string()) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static constexpr IdentityKind kCallers[] = {IdentityKind::peer_site, IdentityKind::site_operator,
                                              IdentityKind::viewer, IdentityKind::alertmanager_hook,
                                              IdentityKind::anonymous};
  const Identity caller{kCallers[data[0] % 5], "fuzz", AuthMethod::client_certificate};
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  http::request_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  parser.header_limit(16 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < bytes.size() && !parser.is_done() && !ec) {
    const auto n = parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (n == 0 && !ec) break;  // needs more bytes than the input has
    used += n;
    if (parser.is_header_done() && !parser.is_done()) {
      if (auto problem = framing_problem(parser.get())) {
        check_answer(error_response("invalid_argument", *problem));
        return 0;  // the server answers 400 and closes
      }
    }
  }
  if (ec == http::error::need_more) ec = {};
  if (ec) {
    check_answer(error_response("invalid_argument", "malformed HTTP request: " + ec.message()));
    return 0;
  }
  if (!parser.is_done()) return 0;
  if (auto problem = framing_problem(parser.get())) {  // a message with no body left to read
    check_answer(error_response("invalid_argument", *problem));
    return 0;
  }
  auto request = to_request(parser.release());
  if (!request) {
    check_answer(error_response(request.error()));
    return 0;
  }
  request->caller = caller;
  check_answer(router().dispatch(std::move(*request)));
  return 0;
}
