// HttpServer over Boost.Beast: one coroutine per connection on its own strand, handlers on a
// separate blocking pool. The contract is in http_server.hpp.

#include "transport/http_server.hpp"

#include <array>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "transport/beast_coro.hpp"
#include "transport/error_mapping.hpp"
#include "transport/http_request.hpp"
#include "transport/tls_context.hpp"

namespace dr::transport {
namespace {

using namespace beast_coro;  // NOLINT(google-build-using-namespace): net, beast, http, ...

using BeastResponse = http::response<http::string_body>;

BeastResponse to_beast(Response response, unsigned version, bool keep_alive) {
  BeastResponse res{static_cast<http::status>(response.status), version};
  res.set(http::field::server, "drpair");
  if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers.fields()) res.insert(name, value);
  res.body() = std::move(response.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

class BeastHttpServer final : public HttpServer {
 public:
  BeastHttpServer(ServerOptions options, std::shared_ptr<const Router> router,
                  std::unique_ptr<ServerTlsContext> tls)
      : options_(std::move(options)),
        router_(std::move(router)),
        tls_(std::move(tls)),
        ioc_(std::max(1, options_.io_threads)),
        handlers_(static_cast<std::size_t>(std::max(1, options_.handler_threads))),
        quick_(2),
        acceptor_(net::make_strand(ioc_)) {}

  ~BeastHttpServer() override { stop(); }

  Status listen() {
    beast::error_code ec;
    const auto address = net::ip::make_address(options_.address, ec);
    if (ec) {
      return fail(Errc::invalid_argument,
                  "listen address '" + options_.address + "': " + ec.message());
    }
    const tcp::endpoint endpoint{address, options_.port};
    const auto where = [&] {
      return "listen on " + options_.address + ":" + std::to_string(options_.port) + ": ";
    };
    if (acceptor_.open(endpoint.protocol(), ec); ec) {
      return fail(Errc::unavailable, where() + ec.message(), ec.value());
    }
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (acceptor_.bind(endpoint, ec); ec) {
      return fail(Errc::unavailable, where() + ec.message(), ec.value());
    }
    if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec) {
      return fail(Errc::unavailable, where() + ec.message(), ec.value());
    }
    port_ = acceptor_.local_endpoint().port();
    return {};
  }

  void run() {
    {
      std::lock_guard lock(mutex_);
      accepting_ = true;
    }
    net::co_spawn(acceptor_.get_executor(), accept_loop(),
                  [this](std::exception_ptr e) { log_exception("accept loop", e); });
    for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
  }

  std::uint16_t port() const noexcept override { return port_; }

  ServerStats stats() const noexcept override {
    std::lock_guard lock(mutex_);
    return {connections_.load(), handshakes_failed_.load(), requests_.load(), live_sessions_,
            refused_.load()};
  }

  void stop() noexcept override {
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
      for (const auto& weak : sessions_) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    // Phase 1: accept nothing more.
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    // Phase 2: every connection finishes; idle ones (waiting for a handshake or a request) are
    // cancelled now, busy ones close after writing their current response.
    for (auto& s : live) {
      net::post(s->stream.get_executor(), [s] {
        s->stop_requested = true;
        if (s->waiting_for_peer) beast::get_lowest_layer(s->stream).cancel();
      });
    }
    live.clear();
    {
      std::unique_lock lock(mutex_);
      idle_.wait_for(lock, options_.shutdown_grace,
                     [this] { return live_sessions_ == 0 && !accepting_; });
    }
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    // Handlers still running finish; they post their results to the stopped io_context, which
    // is why the pool is joined before the io_context is destroyed.
    handlers_.join();
    quick_.join();
  }

 private:
  struct Session {
    Session(tcp::socket socket, ssl::context& ctx, BeastHttpServer& owner)
        : stream(beast::tcp_stream(std::move(socket)), ctx), server(owner) {}
    ~Session() { server.session_ended(); }
    beast::ssl_stream<beast::tcp_stream> stream;
    BeastHttpServer& server;
    // Confined to the session's strand.
    bool stop_requested = false;
    bool waiting_for_peer = false;
    bool over_cap = false;  // accepted past max_connections: one 429 answer, then closed
  };

  void log(std::string_view line) const {
    if (options_.log) options_.log(line);
  }

  void log_exception(std::string_view where, std::exception_ptr e) const {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log(std::string(where) + " ended by an exception: " + ex.what());
    } catch (...) {
      log(std::string(where) + " ended by an unknown exception");
    }
  }

  void session_ended() {
    std::lock_guard lock(mutex_);
    --live_sessions_;
    idle_.notify_all();
  }

  net::awaitable<void> accept_loop() {
    struct Done {
      BeastHttpServer& server;
      ~Done() {
        std::lock_guard lock(server.mutex_);
        server.accepting_ = false;
        server.idle_.notify_all();
      }
    } done{*this};
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(net::make_strand(ioc_), kTuple);
      if (!acceptor_.is_open()) co_return;
      if (ec) {
        // EMFILE and friends: the listener is fine, this connection is not. Out of descriptors,
        // the next accept would fail at once too: wait for connections to end instead of
        // spinning (the pending connections wait in the kernel's backlog meanwhile).
        log("accept: " + ec.message());
        if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
            ec == net::error::no_memory) {
          net::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(100));
          co_await pause.async_wait(kTuple);
        }
        continue;
      }
      // Answers go out as soon as they are written: with Nagle's algorithm on, the last TLS
      // record of an answer waited for the client's delayed ACK (~40 ms per new connection).
      beast::error_code nodelay_ec;
      socket.set_option(tcp::no_delay(true), nodelay_ec);
      ++connections_;
      bool over_cap = false;
      {
        std::lock_guard lock(mutex_);
        // Past twice the cap, not even a refusal: the handshake alone costs too much.
        if (live_sessions_ >= 2 * options_.max_connections) {
          ++refused_;
          beast::error_code ignored;
          socket.close(ignored);
          continue;
        }
        over_cap = live_sessions_ >= options_.max_connections;
      }
      auto session = std::make_shared<Session>(std::move(socket), tls_->ssl, *this);
      session->over_cap = over_cap;
      {
        std::lock_guard lock(mutex_);
        ++live_sessions_;
        if (stopping_) continue;  // stop() began after this connection was accepted
        std::erase_if(sessions_, [](const auto& weak) { return weak.expired(); });
        sessions_.push_back(session);
      }
      auto executor = session->stream.get_executor();
      net::co_spawn(executor, serve(std::move(session)),
                    [this](std::exception_ptr e) { log_exception("connection", e); });
    }
  }

  net::awaitable<void> serve(std::shared_ptr<Session> session) {
    auto& stream = session->stream;
    auto& tcp_layer = beast::get_lowest_layer(stream);
    const auto peer = [&] {
      beast::error_code ignored;
      const auto ep = tcp_layer.socket().remote_endpoint(ignored);
      return ep.address().to_string() + ":" + std::to_string(ep.port());
    }();

    session->waiting_for_peer = true;
    tcp_layer.expires_after(options_.handshake_timeout);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
    session->waiting_for_peer = false;
    if (hec) {
      ++handshakes_failed_;
      log("TLS handshake from " + peer + " refused: " + hec.message());
      co_return;
    }
    const Identity connection_identity = identity_from_certificate(
        options_.auth, inspect_peer(stream.native_handle(), tls_->peer_cas, tls_->operator_cas));

    beast::flat_buffer buffer;
    bool close_politely = true;  // exchange TLS close_notify before closing
    bool linger = false;         // answered before reading the whole request: drain, then close
    while (!session->stop_requested) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options_.body_limit);
      parser.header_limit(static_cast<std::uint32_t>(options_.header_limit));
      session->waiting_for_peer = true;
      tcp_layer.expires_after(options_.read_timeout);
      auto [rec, read_bytes] = co_await http::async_read_header(stream, buffer, parser, kTuple);
      std::optional<std::string> bad_framing;
      if (!rec) {
        bad_framing = framing_problem(parser.get());
        // A connection past the cap is answered from its header: its body is not worth reading.
        if (!bad_framing && !session->over_cap) {
          auto [bec, body_bytes] = co_await http::async_read(stream, buffer, parser, kTuple);
          rec = bec;
        }
      }
      session->waiting_for_peer = false;
      if (rec == http::error::end_of_stream) break;
      Response response;
      bool keep_alive = false;
      bool head = false;
      unsigned version = 11;
      if (bad_framing) {
        // The body's end is unknown: answer, then close without reading what follows as a request.
        response = error_response("invalid_argument", *bad_framing);
        version = parser.get().version();
        linger = true;
      } else if (rec) {
        if (rec == http::error::body_limit) {
          response =
              error_response(kPayloadTooLarge, "request body exceeds " +
                                                   std::to_string(options_.body_limit) + " bytes");
        } else if (rec != http::error::partial_message &&
                   rec.category() == http::make_error_code(http::error::bad_target).category()) {
          response = error_response("invalid_argument", "malformed HTTP request: " + rec.message());
        } else {
          // Timeout, cancellation (stop), a reset or truncated connection: nobody to answer.
          close_politely = false;
          break;
        }
        if (parser.is_header_done()) version = parser.get().version();
        linger = true;
      } else {
        const bool whole = parser.is_done();  // an over-cap request's body is left unread
        BeastRequest req = parser.release();
        version = req.version();
        keep_alive = req.keep_alive();
        head = req.method() == http::verb::head;
        if (session->over_cap) {
          ++refused_;
          keep_alive = false;
          linger = !whole;  // its body is still coming: drain it, then close
          response = error_response(
              kTooManyRequests, "the agent serves " + std::to_string(options_.max_connections) +
                                    " connections at once; retry shortly");
          response.headers.set("Retry-After", "1");
        } else {
          response = co_await handle(req, connection_identity, peer);
        }
      }
      keep_alive = keep_alive && !session->stop_requested;
      auto res = to_beast(std::move(response), version, keep_alive);
      // An answer to HEAD has no body (RFC 9110 §9.3.2); its Content-Length still says how long
      // the body would have been.
      if (head) res.body().clear();
      tcp_layer.expires_after(options_.write_timeout);
      auto [wec, written] = co_await http::async_write(stream, res, kTuple);
      ++requests_;
      if (wec) {
        close_politely = false;
        break;
      }
      if (!keep_alive) break;
    }
    if (linger && !session->stop_requested) {
      // We answered without reading the body (413, a malformed request). Closing now, with the
      // client's bytes unread, would make the kernel reset the connection, and the client could
      // lose our answer before reading it. Read and discard what it still sends, bounded in
      // bytes and time, until it closes (our client closes on "Connection: close").
      close_politely = false;
      std::array<char, 16 * 1024> scratch;
      std::size_t drained = 0;
      tcp_layer.expires_after(
          std::min<std::chrono::milliseconds>(options_.read_timeout, std::chrono::seconds(5)));
      while (drained < 2 * options_.body_limit + (1 << 20)) {
        auto [dec, n] = co_await stream.async_read_some(net::buffer(scratch), kTuple);
        if (dec) break;
        drained += n;
      }
    }
    if (close_politely && !session->stop_requested) {
      // Bounded: a client that never answers our close_notify costs at most this.
      tcp_layer.expires_after(
          std::min<std::chrono::milliseconds>(options_.write_timeout, std::chrono::seconds(2)));
      co_await stream.async_shutdown(kTuple);
    }
    beast::error_code ignored;
    tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_layer.close();
  }

  // Authenticates the request and runs the router on the blocking pool.
  net::awaitable<Response> handle(BeastRequest& req, const Identity& connection_identity,
                                  const std::string& peer) {
    auto converted = to_request(std::move(req));
    if (!converted) {
      Response bad = error_response(converted.error());
      co_return bad;
    }
    Request request = std::move(*converted);
    auto caller = identity_for_request(options_.auth, connection_identity,
                                       request.headers.get("Authorization"));
    if (!caller) {
      log("unauthenticated request from " + peer + " (" + connection_identity.name +
          "): bearer token not accepted");
      auto response = error_response(kUnauthenticated, "bearer token not accepted");
      response.headers.set("WWW-Authenticate", "Bearer realm=\"drpair\"");
      if (!options_.audit) co_return response;
      // The audit sink may block (a store write): on the pool, as a handler would.
      auto note = [this, who = connection_identity, method = request.method,
                   path = request.path,
                   response = std::move(response)]() mutable -> net::awaitable<Response> {
        audit(who, method, path, response);
        co_return response;
      };
      Response noted =
          co_await net::co_spawn(handlers_.get_executor(), std::move(note), net::use_awaitable);
      co_return noted;
    }
    request.caller = std::move(*caller);
    auto route = router_->match(request.method, request.path);
    auto& lane = route.lane() == Lane::quick ? quick_ : handlers_;
    // The router runs in a coroutine on the handler pool. `work` and `response` are named
    // locals on purpose (GCC 12's double destruction of temporaries: beast_coro.hpp).
    auto work = [this, request = std::move(request),
                 route = std::move(route)]() mutable -> net::awaitable<Response> {
      const Identity who = request.caller;
      const Method method = request.method;
      const std::string path = request.path;
      Response out = dispatch_on(*router_, request, route);
      audit(who, method, path, out);
      co_return out;
    };
    Response response =
        co_await net::co_spawn(lane.get_executor(), std::move(work), net::use_awaitable);
    co_return response;
  }

  static Response dispatch_on(const Router& router, Request& request, Router::Match& route) {
    return router.dispatch(std::move(request), std::move(route));
  }

  // Tells the audit sink of a request that changed something (any method but GET and HEAD) or
  // was refused (401, 403).
  void audit(const Identity& who, Method method, const std::string& path,
             const Response& response) const {
    if (!options_.audit) return;
    const bool changes = method != Method::get && method != Method::head;
    const bool refused = response.status == 401 || response.status == 403;
    if (!changes && !refused) return;
    options_.audit(AnsweredRequest{who, method, path, response.status, response.body});
  }

  // Declaration order is destruction order reversed: the io_context is destroyed (and with it
  // any connection it still holds, whose Session destructor locks mutex_) before the state
  // below it; the acceptor and the pool go before the io_context.
  const ServerOptions options_;
  const std::shared_ptr<const Router> router_;
  const std::unique_ptr<ServerTlsContext> tls_;
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  bool stopping_ = false;                       // guarded by mutex_
  bool accepting_ = false;                      // guarded by mutex_; the accept loop is running
  std::size_t live_sessions_ = 0;               // guarded by mutex_
  std::list<std::weak_ptr<Session>> sessions_;  // guarded by mutex_
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> handshakes_failed_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> refused_{0};
  net::io_context ioc_;
  net::thread_pool handlers_;
  net::thread_pool quick_;  // Lane::quick routes (router.hpp): two, so a slow /metrics scrape
                            // (it reads every job from the store) never holds up /healthz
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(ServerOptions options,
                                                      std::shared_ptr<const Router> router) {
  if (!router) return fail(Errc::invalid_argument, "HttpServer::start: no router");
  std::unique_ptr<ServerTlsContext> tls;
  try {
    tls = make_server_context(options.tls);
  } catch (const std::exception& e) {
    return fail(Errc::invalid_argument, std::string("server TLS setup (cert '") +
                                            options.tls.cert_file + "'): " + e.what());
  }
  auto server =
      std::make_unique<BeastHttpServer>(std::move(options), std::move(router), std::move(tls));
  if (auto listening = server->listen(); !listening) return listening.error();
  server->run();
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace dr::transport
