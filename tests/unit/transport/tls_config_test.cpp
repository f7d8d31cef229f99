#include "transport/tls_config.hpp"

#include <catch2/catch.hpp>

namespace dr::transport {
namespace {

AuthPolicy policy() {
  AuthPolicy p;
  p.peer_site = "site-a";
  p.operator_names = {"ops"};
  p.bearer_tokens = {{"grafana", sha256_hex("grafana-token")},
                     {"alertmanager", sha256_hex("am-token")}};
  return p;
}

CertificateFacts from_peer_ca(std::string cn, std::vector<std::string> dns = {}) {
  return {std::move(cn), std::move(dns), true, false};
}
CertificateFacts from_operator_ca(std::string cn) { return {std::move(cn), {}, false, true}; }

TEST_CASE("a certificate from the peer CA naming the peer site is the peer", "[unit][transport]") {
  CHECK(identity_from_certificate(policy(), from_peer_ca("site-a")) ==
        Identity{IdentityKind::peer_site, "site-a", AuthMethod::client_certificate});
  CHECK(
      identity_from_certificate(policy(), from_peer_ca("agent-7", {"localhost", "site-a"})).kind ==
      IdentityKind::peer_site);
}

TEST_CASE("the right CA with the wrong name is anonymous, named by its CN", "[unit][transport]") {
  CHECK(identity_from_certificate(policy(), from_peer_ca("site-c", {"localhost"})) ==
        Identity{IdentityKind::anonymous, "site-c", AuthMethod::client_certificate});
  CHECK(identity_from_certificate(policy(), from_operator_ca("mallory")).kind ==
        IdentityKind::anonymous);
}

TEST_CASE("a peer-site name from the operator CA is not the peer", "[unit][transport]") {
  // Which CA issued a certificate matters, not only what it says: an operator-CA certificate
  // with CN=site-a must not pass as the peer agent.
  CHECK(identity_from_certificate(policy(), from_operator_ca("site-a")).kind ==
        IdentityKind::anonymous);
}

TEST_CASE("operator certificates map by CN, or any CN when any_operator is set",
          "[unit][transport]") {
  CHECK(identity_from_certificate(policy(), from_operator_ca("ops")) ==
        Identity{IdentityKind::site_operator, "ops", AuthMethod::client_certificate});
  auto any = policy();
  any.any_operator = true;
  CHECK(identity_from_certificate(any, from_operator_ca("alice")).kind ==
        IdentityKind::site_operator);
  CHECK(identity_from_certificate(any, from_operator_ca("")).kind == IdentityKind::anonymous);
}

TEST_CASE("viewer certificates map by CN to viewers, who are not operators", "[unit][transport]") {
  auto p = policy();
  p.viewer_names = {"dashboard"};
  CHECK(identity_from_certificate(p, from_operator_ca("dashboard")) ==
        Identity{IdentityKind::viewer, "dashboard", AuthMethod::client_certificate});
  CHECK(identity_from_certificate(p, from_operator_ca("ops")).kind == IdentityKind::site_operator);
  // From the peer CA a viewer's name means nothing.
  CHECK(identity_from_certificate(p, from_peer_ca("dashboard")).kind == IdentityKind::anonymous);
}

TEST_CASE("a bearer token's kind is the request's: operator, viewer or the Alertmanager hook",
          "[unit][transport]") {
  auto p = policy();
  p.bearer_tokens = {{"grafana", sha256_hex("g"), IdentityKind::viewer},
                     {"alertmanager", sha256_hex("a"), IdentityKind::alertmanager_hook},
                     {"script", sha256_hex("s")}};
  const Identity ops{IdentityKind::site_operator, "ops", AuthMethod::client_certificate};
  CHECK(identity_for_request(p, ops, "Bearer g")->kind == IdentityKind::viewer);
  CHECK(identity_for_request(p, ops, "Bearer a")->kind == IdentityKind::alertmanager_hook);
  CHECK(identity_for_request(p, ops, "Bearer s")->kind == IdentityKind::site_operator);
}

TEST_CASE("an empty peer_site accepts no peer", "[unit][transport]") {
  auto none = policy();
  none.peer_site.clear();
  CHECK(identity_from_certificate(none, from_peer_ca("")).kind == IdentityKind::anonymous);
}

TEST_CASE("a request without Authorization keeps the connection's identity", "[unit][transport]") {
  const Identity peer{IdentityKind::peer_site, "site-a", AuthMethod::client_certificate};
  CHECK(identity_for_request(policy(), peer, std::nullopt) == peer);
}

TEST_CASE("a configured bearer token makes the request an operator request named by the token",
          "[unit][transport]") {
  const Identity dashboard{IdentityKind::anonymous, "dashboard", AuthMethod::client_certificate};
  CHECK(identity_for_request(policy(), dashboard, "Bearer am-token") ==
        Identity{IdentityKind::site_operator, "alertmanager", AuthMethod::bearer_token});
  CHECK(identity_for_request(policy(), dashboard, "bearer   grafana-token ")->name == "grafana");
}

TEST_CASE("hashes are configured in either hex case", "[unit][transport]") {
  auto upper = policy();
  for (auto& t : upper.bearer_tokens) {
    for (auto& c : t.sha256_hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  CHECK(identity_for_request(upper, {}, "Bearer am-token").has_value());
}

TEST_CASE("an unknown token or a malformed Authorization header is unauthenticated",
          "[unit][transport]") {
  const Identity ops{IdentityKind::site_operator, "ops", AuthMethod::client_certificate};
  CHECK_FALSE(identity_for_request(policy(), ops, "Bearer nope"));
  CHECK_FALSE(identity_for_request(policy(), ops, "Bearer "));
  CHECK_FALSE(identity_for_request(policy(), ops, "Basic b3BzOm9wcw=="));
  CHECK_FALSE(identity_for_request(policy(), ops, ""));
  // The hash itself is not a token.
  CHECK_FALSE(identity_for_request(policy(), ops, "Bearer " + sha256_hex("am-token")));
}

TEST_CASE("sha256_hex is the standard digest in lower-case hex", "[unit][transport]") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(constant_time_equal("abc", "abc"));
  CHECK_FALSE(constant_time_equal("abc", "abd"));
  CHECK_FALSE(constant_time_equal("abc", "abcd"));
  CHECK(constant_time_equal("", ""));
}

}  // namespace
}  // namespace dr::transport
