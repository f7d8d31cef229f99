#include "transport/error_mapping.hpp"

#include <catch2/catch.hpp>
#include <fstream>

namespace dr::transport {
namespace {

constexpr Errc kAll[] = {Errc::not_found,           Errc::already_exists,    Errc::invalid_argument,
                         Errc::failed_precondition, Errc::aborted,           Errc::unavailable,
                         Errc::deadline_exceeded,   Errc::permission_denied, Errc::internal};

TEST_CASE("every Errc has its documented HTTP status", "[unit][transport]") {
  CHECK(http_status(Errc::not_found) == 404);
  CHECK(http_status(Errc::invalid_argument) == 400);
  CHECK(http_status(Errc::already_exists) == 409);
  CHECK(http_status(Errc::failed_precondition) == 409);
  CHECK(http_status(Errc::aborted) == 409);
  CHECK(http_status(Errc::permission_denied) == 403);
  CHECK(http_status(Errc::unavailable) == 503);
  CHECK(http_status(Errc::deadline_exceeded) == 504);
  CHECK(http_status(Errc::internal) == 500);
  CHECK(http_status(kUnauthenticated) == 401);
  CHECK(http_status(kMethodNotAllowed) == 405);
  CHECK(http_status(kPayloadTooLarge) == 413);
  CHECK(http_status(kUnsupportedMediaType) == 415);
  CHECK(http_status(kTooManyRequests) == 429);
  // A client hears the connection cap as a reason to come back, as for any unavailable agent.
  CHECK(error_from_response(error_response(kTooManyRequests, "busy"), "").code == Errc::unavailable);
}

TEST_CASE("an Error survives the trip through a response and back", "[unit][transport]") {
  for (const Errc code : kAll) {
    INFO(to_string(code));
    const auto response = error_response(fail(code, "rbd image 'rbd/vm1': promote: busy"));
    CHECK(response.status == http_status(code));
    CHECK(response.content_type == "application/json");
    const Error back = error_from_response(response, "POST /v1/x: ");
    CHECK(back.code == code);  // the body's code keeps 409s apart
    CHECK(back.message == "POST /v1/x: rbd image 'rbd/vm1': promote: busy");
    CHECK(back.native == response.status);
  }
}

TEST_CASE("the error body has the documented shape, problems only when there are some",
          "[unit][transport]") {
  CHECK(error_body("not_found", "no app 'x'") ==
        nlohmann::json::parse(R"({"error": {"code": "not_found", "message": "no app 'x'"}})"));
  const auto with_problems = error_response({{"/vms/0/name", "must not be empty"}});
  CHECK(with_problems.status == 400);
  CHECK(nlohmann::json::parse(with_problems.body) == nlohmann::json::parse(R"(
    {"error": {"code": "invalid_argument", "message": "the request document is not valid",
               "problems": [{"pointer": "/vms/0/name", "message": "must not be empty"}]}})"));
  CHECK_THAT(error_from_response(with_problems).message,
             Catch::Contains("/vms/0/name: must not be empty"));
}

TEST_CASE("a code outside the table is answered as internal", "[unit][transport]") {
  const auto r = error_response("teapot", "short and stout");
  CHECK(r.status == 500);
  CHECK(nlohmann::json::parse(r.body)["error"]["code"] == "internal");
}

TEST_CASE("a response without an error body maps by its status", "[unit][transport]") {
  auto bare = [](int status) {
    Response r = Response::text(status, "<html>proxy error</html>");
    return error_from_response(r);
  };
  CHECK(bare(404).code == Errc::not_found);
  CHECK(bare(401).code == Errc::permission_denied);
  CHECK(bare(409).code == Errc::failed_precondition);
  CHECK(bare(418).code == Errc::invalid_argument);
  CHECK(bare(502).code == Errc::unavailable);
  CHECK(bare(503).code == Errc::unavailable);
  CHECK(bare(408).code == Errc::deadline_exceeded);
  CHECK(bare(500).code == Errc::internal);
  CHECK_THAT(bare(502).message, Catch::Contains("HTTP 502") && Catch::Contains("proxy error"));
}

}  // namespace
}  // namespace dr::transport

namespace dr::transport {
namespace {

nlohmann::json example(const char* name) {
  std::ifstream in(std::string(DR_ERROR_BODIES_DIR) + "/" + name);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

// check_error_schema.py validates the same files against schemas/api/error.v1.schema.json.
TEST_CASE("error bodies are the schema's examples, byte for byte in JSON terms",
          "[unit][transport]") {
  CHECK(
      nlohmann::json::parse(error_response(fail(Errc::not_found, "no application 'app9'")).body) ==
      example("not_found.json"));
  CHECK(nlohmann::json::parse(
            error_response({{"/vms/0/nics/1/ip", "not an IPv4 address: '10.0.0.300'"},
                            {"", "missing field 'apiVersion'"}})
                .body) == example("invalid_document.json"));
  CHECK(nlohmann::json::parse(
            error_response(kMethodNotAllowed,
                           "DELETE is not allowed on /v1/apps/app1; allowed: GET, PUT")
                .body) == example("method_not_allowed.json"));
}

}  // namespace
}  // namespace dr::transport
