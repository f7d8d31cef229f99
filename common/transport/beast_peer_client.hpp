#pragma once
// PeerClient over Boost.Beast: HTTPS with mutual TLS to one server, keeping its connection alive
// between calls.
//
// It presents `tls.cert_file`, verifies the server's chain against `tls.ca_file` only (never the
// system store), checks the server's certificate names `host` (SAN DNS or IP, as Beast's client
// does with ssl::host_name_verification), and, when `expected_site` is set, that the certificate's
// CN or a SAN DNS name is that site. Each phase has its deadline; a call never blocks longer than
// connect_timeout + request_timeout, or the request's own timeout in place of the latter (and once
// more if it retries, below).
//
// Keep-alive: the connection is reused. When a reused connection turns out to have been closed
// by the server before any byte of the response arrived (its idle timeout), the call reconnects
// and sends the request once more; the server cannot have processed it. Anything else is not
// retried: retrying is the workflow's decision (and its requests carry idempotency keys).
//
// Ownership: owns its io_context (run only inside call(), on the calling thread) and its
// connection. Thread-safety: call() is serialised by a mutex.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "transport/peer_client.hpp"
#include "transport/tls_config.hpp"

namespace dr::transport {

struct ClientOptions {
  std::string host = "127.0.0.1";  // name or address to connect to; also the name verified
  std::uint16_t port = 0;
  ClientTlsFiles tls;
  std::string expected_site;  // the peer site the server's certificate must name; "" = any
  std::optional<std::string> bearer_token;           // sent as "Authorization: Bearer ..." when set
  std::chrono::milliseconds connect_timeout{5'000};  // TCP connect + TLS handshake
  std::chrono::milliseconds request_timeout{30'000};  // write the request + read the response
  std::size_t body_limit = 64 * 1024 * 1024;          // bytes of response body; more is internal
};

class BeastPeerClient final : public PeerClient {
 public:
  // Loads the TLS files (invalid_argument when unreadable); does not connect yet.
  static Result<std::unique_ptr<BeastPeerClient>> create(ClientOptions options);
  ~BeastPeerClient() override;

  Result<Response> call(const ClientRequest& request) override;

  // How many TCP+TLS connections calls have opened so far (tests check keep-alive with it).
  std::uint64_t connections_opened() const noexcept;

 private:
  struct State;
  explicit BeastPeerClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace dr::transport
