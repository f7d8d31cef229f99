#include "transport/router.hpp"

#include <catch2/catch.hpp>

namespace dr::transport {
namespace {

const Identity kPeer{IdentityKind::peer_site, "site-a", AuthMethod::client_certificate};
const Identity kOperator{IdentityKind::site_operator, "ops", AuthMethod::client_certificate};
const Identity kStranger{IdentityKind::anonymous, "wrong-site", AuthMethod::client_certificate};

Request request(Method method, std::string target, Identity caller = kPeer) {
  Request r;
  r.method = method;
  r.target = target;
  REQUIRE(split_target(r.target, r.path, r.query));
  r.caller = std::move(caller);
  return r;
}

// A handler that answers with what it was given, so tests can see what dispatch passed on.
Response echo(const Request& r) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [k, v] : r.path_params) params[k] = v;
  return Response::json(200, {{"params", params}, {"json", r.json}, {"caller", r.caller.name}});
}

Router apps_router() {
  Router router;
  router.add(Method::get, "/v1/apps/{app}", kPeerOrOperator, echo)
      .add(Method::put, "/v1/apps/{app}", kPeerOnly, echo)
      .add(Method::get, "/v1/apps/summary", kOperatorOnly,
           [](const Request&) {
             return Response::json(200, {{"summary", true}});
           })
      .add(Method::post, "/v1/apps/{app}/failover", kOperatorOnly, echo)
      .add(Method::get, "/healthz", kAnyCaller, echo);
  return router;
}

std::string error_code(const Response& r) {
  return nlohmann::json::parse(r.body).at("error").at("code").get<std::string>();
}

TEST_CASE("dispatch passes decoded path parameters to the matching handler", "[unit][transport]") {
  const auto r = apps_router().dispatch(request(Method::get, "/v1/apps/app%201"));
  REQUIRE(r.status == 200);
  CHECK(nlohmann::json::parse(r.body)["params"] == nlohmann::json{{"app", "app 1"}});
}

TEST_CASE("a match is found once: its lane for the server, then dispatch with it",
          "[unit][transport]") {
  auto router = apps_router();
  router.add(Method::get, "/metrics", kAnyCaller, echo, {.lane = Lane::quick});
  CHECK(router.match(Method::get, "/metrics").lane() == Lane::quick);
  CHECK(router.match(Method::get, "/v1/apps/app1").lane() == Lane::pool);
  CHECK(router.match(Method::get, "/nope").lane() == Lane::pool);
  CHECK(router.match(Method::delete_, "/metrics").lane() == Lane::pool);
  auto found = router.match(Method::get, "/v1/apps/app%201");
  const auto r = router.dispatch(request(Method::get, "/v1/apps/app%201"), std::move(found));
  REQUIRE(r.status == 200);
  CHECK(nlohmann::json::parse(r.body)["params"] == nlohmann::json{{"app", "app 1"}});
  // The 405 of a path other methods have comes from the match too.
  const auto wrong = router.dispatch(request(Method::delete_, "/v1/apps/app1"),
                                     router.match(Method::delete_, "/v1/apps/app1"));
  CHECK(wrong.status == 405);
  CHECK(wrong.headers.get("Allow") == std::optional<std::string_view>("GET, PUT"));
}

TEST_CASE("a literal segment wins over a parameter whatever the order of add()",
          "[unit][transport]") {
  const auto r = apps_router().dispatch(request(Method::get, "/v1/apps/summary", kOperator));
  REQUIRE(r.status == 200);
  CHECK(nlohmann::json::parse(r.body) == nlohmann::json{{"summary", true}});
}

TEST_CASE("an unknown path is 404 not_found in the error body", "[unit][transport]") {
  const auto router = apps_router();
  for (const char* target : {"/v1/apps", "/v1/apps/app1/extra/more", "/nope", "/v1/apps/"}) {
    const auto r = router.dispatch(request(Method::get, target));
    INFO(target);
    CHECK(r.status == 404);
    CHECK(error_code(r) == "not_found");
  }
}

TEST_CASE("a known path with the wrong method is 405 with an Allow header", "[unit][transport]") {
  const auto r = apps_router().dispatch(request(Method::delete_, "/v1/apps/app1"));
  CHECK(r.status == 405);
  CHECK(error_code(r) == "method_not_allowed");
  CHECK(r.headers.get("allow") == std::optional<std::string_view>("GET, PUT"));
}

TEST_CASE("a caller kind the route does not allow is 403 permission_denied naming the caller",
          "[unit][transport]") {
  const auto router = apps_router();
  const auto peer_on_operator_route =
      router.dispatch(request(Method::post, "/v1/apps/app1/failover", kPeer));
  CHECK(peer_on_operator_route.status == 403);
  CHECK(error_code(peer_on_operator_route) == "permission_denied");

  const auto operator_on_peer_route =
      router.dispatch(request(Method::put, "/v1/apps/a", kOperator));
  CHECK(operator_on_peer_route.status == 403);

  const auto stranger = router.dispatch(request(Method::get, "/v1/apps/app1", kStranger));
  CHECK(stranger.status == 403);
  CHECK_THAT(stranger.body, Catch::Contains("wrong-site"));

  CHECK(router.dispatch(request(Method::get, "/healthz", kStranger)).status == 200);
}

TEST_CASE("a 403 names the role the route needs; viewers read and do not change",
          "[unit][transport]") {
  Router router;
  router.add(Method::get, "/v1/jobs", kReaders, [](const Request&) { return Response::no_content(); })
      .add(Method::post, "/v1/jobs", kOperatorOnly,
           [](const Request&) { return Response::no_content(); })
      .add(Method::post, "/v1/hooks/alertmanager",
           Access{.site_operator = true, .alertmanager_hook = true},
           [](const Request&) { return Response::no_content(); });
  const Identity viewer{IdentityKind::viewer, "dashboard", AuthMethod::client_certificate};
  const Identity hook{IdentityKind::alertmanager_hook, "alertmanager", AuthMethod::bearer_token};
  CHECK(router.dispatch(request(Method::get, "/v1/jobs", viewer)).status == 204);
  const auto change = router.dispatch(request(Method::post, "/v1/jobs", viewer));
  CHECK(change.status == 403);
  CHECK_THAT(change.body, Catch::Contains("viewer caller 'dashboard' may not call POST /v1/jobs: "
                                          "it needs the role operator"));
  const auto read = router.dispatch(request(Method::get, "/v1/jobs", hook));
  CHECK(read.status == 403);
  CHECK_THAT(read.body, Catch::Contains("it needs the role operator or viewer"));
  CHECK(router.dispatch(request(Method::post, "/v1/hooks/alertmanager", hook)).status == 204);
  const auto peer_on_hook = router.dispatch(request(Method::post, "/v1/hooks/alertmanager", kPeer));
  CHECK_THAT(peer_on_hook.body, Catch::Contains("it needs the role operator or alertmanager"));
}

TEST_CASE("a JSON body is parsed before the handler runs", "[unit][transport]") {
  auto req = request(Method::put, "/v1/apps/app1");
  req.body = R"({"generation": 3})";
  req.headers.add("Content-Type", "application/json; charset=utf-8");
  const auto r = apps_router().dispatch(std::move(req));
  REQUIRE(r.status == 200);
  CHECK(nlohmann::json::parse(r.body)["json"] == nlohmann::json{{"generation", 3}});
}

TEST_CASE("a body that is not JSON never reaches the handler: 400 with a problem",
          "[unit][transport]") {
  bool called = false;
  Router router;
  router.add(Method::post, "/v1/x", kPeerOnly, [&](const Request&) {
    called = true;
    return Response::no_content();
  });
  auto req = request(Method::post, "/v1/x");
  req.body = R"({"generation": )";
  const auto r = router.dispatch(std::move(req));
  CHECK(r.status == 400);
  const auto body = nlohmann::json::parse(r.body);
  CHECK(body["error"]["code"] == "invalid_argument");
  REQUIRE(body["error"]["problems"].size() == 1);
  CHECK(body["error"]["problems"][0]["pointer"] == "");
  CHECK_FALSE(called);
}

TEST_CASE("a body declared as another media type is 415", "[unit][transport]") {
  auto req = request(Method::put, "/v1/apps/app1");
  req.body = "generation=3";
  req.headers.add("Content-Type", "application/x-www-form-urlencoded");
  const auto r = apps_router().dispatch(std::move(req));
  CHECK(r.status == 415);
  CHECK(error_code(r) == "unsupported_media_type");
}

TEST_CASE("a handler that throws becomes 500 internal naming the route", "[unit][transport]") {
  Router router;
  router.add(Method::get, "/v1/boom", kPeerOnly,
             [](const Request&) -> Response { throw std::runtime_error("disk on fire"); });
  const auto r = router.dispatch(request(Method::get, "/v1/boom"));
  CHECK(r.status == 500);
  CHECK(error_code(r) == "internal");
  CHECK_THAT(r.body, Catch::Contains("/v1/boom") && Catch::Contains("disk on fire"));
}

TEST_CASE("malformed patterns and duplicate routes are refused at setup", "[unit][transport]") {
  Router router;
  CHECK_THROWS_AS(router.add(Method::get, "v1/apps", kPeerOnly, echo), std::invalid_argument);
  CHECK_THROWS_AS(router.add(Method::get, "/v1/{app", kPeerOnly, echo), std::invalid_argument);
  CHECK_THROWS_AS(router.add(Method::get, "/v1/{}", kPeerOnly, echo), std::invalid_argument);
  CHECK_THROWS_AS(router.add(Method::get, "/v1/a{b}", kPeerOnly, echo), std::invalid_argument);
  router.add(Method::get, "/v1/apps/{app}", kPeerOnly, echo);
  CHECK_THROWS_AS(router.add(Method::get, "/v1/apps/{app}", kOperatorOnly, echo),
                  std::invalid_argument);
}

TEST_CASE("a malformed escape in a path parameter is 400", "[unit][transport]") {
  const auto r = apps_router().dispatch(request(Method::get, "/v1/apps/app%2"));
  CHECK(r.status == 400);
  CHECK(error_code(r) == "invalid_argument");
}

TEST_CASE("split_target decodes the query and refuses what is not an origin-form target",
          "[unit][transport]") {
  std::string path;
  std::map<std::string, std::string> query;
  REQUIRE(split_target("/v1/jobs?state=running&name=a+b%2Fc&flag", path, query));
  CHECK(path == "/v1/jobs");
  CHECK(query ==
        std::map<std::string, std::string>{{"state", "running"}, {"name", "a b/c"}, {"flag", ""}});
  CHECK_FALSE(split_target("http://example.com/v1", path, query));
  CHECK_FALSE(split_target("/v1?x=%zz", path, query));
}

}  // namespace
}  // namespace dr::transport
