#pragma once
// The OpenSSL side of tls_config.hpp: TLS contexts for the server and the client, and what a
// verified peer certificate says. Included only by the transport's own .cpp files (it brings in
// Asio's SSL and OpenSSL headers, which nothing outside common/transport should see).
//
// Setup throws (std::runtime_error / boost::system::system_error) on an unreadable or invalid
// file: contexts are built once at startup, and HttpServer::start / BeastPeerClient::create turn
// the exception into invalid_argument.
//
// Thread-safety: a built context is shared read-only by every connection.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "transport/tls_config.hpp"

namespace dr::transport {

struct X509Free {
  void operator()(X509* cert) const noexcept { X509_free(cert); }
};
using X509Handle = std::unique_ptr<X509, X509Free>;

// The server's context and the CA certificates it tells apart after the handshake.
struct ServerTlsContext {
  boost::asio::ssl::context ssl{boost::asio::ssl::context::tls_server};
  std::vector<X509Handle> peer_cas;
  std::vector<X509Handle> operator_cas;
};

// TLS 1.2+, this agent's certificate and key, client certificates required and verified against
// the peer CA and the operator CA (and nothing else).
std::unique_ptr<ServerTlsContext> make_server_context(const ServerTlsFiles& files);

// TLS 1.2+, the client certificate and key, the server verified against files.ca_file only.
// Host name verification is per connection (ssl::host_name_verification on the stream).
boost::asio::ssl::context make_client_context(const ClientTlsFiles& files);

// The subject CN and SAN DNS names of the connection's verified peer certificate, and which of
// the given CA lists its verified chain ends in. REQUIRES: the handshake succeeded with
// verification on (so the chain was verified).
CertificateFacts inspect_peer(SSL* ssl, const std::vector<X509Handle>& peer_cas,
                              const std::vector<X509Handle>& operator_cas);

}  // namespace dr::transport
