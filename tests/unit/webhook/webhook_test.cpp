#include "webhook/webhook.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <string>

namespace dr::webhook {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kT = 1764000000;
constexpr std::string_view kSecret = "whsec-test";
constexpr std::string_view kBody = R"({"app":"APP1","idempotencyKey":"k1"})";

std::chrono::system_clock::time_point at(std::int64_t unix_seconds) {
  return std::chrono::system_clock::time_point{std::chrono::seconds{unix_seconds}};
}

SignatureCheck verify(std::string_view header, std::string_view body = kBody,
                      std::string_view secret = kSecret, std::int64_t now = kT) {
  return verify_signature(header, body, secret, 300s, at(now));
}

// The v1 HMAC a sender with `secret` computes for kBody at time t.
std::string v1(std::string_view secret, std::int64_t t = kT) {
  return hmac_sha256_hex(secret, std::to_string(t) + "." + std::string(kBody));
}

std::string valid_hex() { return v1(kSecret); }

TEST_CASE("hmac_sha256_hex matches RFC 4231's test vectors", "[webhook]") {
  // Test case 1: key = 20 bytes of 0x0b.
  CHECK(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There") ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: a key shorter than the output.
  CHECK(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block size, hashed first.
  CHECK(hmac_sha256_hex(std::string(131, '\xaa'),
                        "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("hmac_sha256_hex accepts an empty key", "[webhook]") {
  CHECK(hmac_sha256_hex("", "") ==
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_CASE("sign writes t and v1 over '<t>.<body>'", "[webhook]") {
  // Computed independently with Python's hmac module.
  CHECK(sign(R"({"app":"APP1"})", kSecret, kT) ==
        "t=1764000000,v1=9f21403b03816a6b6d855f4714d5682fc6ba47820cc6f451558ad6e7f656fa2a");
}

TEST_CASE("a signed delivery verifies", "[webhook]") {
  const auto check = verify(sign(kBody, kSecret, kT));
  CHECK(check.ok);
  CHECK(check.reason.empty());
  CHECK(check.timestamp == kT);
}

TEST_CASE("the header tolerates spaces after commas, upper-case hex and unknown schemes",
          "[webhook]") {
  std::string upper = valid_hex();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(verify("t=" + std::to_string(kT) + ",  v1=" + valid_hex()).ok);
  CHECK(verify("v1=" + upper + ", t=" + std::to_string(kT)).ok);
  CHECK(verify("t=" + std::to_string(kT) + ",v0=whatever,v1=" + valid_hex()).ok);
}

TEST_CASE("a tampered body does not verify", "[webhook]") {
  const auto check = verify(sign(kBody, kSecret, kT), R"({"app":"APP2","idempotencyKey":"k1"})");
  CHECK_FALSE(check.ok);
  CHECK(check.reason == "signature does not match");
  CHECK(check.timestamp == kT);
}

TEST_CASE("a signature made with another secret does not verify", "[webhook]") {
  const auto check = verify(sign(kBody, "another-secret", kT));
  CHECK_FALSE(check.ok);
  CHECK(check.reason == "signature does not match");
}

TEST_CASE("a changed timestamp does not verify with the old signature", "[webhook]") {
  const auto check = verify("t=" + std::to_string(kT + 1) + ",v1=" + valid_hex());
  CHECK_FALSE(check.ok);
  CHECK(check.reason == "signature does not match");
  CHECK(check.timestamp == kT + 1);
}

TEST_CASE("any one of several v1 signatures is enough (secret rotation)", "[webhook]") {
  const std::string header =
      "t=" + std::to_string(kT) + ",v1=" + v1("old-secret") + ",v1=" + v1("new-secret");
  CHECK(verify(header, kBody, "old-secret").ok);
  CHECK(verify(header, kBody, "new-secret").ok);
  const auto check = verify(header, kBody, "third-secret");
  CHECK_FALSE(check.ok);
  CHECK(check.reason == "signature does not match");
}

TEST_CASE("a timestamp at the edge of max_age verifies", "[webhook]") {
  const std::string header = sign(kBody, kSecret, kT);
  CHECK(verify(header, kBody, kSecret, kT + 300).ok);
  CHECK(verify(header, kBody, kSecret, kT - 300).ok);
}

TEST_CASE("a stale timestamp is rejected with its age", "[webhook]") {
  const auto check = verify(sign(kBody, kSecret, kT), kBody, kSecret, kT + 612);
  CHECK_FALSE(check.ok);
  CHECK(check.reason == "timestamp 1764000000 is 612 s old (limit 300 s)");
  CHECK(check.timestamp == kT);
}

TEST_CASE("a future timestamp is rejected", "[webhook]") {
  const auto check = verify(sign(kBody, kSecret, kT), kBody, kSecret, kT - 301);
  CHECK_FALSE(check.ok);
  CHECK(check.reason == "timestamp 1764000000 is 301 s in the future (limit 300 s)");
}

TEST_CASE("an empty secret verifies nothing", "[webhook]") {
  const auto check = verify(sign(kBody, "", kT), kBody, "");
  CHECK_FALSE(check.ok);
  CHECK(check.reason == "no webhook secret configured");
}

TEST_CASE("malformed signature headers are rejected with the reason", "[webhook]") {
  const std::string t = "t=" + std::to_string(kT);
  const std::string good = "v1=" + valid_hex();
  const auto [header, reason] = GENERATE_COPY(table<std::string, std::string>({
      {"", "no t="},
      {good, "no t="},
      {t, "no v1="},
      {t + ",v0=abc", "no v1="},
      {"t=abc," + good, "t is not a unix time in seconds: 'abc'"},
      {"t=," + good, "t is not a unix time in seconds: ''"},
      {"t=-5," + good, "t is not a unix time in seconds: '-5'"},
      {"t=+5," + good, "t is not a unix time in seconds: '+5'"},
      {"t=12x," + good, "t is not a unix time in seconds: '12x'"},
      {"t=99999999999999999999," + good, "t is not a unix time in seconds: '99999999999999999999'"},
      {t + ",t=1," + good, "more than one t="},
      {t + ",v1=xyz", "v1 is not 64 hex digits: 'xyz'"},
      {t + ",v1=" + valid_hex().substr(2) + "zz",
       "v1 is not 64 hex digits: '" + valid_hex().substr(2) + "zz'"},
      {t + ",v1=" + valid_hex() + "00", "v1 is not 64 hex digits: '" + valid_hex() + "00'"},
      {t + ",v1=", "v1 is not 64 hex digits: ''"},
      {t + "," + good + ",", "element '' is not key=value"},
      {t + ",garbage," + good, "element 'garbage' is not key=value"},
      {t + "\t," + good, "t is not a unix time in seconds: '1764000000\t'"},
  }));
  CAPTURE(header);
  const auto check = verify(header);
  CHECK_FALSE(check.ok);
  CHECK(check.reason == "malformed signature header: " + reason);
  CHECK(check.timestamp == 0);
}

TEST_CASE("delivery_key names a delivery by its timestamp and body", "[webhook]") {
  CHECK(delivery_key(kT, kBody) == delivery_key(kT, kBody));
  CHECK(delivery_key(kT, kBody) != delivery_key(kT + 1, kBody));
  CHECK(delivery_key(kT, kBody) != delivery_key(kT, "{}"));
  // SHA-256("") is the well-known e3b0c442...
  CHECK(delivery_key(1, "") ==
        "t=1,body=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("failover types spell as in the API", "[webhook]") {
  CHECK(std::string(to_string(FailoverType::planned)) == "planned");
  CHECK(std::string(to_string(FailoverType::disaster)) == "disaster");
  CHECK(parse_failover_type("planned") == FailoverType::planned);
  CHECK(parse_failover_type("disaster") == FailoverType::disaster);
  CHECK_FALSE(parse_failover_type("Planned"));
  CHECK_FALSE(parse_failover_type(""));
}

TEST_CASE("parse_failover_request reads every field", "[webhook]") {
  const auto r = parse_failover_request(
      R"({"app": "APP1", "type": "planned", "idempotencyKey": "job-7", "reason": "maintenance",
          "force": true, "somethingNew": 1})");
  REQUIRE(r);
  CHECK(r->app == "APP1");
  CHECK(r->type == FailoverType::planned);
  CHECK(r->idempotency_key == "job-7");
  CHECK(r->reason == "maintenance");
  CHECK(r->force);
}

TEST_CASE("parse_failover_request defaults reason and force, never the type", "[webhook]") {
  const auto r =
      parse_failover_request(R"({"app": "APP1", "type": "disaster", "idempotencyKey": "job-7"})");
  REQUIRE(r);
  CHECK(r->type == FailoverType::disaster);
  CHECK(r->reason.empty());
  CHECK_FALSE(r->force);
  // A trigger says what it means: without a type it is refused, not taken for a disaster.
  const auto untyped = parse_failover_request(R"({"app": "APP1", "idempotencyKey": "job-7"})");
  REQUIRE_FALSE(untyped);
  CHECK(untyped.error() == model::Problems{{"", "missing required field 'type'"}});
}

TEST_CASE("parse_failover_request accepts an empty reason", "[webhook]") {
  const auto r =
      parse_failover_request(R"({"app": "APP1", "type": "planned", "idempotencyKey": "job-7", "reason": ""})");
  REQUIRE(r);
  CHECK(r->reason.empty());
}

TEST_CASE("parse_failover_request reports a body that is not JSON at the document", "[webhook]") {
  const auto r = parse_failover_request(R"({"app": )");
  REQUIRE_FALSE(r);
  REQUIRE(r.error().size() == 1);
  CHECK(r.error()[0].pointer.empty());
  CHECK_THAT(r.error()[0].message, Catch::StartsWith("malformed JSON: parse error at line 1"));
}

TEST_CASE("parse_failover_request reports a body that is not an object", "[webhook]") {
  const auto r = parse_failover_request(R"(["APP1"])");
  REQUIRE_FALSE(r);
  CHECK(r.error() == model::Problems{{"", "expected an object, found an array"}});
}

TEST_CASE("parse_failover_request reports missing required fields", "[webhook]") {
  const auto r = parse_failover_request(R"({"reason": "x"})");
  REQUIRE_FALSE(r);
  CHECK(r.error() == model::Problems{{"", "missing required field 'app'"},
                                     {"", "missing required field 'type'"},
                                     {"", "missing required field 'idempotencyKey'"}});
}

TEST_CASE("parse_failover_request reports every wrong field with its pointer", "[webhook]") {
  const auto r = parse_failover_request(
      R"({"app": "", "type": "drill", "idempotencyKey": 7, "reason": false, "force": "yes"})");
  REQUIRE_FALSE(r);
  CHECK(r.error() == model::Problems{
                         {"/app", "must not be empty"},
                         {"/type", "must be 'planned' or 'disaster', found 'drill'"},
                         {"/idempotencyKey", "expected a string, found an integer"},
                         {"/reason", "expected a string, found a boolean"},
                         {"/force", "expected a boolean, found a string"},
                     });
}

TEST_CASE("parse_failover_request reports a type that is not a string", "[webhook]") {
  const auto r =
      parse_failover_request(R"({"app": {}, "type": null, "idempotencyKey": "k", "force": []})");
  REQUIRE_FALSE(r);
  CHECK(r.error() == model::Problems{
                         {"/app", "expected a string, found an object"},
                         {"/type", "expected a string, found null"},
                         {"/force", "expected a boolean, found an array"},
                     });
}

}  // namespace
}  // namespace dr::webhook
