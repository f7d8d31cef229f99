#include "transport/tls_config.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace dr::transport {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool names(const CertificateFacts& cert, std::string_view name) {
  if (name.empty()) return false;
  if (cert.common_name == name) return true;
  return std::find(cert.dns_names.begin(), cert.dns_names.end(), name) != cert.dns_names.end();
}

}  // namespace

Identity identity_from_certificate(const AuthPolicy& policy, const CertificateFacts& cert) {
  if (cert.from_peer_ca && names(cert, policy.peer_site)) {
    return {IdentityKind::peer_site, policy.peer_site, AuthMethod::client_certificate};
  }
  if (cert.from_operator_ca && !cert.common_name.empty() &&
      (policy.any_operator || std::find(policy.operator_names.begin(), policy.operator_names.end(),
                                        cert.common_name) != policy.operator_names.end())) {
    return {IdentityKind::site_operator, cert.common_name, AuthMethod::client_certificate};
  }
  if (cert.from_operator_ca && !cert.common_name.empty() &&
      std::find(policy.viewer_names.begin(), policy.viewer_names.end(), cert.common_name) !=
          policy.viewer_names.end()) {
    return {IdentityKind::viewer, cert.common_name, AuthMethod::client_certificate};
  }
  return {IdentityKind::anonymous, cert.common_name, AuthMethod::client_certificate};
}

std::optional<Identity> identity_for_request(const AuthPolicy& policy, const Identity& connection,
                                             std::optional<std::string_view> authorization) {
  if (!authorization) return connection;
  constexpr std::string_view kScheme = "bearer ";  // the scheme is case-insensitive (RFC 9110)
  if (authorization->size() <= kScheme.size() ||
      lower(authorization->substr(0, kScheme.size())) != kScheme) {
    return std::nullopt;
  }
  auto token = authorization->substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  const std::string hash = sha256_hex(token);
  // Compare against every configured hash, without stopping at the first match, so the time
  // taken says nothing about which token (if any) matched.
  const BearerToken* match = nullptr;
  for (const auto& configured : policy.bearer_tokens) {
    if (constant_time_equal(hash, lower(configured.sha256_hex)) && match == nullptr) {
      match = &configured;
    }
  }
  if (match == nullptr) return std::nullopt;
  return Identity{match->kind, match->name, AuthMethod::bearer_token};
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  // OpenSSL's comparison, which the optimiser cannot turn back into an early-exit memcmp.
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace dr::transport
