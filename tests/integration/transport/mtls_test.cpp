// The transport end to end on 127.0.0.1: site-b's agent serves, clients present the certificates
// make-pki.sh made (site-a's agent, an operator, a dashboard, and the bad ones), and each case
// checks what the caller gets and what the server saw.

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <future>
#include <mutex>

#include "transport/beast_peer_client.hpp"
#include "transport/error_mapping.hpp"
#include "transport/http_server.hpp"
#include "support/test_pki.hpp"
#include "support/wait_until.hpp"

namespace dr::transport {
namespace {

using dr::testing::TestPki;
using dr::testing::wait_until;
using namespace std::chrono_literals;

constexpr const char* kToken = "dashboard-token-0123456789";

// Holds a handler until the test opens it.
class Gate {
 public:
  void pass() {
    std::unique_lock lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
  }
  bool wait_entered(int count = 1) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 5s, [&] { return entered_ >= count; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int entered_ = 0;
  bool open_ = false;
};

nlohmann::json describe(const Identity& id) {
  return {{"kind", to_string(id.kind)}, {"name", id.name}, {"how", to_string(id.how)}};
}

// site-b's agent: trusts site-a's CA for its peer and the operator CA for operators.
struct SiteB {
  Gate gate;
  std::atomic<int> handler_calls{0};
  std::unique_ptr<HttpServer> server;

  explicit SiteB(const std::function<void(ServerOptions&)>& tweak = {}) {
    const auto& pki = TestPki::get();
    auto router = std::make_shared<Router>();
    auto whoami = [this](const Request& r) {
      ++handler_calls;
      return Response::json(200, {{"app", r.param("app")}, {"caller", describe(r.caller)}});
    };
    router->add(Method::get, "/v1/apps/{app}", kPeerOrOperator, whoami)
        .add(Method::post, "/v1/peer/descriptions", kPeerOnly,
             [this](const Request& r) {
               ++handler_calls;
               return Response::json(201, {{"received", r.json}});
             })
        .add(Method::post, "/v1/operator/failover", kOperatorOnly, whoami)
        .add(Method::get, "/v1/fail/{code}", kPeerOnly,
             [](const Request& r) {
               for (auto code : {Errc::not_found, Errc::failed_precondition, Errc::aborted,
                                 Errc::unavailable}) {
                 if (r.param("code") == to_string(code)) {
                   return error_response(fail(code, "scripted " + r.param("code")));
                 }
               }
               return Response::no_content();
             })
        .add(Method::get, "/v1/slow", kPeerOrOperator,
             [this](const Request&) {
               gate.pass();
               return Response::json(200, {{"slow", true}});
             })
        .add(
            Method::get, "/healthz", kPeerOrOperator,
            [](const Request&) { return Response::json(200, {{"status", "ok"}}); },
            {.lane = Lane::quick});
    ServerOptions options;
    options.tls = {pki.file("site-b/agent.crt"), pki.file("site-b/agent.key"),
                   pki.file("site-a/ca.crt"), pki.file("operator/ca.crt")};
    options.auth.peer_site = "site-a";
    options.auth.operator_names = {"ops"};
    options.auth.bearer_tokens = {{"grafana", sha256_hex(kToken)}};
    options.body_limit = 64 * 1024;
    if (tweak) tweak(options);
    auto started = HttpServer::start(std::move(options), std::move(router));
    REQUIRE(started);
    server = std::move(*started);
  }
  ~SiteB() {
    gate.open();
    server->stop();
  }

  // Options of a client presenting DIR/<who>.crt ("" presents none) to this server.
  ClientOptions client_options(const std::string& who) const {
    const auto& pki = TestPki::get();
    ClientOptions options;
    options.port = server->port();
    if (!who.empty()) options.tls = {pki.file(who + ".crt"), pki.file(who + ".key"), {}};
    options.tls.ca_file = pki.file("site-b/ca.crt");
    options.expected_site = "site-b";
    return options;
  }
  std::unique_ptr<BeastPeerClient> client(const std::string& who) const {
    return client(client_options(who));
  }
  static std::unique_ptr<BeastPeerClient> client(ClientOptions options) {
    auto made = BeastPeerClient::create(std::move(options));
    REQUIRE(made);
    return std::move(*made);
  }
};

// Sends `bytes` as they are over one mutual-TLS connection presenting <who>.crt, ends its side of
// the TCP connection, and returns every byte the server sends until it closes (or 5 s pass).
// `after`, if given, sees the client's end of the connection once everything was read.
std::string raw_exchange(const SiteB& site, const std::string& who, const std::string& bytes,
                         const std::function<void(SSL*)>& after = {}) {
  namespace net = boost::asio;
  const auto& pki = TestPki::get();
  net::io_context io;
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.load_verify_file(pki.file("site-b/ca.crt"));
  ctx.use_certificate_chain_file(pki.file(who + ".crt"));
  ctx.use_private_key_file(pki.file(who + ".key"), net::ssl::context::pem);
  net::ssl::stream<net::ip::tcp::socket> stream(io, ctx);
  stream.next_layer().connect({net::ip::make_address("127.0.0.1"), site.server->port()});
  const timeval five{5, 0};
  setsockopt(stream.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
  stream.handshake(net::ssl::stream_base::client);
  net::write(stream, net::buffer(bytes));
  // Nothing more to send: a server that drains before it closes sees the end at once.
  stream.next_layer().shutdown(net::ip::tcp::socket::shutdown_send);
  std::string out;
  std::array<char, 4096> chunk;
  boost::system::error_code ec;
  while (!ec) {
    const auto n = stream.read_some(net::buffer(chunk), ec);
    out.append(chunk.data(), n);
  }
  if (after) after(stream.native_handle());
  return out;
}

// How many HTTP responses a raw answer holds (status lines).
int responses_in(const std::string& raw) {
  int n = 0;
  for (auto at = raw.find("HTTP/1.1 "); at != std::string::npos; at = raw.find("HTTP/1.1 ", at + 1)) {
    ++n;
  }
  return n;
}

nlohmann::json body_of(const Result<Response>& r) {
  REQUIRE(r);
  return nlohmann::json::parse(r->body);
}

TEST_CASE("the peer site's agent calls over mutual TLS and is identified as the peer",
          "[integration][tls]") {
  SiteB site_b;
  const auto response = site_b.client("site-a/agent")->get("/v1/apps/app1");
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(body_of(response) ==
        nlohmann::json::parse(R"({"app": "app1", "caller": {"kind": "peer_site",
                                  "name": "site-a", "how": "client_certificate"}})"));
}

TEST_CASE("consecutive calls reuse one kept-alive connection", "[integration][tls]") {
  SiteB site_b;
  auto client = site_b.client("site-a/agent");
  for (int i = 0; i < 5; ++i) REQUIRE(client->get("/v1/apps/app" + std::to_string(i)));
  CHECK(client->connections_opened() == 1);
  CHECK(site_b.server->stats().connections == 1);
  CHECK(wait_until([&] { return site_b.server->stats().requests == 5; }));
}

// The server refuses `who` during the handshake: no HTTP is spoken, no handler runs.
void check_refused_in_handshake(const std::string& who) {
  SiteB site_b;
  const auto response = site_b.client(who)->get("/v1/apps/app1");
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::unavailable);
  CHECK(wait_until([&] { return site_b.server->stats().handshakes_failed == 1; }));
  CHECK(site_b.server->stats().requests == 0);
  CHECK(site_b.handler_calls == 0);
}

TEST_CASE("a client without a certificate is refused in the TLS handshake", "[integration][tls]") {
  check_refused_in_handshake("");
}

TEST_CASE("a certificate from another CA is refused in the TLS handshake", "[integration][tls]") {
  check_refused_in_handshake("test/other-ca-site-a");  // CN=site-a, the right name
}

TEST_CASE("an expired certificate from the right CA is refused in the TLS handshake",
          "[integration][tls]") {
  check_refused_in_handshake("test/expired-site-a");
}

TEST_CASE("the right CA but the wrong site name is 403 permission_denied", "[integration][tls]") {
  SiteB site_b;
  const auto response = site_b.client("test/wrong-site")->get("/v1/apps/app1");
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::permission_denied);
  CHECK(response.error().native == 403);
  CHECK_THAT(response.error().message, Catch::Contains("wrong-site"));
  CHECK(site_b.handler_calls == 0);
}

TEST_CASE("an operator certificate reaches the operator API but not the peer API",
          "[integration][tls]") {
  SiteB site_b;
  auto ops = site_b.client("operator/ops");
  const auto failover = ops->post_json("/v1/operator/failover", {{"app", "app1"}});
  CHECK(
      body_of(failover)["caller"] ==
      nlohmann::json::parse(R"({"kind": "operator", "name": "ops", "how": "client_certificate"})"));
  const auto peer_only = ops->post_json("/v1/peer/descriptions", {{"kind", "FirstDescription"}});
  REQUIRE_FALSE(peer_only);
  CHECK(peer_only.error().code == Errc::permission_denied);
}

TEST_CASE("the peer site cannot call the operator API", "[integration][tls]") {
  SiteB site_b;
  const auto response = site_b.client("site-a/agent")->post_json("/v1/operator/failover", {});
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::permission_denied);
  CHECK(response.error().native == 403);
}

TEST_CASE("a dashboard certificate needs a configured bearer token to be an operator",
          "[integration][tls]") {
  SiteB site_b;
  auto with_token = site_b.client_options("operator/dashboard");
  with_token.bearer_token = kToken;
  const auto ok = SiteB::client(with_token)->post_json("/v1/operator/failover", {});
  CHECK(body_of(ok)["caller"] ==
        nlohmann::json::parse(R"({"kind": "operator", "name": "grafana", "how": "bearer_token"})"));

  const auto without = site_b.client("operator/dashboard")->post_json("/v1/operator/failover", {});
  REQUIRE_FALSE(without);
  CHECK(without.error().native == 403);

  auto wrong_token = site_b.client_options("operator/dashboard");
  wrong_token.bearer_token = "guess";
  const auto refused = SiteB::client(wrong_token)->post_json("/v1/operator/failover", {});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::permission_denied);
  CHECK(refused.error().native == 401);
  CHECK(site_b.handler_calls == 1);
}

TEST_CASE("bad JSON is 400 invalid_argument and never reaches the handler", "[integration][tls]") {
  SiteB site_b;
  ClientRequest request;
  request.method = Method::post;
  request.target = "/v1/peer/descriptions";
  request.body = R"({"kind": "FirstDescription",)";
  const auto response = site_b.client("site-a/agent")->call(request);
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::invalid_argument);
  CHECK(response.error().native == 400);
  CHECK_THAT(response.error().message, Catch::Contains("not valid JSON"));
  CHECK(site_b.handler_calls == 0);
}

TEST_CASE("an oversize body is 413 and the next call gets a fresh connection",
          "[integration][tls]") {
  SiteB site_b;  // body_limit 64 KiB
  auto client = site_b.client("site-a/agent");
  ClientRequest request;
  request.method = Method::post;
  request.target = "/v1/peer/descriptions";
  request.body = "\"" + std::string(1024 * 1024, 'x') + "\"";
  const auto response = client->call(request);
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::invalid_argument);
  CHECK(response.error().native == 413);
  CHECK(site_b.handler_calls == 0);

  request.body = R"({"small": true})";
  CHECK(body_of(client->call(request))["received"] == nlohmann::json{{"small", true}});
  CHECK(client->connections_opened() == 2);
}

TEST_CASE("wrong method is 405 and an unknown path 404, through the whole stack",
          "[integration][tls]") {
  SiteB site_b;
  auto client = site_b.client("site-a/agent");
  ClientRequest del;
  del.method = Method::delete_;
  del.target = "/v1/apps/app1";
  const auto not_allowed = client->call(del);
  REQUIRE_FALSE(not_allowed);
  CHECK(not_allowed.error().native == 405);
  CHECK(not_allowed.error().code == Errc::invalid_argument);

  const auto missing = client->get("/v1/nothing/here");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().native == 404);
  CHECK(missing.error().code == Errc::not_found);
  CHECK(client->connections_opened() == 1);  // error responses keep the connection
}

TEST_CASE("a handler's error arrives as the same Errc, 409s kept apart", "[integration][tls]") {
  SiteB site_b;
  auto client = site_b.client("site-a/agent");
  for (auto code : {Errc::not_found, Errc::failed_precondition, Errc::aborted, Errc::unavailable}) {
    const auto response = client->get(std::string("/v1/fail/") + to_string(code));
    REQUIRE_FALSE(response);
    CHECK(response.error().code == code);
    CHECK(response.error().native == http_status(code));
    CHECK_THAT(response.error().message,
               Catch::Contains(std::string("scripted ") + to_string(code)));
  }
}

TEST_CASE("a call that outlives its deadline is deadline_exceeded", "[integration][tls]") {
  SiteB site_b;
  auto options = site_b.client_options("site-a/agent");
  options.request_timeout = 200ms;
  const auto response = SiteB::client(options)->get("/v1/slow");
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::deadline_exceeded);
  CHECK(site_b.gate.wait_entered());
}

TEST_CASE("a request's own timeout replaces the client's", "[integration][tls]") {
  SiteB site_b;
  auto options = site_b.client_options("site-a/agent");
  options.request_timeout = 30s;
  ClientRequest request;
  request.target = "/v1/slow";
  request.timeout = 200ms;
  const auto started = std::chrono::steady_clock::now();
  const auto response = SiteB::client(options)->call(request);
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::deadline_exceeded);
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  CHECK(site_b.gate.wait_entered());
}

TEST_CASE("nothing listening is unavailable", "[integration][tls]") {
  ClientOptions options;
  {
    SiteB gone;
    options = gone.client_options("site-a/agent");
  }
  const auto response = SiteB::client(options)->get("/v1/apps/app1");
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::unavailable);
}

TEST_CASE("the client refuses a server it does not trust or that is not the expected site",
          "[integration][tls]") {
  SiteB site_b;
  auto wrong_ca = site_b.client_options("site-a/agent");
  wrong_ca.tls.ca_file = TestPki::get().file("site-a/ca.crt");
  const auto untrusted = SiteB::client(wrong_ca)->get("/v1/apps/app1");
  REQUIRE_FALSE(untrusted);
  CHECK(untrusted.error().code == Errc::permission_denied);

  auto wrong_site = site_b.client_options("site-a/agent");
  wrong_site.expected_site = "site-c";
  const auto impostor = SiteB::client(wrong_site)->get("/v1/apps/app1");
  REQUIRE_FALSE(impostor);
  CHECK(impostor.error().code == Errc::permission_denied);
  CHECK_THAT(impostor.error().message, Catch::Contains("site-c"));
  CHECK(site_b.handler_calls == 0);
}

TEST_CASE("a kept-alive connection the server closed while idle is reopened transparently",
          "[integration][tls]") {
  SiteB site_b([](ServerOptions& o) { o.read_timeout = 200ms; });
  auto client = site_b.client("site-a/agent");
  REQUIRE(client->get("/v1/apps/app1"));
  REQUIRE(wait_until([&] { return site_b.server->stats().open_connections == 0; }));
  const auto again = client->get("/v1/apps/app1");
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(client->connections_opened() == 2);
}

TEST_CASE("stop() finishes the request in flight and does not wait for idle connections",
          "[integration][tls]") {
  SiteB site_b([](ServerOptions& o) { o.shutdown_grace = 10s; });
  auto idle = site_b.client("operator/ops");
  REQUIRE(idle->get("/v1/apps/app1"));  // now an idle kept-alive connection
  auto busy = site_b.client("site-a/agent");
  auto in_flight = std::async(std::launch::async, [&] { return busy->get("/v1/slow"); });
  REQUIRE(site_b.gate.wait_entered());

  const auto began = std::chrono::steady_clock::now();
  auto stopped = std::async(std::launch::async, [&] { site_b.server->stop(); });
  // The idle connection is closed at once; the busy one stays until its handler returns.
  REQUIRE(wait_until([&] { return site_b.server->stats().open_connections == 1; }));
  site_b.gate.open();
  const auto response = in_flight.get();
  stopped.get();
  CHECK(std::chrono::steady_clock::now() - began < 5s);
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->headers.get("Connection") == std::optional<std::string_view>("close"));
  CHECK(idle->get("/v1/apps/app1").error().code == Errc::unavailable);
}

}  // namespace
}  // namespace dr::transport

namespace dr::transport {
namespace {

TEST_CASE("start refuses unreadable TLS files and a port in use, without throwing",
          "[integration][tls]") {
  const auto& pki = TestPki::get();
  ServerOptions options;
  options.tls = {
      pki.file("site-b/agent.crt"), pki.file("site-b/agent.key"), pki.file("site-a/ca.crt"), {}};
  auto router = std::make_shared<Router>();

  auto missing_ca = options;
  missing_ca.tls.peer_ca_file = pki.file("no-such-ca.crt");
  const auto no_ca = HttpServer::start(missing_ca, router);
  REQUIRE_FALSE(no_ca);
  CHECK(no_ca.error().code == Errc::invalid_argument);

  auto wrong_key = options;
  wrong_key.tls.key_file = pki.file("site-a/agent.key");  // not site-b's certificate's key
  const auto mismatched = HttpServer::start(wrong_key, router);
  REQUIRE_FALSE(mismatched);
  CHECK(mismatched.error().code == Errc::invalid_argument);

  auto first = HttpServer::start(options, router);
  REQUIRE(first);
  auto same_port = options;
  same_port.port = (*first)->port();
  const auto taken = HttpServer::start(same_port, router);
  REQUIRE_FALSE(taken);
  CHECK(taken.error().code == Errc::unavailable);
}

}  // namespace
}  // namespace dr::transport

namespace dr::transport {
namespace {

// RFC 9112 §6.3: a request whose framing the server does not implement is answered 400 and the
// connection closed, so what follows the headers is never read as a second request.
TEST_CASE("a Transfer-Encoding other than chunked alone is 400 and closes the connection",
          "[integration][tls][http]") {
  SiteB site;
  const std::string smuggled = "GET /v1/apps/smuggled HTTP/1.1\r\nHost: b\r\n\r\n";
  for (const std::string framing :
       {"Transfer-Encoding: gzip\r\n", "Transfer-Encoding: chunked, gzip\r\n",
        "Transfer-Encoding: xchunked\r\n", "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"}) {
    INFO(framing);
    const std::string request = "POST /v1/peer/descriptions HTTP/1.1\r\nHost: b\r\n"
                                "Content-Type: application/json\r\n" +
                                framing + "\r\n" + smuggled;
    const auto answer = raw_exchange(site, "site-a/agent", request);
    CHECK(answer.starts_with("HTTP/1.1 400 "));
    CHECK(responses_in(answer) == 1);  // the smuggled request was never read
    CHECK(answer.find("Connection: close") != std::string::npos);
    CHECK(answer.find("\"invalid_argument\"") != std::string::npos);
  }
  CHECK(site.handler_calls == 0);
  // chunked alone is framing the server reads.
  const auto chunked = raw_exchange(site, "site-a/agent",
                                    "POST /v1/peer/descriptions HTTP/1.1\r\nHost: b\r\n"
                                    "Content-Type: application/json\r\nConnection: close\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
  CHECK(chunked.starts_with("HTTP/1.1 201 "));
  CHECK(site.handler_calls == 1);
}

TEST_CASE("an answer to HEAD carries no body, and the next answer on the connection is intact",
          "[integration][tls][http]") {
  SiteB site;
  const auto answer = raw_exchange(site, "site-a/agent",
                                   "HEAD /v1/apps/app1 HTTP/1.1\r\nHost: b\r\n\r\n"
                                   "GET /v1/apps/app2 HTTP/1.1\r\nHost: b\r\n"
                                   "Connection: close\r\n\r\n");
  REQUIRE(responses_in(answer) == 2);
  const auto end_of_first = answer.find("\r\n\r\n");
  REQUIRE(end_of_first != std::string::npos);
  // Right after the first answer's header block comes the second answer's status line.
  CHECK(answer.substr(end_of_first + 4).starts_with("HTTP/1.1 200 "));
  CHECK(answer.find("\"app\":\"app2\"") != std::string::npos);
}

TEST_CASE("the server issues no session ticket (each would cost CPU on every new connection)",
          "[integration][tls]") {
  SiteB site;
  bool resumable = true;
  const auto answer =
      raw_exchange(site, "site-a/agent", "GET /v1/apps/app1 HTTP/1.1\r\nHost: b\r\n\r\n",
                   [&](SSL* ssl) {
                     CHECK(SSL_version(ssl) == TLS1_3_VERSION);
                     SSL_SESSION* session = SSL_get1_session(ssl);
                     REQUIRE(session != nullptr);
                     resumable = SSL_SESSION_is_resumable(session) == 1;
                     SSL_SESSION_free(session);
                   });
  CHECK(answer.starts_with("HTTP/1.1 200 "));
  CHECK_FALSE(resumable);
}

}  // namespace
}  // namespace dr::transport

namespace dr::transport {
namespace {

TEST_CASE("a quick-lane route answers while every handler thread is held",
          "[integration][tls]") {
  SiteB site([](ServerOptions& o) { o.handler_threads = 2; });
  auto first = site.client("site-a/agent");
  auto second = site.client("operator/ops");
  auto held_1 = std::async(std::launch::async, [&] { return first->get("/v1/slow"); });
  auto held_2 = std::async(std::launch::async, [&] { return second->get("/v1/slow"); });
  REQUIRE(site.gate.wait_entered(2));  // both handler threads are busy now
  auto options = site.client_options("site-a/agent");
  options.request_timeout = 3s;
  const auto health = SiteB::client(options)->get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  site.gate.open();
  CHECK(held_1.get());
  CHECK(held_2.get());
}

TEST_CASE("connections past the cap get a 429 and are closed; under it, service resumes",
          "[integration][tls]") {
  SiteB site([](ServerOptions& o) { o.max_connections = 2; });
  auto first = site.client("site-a/agent");
  auto second = site.client("operator/ops");
  REQUIRE(first->get("/v1/apps/a"));  // two kept-alive connections: the cap
  REQUIRE(second->get("/v1/apps/b"));
  const auto refused = site.client("site-a/agent")->get("/v1/apps/c");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::unavailable);
  CHECK_THAT(refused.error().message, Catch::Contains("2 connections at once"));
  CHECK(site.server->stats().refused == 1);
  // The kept-alive ones still work; once one closes, a new connection is served.
  CHECK(first->get("/v1/apps/a"));
  second.reset();
  REQUIRE(wait_until([&] { return site.server->stats().open_connections <= 1; }));
  const auto served = site.client("site-a/agent")->get("/v1/apps/d");
  REQUIRE(served);
  CHECK(served->status == 200);
}

TEST_CASE("a connection past the cap is answered from its header, its body left unread",
          "[integration][tls]") {
  SiteB site([](ServerOptions& o) { o.max_connections = 1; });
  auto held = site.client("site-a/agent");
  REQUIRE(held->get("/v1/apps/a"));  // the one connection of the cap
  // 10 bytes of the 50000 announced, then the client stops sending: the answer must not wait
  // for the rest (it used to read the body first, and a body that never came got no answer).
  const auto answer = raw_exchange(site, "site-a/agent",
                                   "POST /v1/peer/descriptions HTTP/1.1\r\nHost: b\r\n"
                                   "Content-Type: application/json\r\nContent-Length: 50000\r\n"
                                   "\r\n{\"a\": 1234");
  INFO(answer);
  CHECK(answer.starts_with("HTTP/1.1 429 "));
  CHECK(answer.find("Retry-After: 1") != std::string::npos);
  CHECK(responses_in(answer) == 1);
  CHECK(site.handler_calls == 1);  // the held connection's request only
  CHECK(site.server->stats().refused == 1);
}

}  // namespace
}  // namespace dr::transport
