// BeastPeerClient: a synchronous facade over Beast's asynchronous operations. Beast's synchronous
// calls cannot time out, so each call runs coroutines on a private io_context, on the caller's
// thread, with tcp_stream deadlines on every operation. The contract is in beast_peer_client.hpp.

#include "transport/beast_peer_client.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <mutex>
#include <optional>

#include "transport/beast_coro.hpp"
#include "transport/error_mapping.hpp"
#include "transport/tls_context.hpp"

namespace dr::transport {
namespace {

using namespace beast_coro;  // NOLINT(google-build-using-namespace): net, beast, http, ...

// Runs one coroutine to completion on `ioc`, on this thread. Callers pass a lambda coroutine
// invoked in the argument list: its captures live in the lambda temporary, which lasts until this
// function returns, i.e. until the coroutine has finished.
void run_to_completion(net::io_context& ioc, net::awaitable<void> work) {
  std::exception_ptr failure;
  ioc.restart();
  net::co_spawn(ioc, std::move(work), [&](std::exception_ptr e) { failure = e; });
  ioc.run();
  if (failure) std::rethrow_exception(failure);
}

bool is_ip_address(const std::string& host) {
  beast::error_code ec;
  (void)net::ip::make_address(host, ec);
  return !ec;
}

// The peer closed a reused connection before sending anything: its idle timeout raced us.
bool is_stale_connection(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == ssl::error::stream_truncated || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == net::error::connection_aborted;
}

}  // namespace

struct BeastPeerClient::State {
  State(ClientOptions o, ssl::context c) : options(std::move(o)), ctx(std::move(c)) {}

  ClientOptions options;
  net::io_context ioc{1};
  ssl::context ctx;
  std::mutex mutex;                                            // serialises call()
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;  // the kept-alive connection
  beast::flat_buffer buffer;
  std::atomic<std::uint64_t> opened{0};

  std::string origin() const {
    return "https://" + options.host + ":" + std::to_string(options.port);
  }

  Error error_of(const beast::error_code& ec, std::string_view what) {
    const std::string message = origin() + ": " + std::string(what) + ": " + ec.message();
    if (ec == beast::error::timeout) return fail(Errc::deadline_exceeded, message, ec.value());
    return fail(Errc::unavailable, message, ec.value());
  }

  Status connect() {
    stream.reset();
    buffer.clear();
    Status status;
    run_to_completion(ioc, [&]() -> net::awaitable<void> {
      tcp::resolver resolver(ioc);
      const std::string service = std::to_string(options.port);  // named: see beast_coro.hpp
      auto [rec, endpoints] = co_await resolver.async_resolve(options.host, service, kTuple);
      if (rec) {
        status = error_of(rec, "resolve");
        co_return;
      }
      auto& s = stream.emplace(ioc, ctx);
      if (!is_ip_address(options.host)) {
        SSL_set_tlsext_host_name(s.native_handle(), options.host.c_str());  // SNI
      }
      s.set_verify_callback(ssl::host_name_verification(options.host));
      auto& tcp_layer = beast::get_lowest_layer(s);
      tcp_layer.expires_after(options.connect_timeout);  // covers connect and handshake
      auto [cec, endpoint] = co_await tcp_layer.async_connect(endpoints, kTuple);
      if (cec) {
        status = error_of(cec, "connect");
        co_return;
      }
      beast::error_code nodelay_ec;  // a request goes out whole at once (http_server.cpp)
      tcp_layer.socket().set_option(net::ip::tcp::no_delay(true), nodelay_ec);
      auto [hec] = co_await s.async_handshake(ssl::stream_base::client, kTuple);
      if (hec) {
        const long verify = SSL_get_verify_result(s.native_handle());
        if (verify != X509_V_OK) {
          status = fail(Errc::permission_denied, origin() + ": server certificate refused: " +
                                                     X509_verify_cert_error_string(verify));
        } else {
          status = error_of(hec, "TLS handshake");
        }
        co_return;
      }
      tcp_layer.expires_never();
    }());
    if (!status) {
      stream.reset();
      return status;
    }
    ++opened;
    if (!options.expected_site.empty()) {
      const auto facts = inspect_peer(stream->native_handle(), {}, {});
      const bool names_site = facts.common_name == options.expected_site ||
                              std::find(facts.dns_names.begin(), facts.dns_names.end(),
                                        options.expected_site) != facts.dns_names.end();
      if (!names_site) {
        stream.reset();
        return fail(Errc::permission_denied, origin() + ": server certificate is '" +
                                                 facts.common_name + "', not site '" +
                                                 options.expected_site + "'");
      }
    }
    return {};
  }

  // One request/response on the current connection. `stale` is set when the connection turned
  // out to be closed before the response began.
  Result<Response> exchange(const ClientRequest& request, const std::string& context, bool& stale) {
    http::request<http::string_body> req{http::string_to_verb(to_string(request.method)),
                                         request.target, 11};
    req.set(http::field::host, options.host + ":" + std::to_string(options.port));
    req.set(http::field::user_agent, "drpair");
    if (options.bearer_token)
      req.set(http::field::authorization, "Bearer " + *options.bearer_token);
    for (const auto& [name, value] : request.headers.fields()) req.set(name, value);
    if (!request.body.empty()) {
      req.set(http::field::content_type, request.content_type);
      req.body() = request.body;
    }
    req.keep_alive(true);
    req.prepare_payload();

    std::optional<Result<Response>> out;
    run_to_completion(ioc, [&]() -> net::awaitable<void> {
      auto& tcp_layer = beast::get_lowest_layer(*stream);
      tcp_layer.expires_after(request.timeout.value_or(options.request_timeout));
      auto [wec, written] = co_await http::async_write(*stream, req, kTuple);
      if (wec) {
        stale = is_stale_connection(wec);
        out = error_of(wec, context + "send");
        co_return;
      }
      http::response_parser<http::string_body> parser;
      parser.body_limit(options.body_limit);
      auto [rec, read] = co_await http::async_read(*stream, buffer, parser, kTuple);
      if (rec) {
        stale = is_stale_connection(rec) && !parser.got_some();
        if (rec == http::error::body_limit) {
          out = fail(Errc::internal, origin() + ": " + context + "response body exceeds " +
                                         std::to_string(options.body_limit) + " bytes");
        } else {
          out = error_of(rec, context + "receive");
        }
        co_return;
      }
      tcp_layer.expires_never();
      auto res = parser.release();
      Response response;
      response.status = static_cast<int>(res.result_int());
      response.content_type = std::string(res[http::field::content_type]);
      for (const auto& field : res) {
        response.headers.add(std::string(field.name_string()), std::string(field.value()));
      }
      response.body = std::move(res.body());
      if (!res.keep_alive()) {
        // The server closes after this response; so do we (no close_notify wait: the response
        // is complete and the server's side is already closing).
        beast::error_code ignored;
        tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream.reset();
        buffer.clear();
      }
      out = std::move(response);
    }());
    return std::move(*out);
  }
};

BeastPeerClient::BeastPeerClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
BeastPeerClient::~BeastPeerClient() = default;

Result<std::unique_ptr<BeastPeerClient>> BeastPeerClient::create(ClientOptions options) {
  try {
    auto ctx = make_client_context(options.tls);
    auto state = std::make_unique<State>(std::move(options), std::move(ctx));
    return std::unique_ptr<BeastPeerClient>(new BeastPeerClient(std::move(state)));
  } catch (const std::exception& e) {
    return fail(Errc::invalid_argument, std::string("client TLS setup (cert '") +
                                            options.tls.cert_file + "'): " + e.what());
  }
}

std::uint64_t BeastPeerClient::connections_opened() const noexcept { return state_->opened; }

Result<Response> BeastPeerClient::call(const ClientRequest& request) {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  const std::string context = std::string(to_string(request.method)) + " " + request.target + ": ";
  if (request.method == Method::other) {
    return fail(Errc::invalid_argument, context + "not a method this client sends");
  }
  for (int attempt = 0;; ++attempt) {
    const bool reused = s.stream.has_value();
    if (!reused) {
      if (auto connected = s.connect(); !connected) {
        auto error = connected.error();
        error.message = context + error.message;
        return error;
      }
    }
    bool stale = false;
    auto result = s.exchange(request, context, stale);
    if (!result) {
      s.stream.reset();
      s.buffer.clear();
      if (stale && reused && attempt == 0) continue;
      return result;
    }
    if (result->status < 200 || result->status > 299) {
      return error_from_response(*result, s.origin() + " " + context);
    }
    return result;
  }
}

}  // namespace dr::transport
