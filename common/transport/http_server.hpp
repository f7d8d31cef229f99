#pragma once
// An agent's HTTPS server: Boost.Beast over TLS with mutual authentication, serving one Router.
//
//   ServerOptions options;
//   options.port = 8443;                      // 0: any free port, read it back with port()
//   options.tls = {...}; options.auth = {...};
//   auto server = HttpServer::start(options, router);   // Result<std::unique_ptr<HttpServer>>
//   ...
//   (*server)->stop();                        // or let the destructor do it
//
// Per connection: one strand and one C++20 coroutine; a TLS handshake requiring a client
// certificate (tls_config.hpp has the rule); the certificate mapped to an Identity once; then
// HTTP/1.1 requests in turn with keep-alive, each read with a deadline and a body limit, handed
// to the Router on the blocking handler pool, and the response written with a deadline. A body
// over the limit is answered 413 and the connection closed; a malformed request 400 and closed;
// a connection idle beyond read_timeout is closed.
//
// Threads (owned by the server): `io_threads` run the network io_context (only Asio and Beast
// work happens there); `handler_threads` form the blocking pool that runs handlers, which may
// call libvirt, Ceph and SQLite. Handlers therefore never stall the network, and a stuck handler
// holds one pool thread, not the server.
//
// Shutdown, in two phases (Beast's pattern): stop() closes the listener so no connection is
// accepted; then tells every connection to finish - an idle one is cancelled at once, a busy one
// finishes its current request, answers it with "Connection: close" and closes; it waits up to
// `shutdown_grace` for the connections to end, then stops the io_context, joins its threads, and
// waits for handlers still running (handlers are expected to bound their own work). stop() is
// idempotent and blocking; the destructor calls it.
//
// Ownership: the server keeps the Router alive (shared_ptr). Thread-safety: port(), stats() and
// stop() may be called from any thread except the server's own (stop() from a handler would
// wait for itself).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "transport/router.hpp"
#include "transport/tls_config.hpp"

namespace dr::transport {

// One answered request, as the server tells its audit sink (ServerOptions::audit).
struct AnsweredRequest {
  Identity caller;
  Method method = Method::get;
  std::string path;
  int status = 0;
  std::string body;  // the answer's body
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;
  ServerTlsFiles tls;
  AuthPolicy auth;
  std::size_t body_limit = 8 * 1024 * 1024;  // bytes of request body; more is 413
  std::size_t header_limit = 16 * 1024;      // bytes of request line + header fields
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds read_timeout{30'000};   // per request, idle keep-alive time included
  std::chrono::milliseconds write_timeout{30'000};  // per response
  std::chrono::milliseconds shutdown_grace{5'000};
  int io_threads = 1;
  int handler_threads = 2;
  // Connections served at once. Past it, a connection gets one 429 too_many_requests
  // (Retry-After: 1) as soon as its request's header is read (the body is drained, never parsed)
  // and is closed; past twice it, a connection is closed at once, before the TLS handshake.
  std::size_t max_connections = 256;
  // The audit sink: told of every request that changed something (any method but GET and HEAD)
  // and of every refusal (401, 403), on the handler pool, before the answer is written. Must be
  // thread-safe; may block briefly (a store write). Empty: no audit.
  std::function<void(const AnsweredRequest&)> audit;
  // Receives one line per notable event (a refused handshake, an unauthenticated request, a
  // handler exception). Called from server threads; must be thread-safe. Empty: no logging.
  std::function<void(std::string_view)> log;
};

struct ServerStats {
  std::uint64_t connections = 0;        // accepted TCP connections
  std::uint64_t handshakes_failed = 0;  // TLS handshakes that failed (no cert, wrong CA, ...)
  std::uint64_t requests = 0;           // responses written
  std::size_t open_connections = 0;     // connections not yet closed
  std::uint64_t refused = 0;            // connections refused past max_connections
};

class HttpServer {
 public:
  // Loads the TLS files, binds and listens, starts the threads. Errors: invalid_argument for an
  // unreadable or mismatched certificate/key/CA file, unavailable when the address cannot be
  // bound. Never throws.
  static Result<std::unique_ptr<HttpServer>> start(ServerOptions options,
                                                   std::shared_ptr<const Router> router);

  virtual ~HttpServer() = default;
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the one the OS chose when options.port was 0).
  virtual std::uint16_t port() const noexcept = 0;
  virtual ServerStats stats() const noexcept = 0;
  virtual void stop() noexcept = 0;

 protected:
  HttpServer() = default;
};

}  // namespace dr::transport
