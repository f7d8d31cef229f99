#pragma once
// Who may connect to an agent and who a caller is: the TLS files of the server and the client,
// and the authentication policy that turns a verified client certificate (and, for operators, a
// bearer token) into an Identity. Pure data and pure functions; the OpenSSL side is in
// tls_context.cpp.
//
// The rule (one for both agents and both APIs):
//
// 1. Mutual TLS always. Every connection must present a client certificate that chains to one of
//    the configured CAs: the peer-site CA (`peer_ca_file`, the other site's CA, pinned) or the
//    operator CA (`operator_ca_file`, optional). No certificate, a certificate from any other CA,
//    or an expired one fails the TLS handshake; no HTTP is spoken on such a connection. Only
//    TLS 1.2 and later; the system trust store is never used.
// 2. After the handshake the certificate is mapped to an Identity, once per connection:
//    - it chains to the peer CA and its subject CN, or one of its SAN DNS names, equals
//      `peer_site` -> {peer_site, <site name>, client_certificate};
//    - else it chains to the operator CA and its CN is in `operator_names` (or `any_operator`)
//      -> {site_operator, <CN>, client_certificate}; its CN is in `viewer_names` -> {viewer, ...};
//    - else -> {anonymous, <CN>}: the right CA but the wrong name (another site's agent, a
//      retired operator). Routes refuse it with 403 unless they allow anonymous callers.
// 3. Bearer tokens, for dashboards, scripts and hooks: a request carrying `Authorization: Bearer
//    <token>` whose SHA-256 matches a configured hash (compared in constant time) is a request of
//    that token's kind (operator, viewer, or the Alertmanager hook), {<kind>, <token name>,
//    bearer_token}, whatever its connection's certificate mapped to. A token that matches no hash, or a malformed Authorization header, is answered 401
//    unauthenticated - never silently ignored. The token never replaces rule 1: a dashboard still
//    connects with a certificate from a configured CA (typically a shared "dashboard" operator
//    certificate whose CN is not in `operator_names`, so that the token names who is calling).
//    Only hashes are configured, so a leaked config file does not leak a token.
// 4. Each route says which identity kinds may call it (router.hpp): the peer API accepts only
//    peer_site; the operator API's reads accept site_operator and viewer, its changes
//    site_operator only; the Alertmanager hook accepts its own token (and operators).
//
// Thread-safety: pure functions over values.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "transport/http_types.hpp"

namespace dr::transport {

// PEM files of the server side. `peer_ca_file` and `operator_ca_file` may hold several
// certificates each (a CA rollover); they may name the same file.
struct ServerTlsFiles {
  std::string cert_file;         // this agent's certificate chain
  std::string key_file;          // its private key
  std::string peer_ca_file;      // the peer site's CA: the only CA peer agents chain to
  std::string operator_ca_file;  // the operators' CA; empty when operators use tokens only
};

// PEM files of the client side (an agent calling its peer, or the CLI calling an agent).
struct ClientTlsFiles {
  std::string cert_file;  // the client certificate presented to the server; empty: none (only
                          // useful to test that servers refuse such a client)
  std::string key_file;
  std::string ca_file;  // the CA the server's certificate must chain to (pinned)
};

struct BearerToken {
  std::string name;        // who holds it, for logs and Identity::name: "grafana"
  std::string sha256_hex;  // lower- or upper-case hex of SHA-256(token); the token is not stored
  // What a request carrying it is: site_operator, viewer or alertmanager_hook.
  IdentityKind kind = IdentityKind::site_operator;
};

struct AuthPolicy {
  std::string peer_site;                    // the one site name accepted as peer; "" accepts none
  std::vector<std::string> operator_names;  // operator certificate CNs accepted
  std::vector<std::string> viewer_names;    // certificate CNs of the operator CA that only read
  bool any_operator = false;                // accept every certificate from the operator CA
  std::vector<BearerToken> bearer_tokens;
};

// What the TLS layer learned from a verified client certificate.
struct CertificateFacts {
  std::string common_name;             // subject CN; "" if none
  std::vector<std::string> dns_names;  // SAN DNS entries
  bool from_peer_ca = false;           // the verified chain ends at a certificate of peer_ca_file
  bool from_operator_ca = false;       // ... of operator_ca_file
};

// Rule 2.
Identity identity_from_certificate(const AuthPolicy& policy, const CertificateFacts& cert);

// Rule 3: the identity of one request on a connection whose certificate mapped to `connection`.
// nullopt means 401 unauthenticated (a bearer token that matches no hash, or an Authorization
// header that is not "Bearer <token>").
std::optional<Identity> identity_for_request(const AuthPolicy& policy, const Identity& connection,
                                             std::optional<std::string_view> authorization);

// Lower-case hex SHA-256 of `data`: what an operator writes into the config for a new token.
std::string sha256_hex(std::string_view data);

// Equality whose running time depends only on the lengths, not on where the inputs differ.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace dr::transport
