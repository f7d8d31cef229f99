#include "webhook/webhook.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "model/json_io.hpp"
#include "model/json_reader.hpp"

namespace dr::webhook {
namespace {

using json = nlohmann::json;
using model::pointer_append;
using model::Problems;

constexpr std::size_t kMacBytes = 32;  // SHA-256
using Mac = std::array<unsigned char, kMacBytes>;

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }


std::string to_hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xf];
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Exactly 64 hex digits (either case) → the 32 bytes they spell.
std::optional<Mac> mac_from_hex(std::string_view hex) {
  if (hex.size() != 2 * kMacBytes) return std::nullopt;
  Mac mac{};
  for (std::size_t i = 0; i < kMacBytes; ++i) {
    const int high = hex_value(hex[2 * i]);
    const int low = hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    mac[i] = static_cast<unsigned char>(high << 4 | low);
  }
  return mac;
}

Mac hmac_sha256(std::string_view key, std::string_view data) {
  // HMAC() wants a non-null key pointer even for an empty key.
  static constexpr unsigned char kNoKey = 0;
  const void* key_bytes = key.empty() ? &kNoKey : static_cast<const void*>(key.data());
  Mac mac{};
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(),
           &size) == nullptr ||
      size != kMacBytes) {
    // Only an OpenSSL without SHA-256 (a broken install or a FIPS provider refusing it) gets here.
    throw std::runtime_error("OpenSSL cannot compute HMAC-SHA256");
  }
  return mac;
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL cannot compute SHA-256");
  }
  return to_hex(digest.data(), size);
}

std::string signed_payload(std::int64_t unix_seconds, std::string_view raw_body) {
  std::string payload = std::to_string(unix_seconds);
  payload += '.';
  payload += raw_body;
  return payload;
}

struct ParsedHeader {
  std::int64_t timestamp = 0;
  std::vector<Mac> signatures;  // the v1= values
};

// "t=<unix seconds>,v1=<hex>[,v1=<hex>...]"; spaces after a comma are tolerated and elements with
// other keys (a future v2=) are ignored, as Stripe's scheme does. The error is the reason given
// back to the caller.
Result<ParsedHeader, std::string> parse_header(std::string_view header) {
  const std::string malformed = "malformed signature header: ";
  ParsedHeader parsed;
  bool have_timestamp = false;
  // An empty header has no elements; a trailing comma leaves an empty one.
  bool more = !header.empty();
  while (more) {
    const std::size_t comma = header.find(',');
    more = comma != std::string_view::npos;
    std::string_view element = header.substr(0, comma);
    header = more ? header.substr(comma + 1) : std::string_view{};
    while (!element.empty() && element.front() == ' ') element.remove_prefix(1);
    const std::size_t equals = element.find('=');
    if (equals == std::string_view::npos) {
      return malformed + "element " + in_quotes(element) + " is not key=value";
    }
    const std::string_view key = element.substr(0, equals);
    const std::string_view value = element.substr(equals + 1);
    if (key == "t") {
      if (have_timestamp) return malformed + "more than one t=";
      const char* end = value.data() + value.size();
      const auto [ptr, ec] = std::from_chars(value.data(), end, parsed.timestamp);
      if (value.empty() || value.front() == '-' || ec != std::errc{} || ptr != end) {
        return malformed + "t is not a unix time in seconds: " + in_quotes(value);
      }
      have_timestamp = true;
    } else if (key == "v1") {
      const auto mac = mac_from_hex(value);
      if (!mac) return malformed + "v1 is not 64 hex digits: " + in_quotes(value);
      parsed.signatures.push_back(*mac);
    }
  }
  if (!have_timestamp) return malformed + "no t=";
  if (parsed.signatures.empty()) return malformed + "no v1=";
  return parsed;
}

// Webhook payloads are read like every JSON body (model/json_reader.hpp); senders add fields over
// time, so unknown keys are accepted.
using Reader = model::JsonReader;

struct Alert {
  std::string status;
  std::string app;       // the app label's value; empty when the alert does not carry it
  std::string reason;    // "alertname=<name>", or the labels when there is no alertname
  std::string identity;  // the fingerprint, or a hash of the labels
  std::string starts_at;
};

// One alert of the payload, or nullopt with its problems added.
std::optional<Alert> read_alert(Reader& r, const json& item, const std::string& ptr,
                                const std::string& app_label) {
  if (!r.object(item, ptr, {})) return std::nullopt;
  const std::size_t before = r.problems.size();
  Alert alert;
  if (auto status = r.opt_string(item, ptr, "status", true)) {
    if (*status != "firing" && *status != "resolved") {
      r.add(pointer_append(ptr, "status"),
            "must be 'firing' or 'resolved', found " + in_quotes(*status));
    }
    alert.status = std::move(*status);
  }
  alert.starts_at = r.opt_string(item, ptr, "startsAt", true).value_or("");
  const auto fingerprint = r.opt_string(item, ptr, "fingerprint", false);
  const auto labels = item.find("labels");
  if (labels == item.end()) {
    r.add(ptr, "missing required field 'labels'");
  } else if (const std::string at = pointer_append(ptr, "labels"); r.object(*labels, at, {})) {
    bool all_strings = true;
    for (const auto& [key, value] : labels->items()) {
      if (!value.is_string()) {
        r.add(pointer_append(at, key), std::string("expected a string, found ") + model::json_type_name(value));
        all_strings = false;
      }
    }
    if (all_strings) {
      alert.app = labels->value(app_label, "");
      const std::string name = labels->value("alertname", "");
      // nlohmann's objects keep their keys sorted, so dump() is canonical for a label set.
      const std::string dump = labels->dump();
      alert.reason = name.empty() ? "alert labels " + dump : "alertname=" + name;
      alert.identity = fingerprint ? *fingerprint : sha256_hex(dump);
    }
  }
  if (r.problems.size() != before) return std::nullopt;
  return alert;
}

}  // namespace

SignatureCheck verify_signature(std::string_view header, std::string_view raw_body,
                                std::string_view secret, std::chrono::seconds max_age,
                                std::chrono::system_clock::time_point now) {
  SignatureCheck check;
  // An empty secret would let anyone sign; refuse rather than accept every delivery.
  if (secret.empty()) {
    check.reason = "no webhook secret configured";
    return check;
  }
  auto parsed = parse_header(header);
  if (!parsed) {
    check.reason = std::move(parsed.error());
    return check;
  }
  check.timestamp = parsed->timestamp;

  const Mac expected = hmac_sha256(secret, signed_payload(parsed->timestamp, raw_body));
  bool matched = false;
  for (const Mac& sent : parsed->signatures) {
    // Constant time, and no early exit: the time taken says nothing about which bytes match.
    matched = (CRYPTO_memcmp(sent.data(), expected.data(), kMacBytes) == 0) || matched;
  }
  if (!matched) {
    check.reason = "signature does not match";
    return check;
  }

  // Checked after the HMAC, so an out-of-window verdict is about an authentic delivery.
  const std::int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::int64_t limit = max_age.count();
  const std::string limit_text = " (limit " + std::to_string(limit) + " s)";
  if (now_s - check.timestamp > limit) {
    check.reason = "timestamp " + std::to_string(check.timestamp) + " is " +
                   std::to_string(now_s - check.timestamp) + " s old" + limit_text;
    return check;
  }
  if (check.timestamp - now_s > limit) {
    check.reason = "timestamp " + std::to_string(check.timestamp) + " is " +
                   std::to_string(check.timestamp - now_s) + " s in the future" + limit_text;
    return check;
  }
  check.ok = true;
  return check;
}

std::string sign(std::string_view raw_body, std::string_view secret, std::int64_t unix_seconds) {
  return "t=" + std::to_string(unix_seconds) +
         ",v1=" + hmac_sha256_hex(secret, signed_payload(unix_seconds, raw_body));
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  const Mac mac = hmac_sha256(key, data);
  return to_hex(mac.data(), mac.size());
}

std::string delivery_key(std::int64_t timestamp, std::string_view raw_body) {
  return "t=" + std::to_string(timestamp) + ",body=" + sha256_hex(raw_body);
}

const char* to_string(FailoverType type) noexcept {
  switch (type) {
    case FailoverType::planned:
      return "planned";
    case FailoverType::disaster:
      return "disaster";
  }
  return "disaster";
}

std::optional<FailoverType> parse_failover_type(std::string_view text) {
  if (text == "planned") return FailoverType::planned;
  if (text == "disaster") return FailoverType::disaster;
  return std::nullopt;
}

namespace {

// The fields a failover request has wherever it comes from (an operator's body, the signed hook).
FailoverRequest read_failover_fields(Reader& r, const json& doc, bool key_required) {
  FailoverRequest request;
  request.type = r.enumeration(doc, "", "type",
                               {{"planned", FailoverType::planned},
                                {"disaster", FailoverType::disaster}},
                               FailoverType::disaster, true);
  request.idempotency_key = r.opt_string(doc, "", "idempotencyKey", key_required).value_or("");
  request.reason = r.opt_string(doc, "", "reason", false, true).value_or("");
  request.force = r.opt_boolean(doc, "", "force").value_or(false);
  return request;
}

}  // namespace

Result<FailoverRequest, model::Problems> parse_failover_request(std::string_view body) {
  Reader r(Reader::UnknownKeys::accept);
  const auto doc = r.object_document(body);
  if (!doc) return std::move(r.problems);
  const auto app = r.opt_string(*doc, "", "app", true);
  FailoverRequest request = read_failover_fields(r, *doc, true);
  request.app = app.value_or("");
  if (!r.problems.empty()) return std::move(r.problems);
  return request;
}

Result<FailoverRequest, model::Problems> read_operator_failover(const json& body,
                                                                std::string app) {
  Reader r(Reader::UnknownKeys::reject);
  if (!r.object(body, "", {"type", "force", "reason", "idempotencyKey"})) {
    return std::move(r.problems);
  }
  FailoverRequest request = read_failover_fields(r, body, false);
  request.app = std::move(app);
  if (!r.problems.empty()) return std::move(r.problems);
  return request;
}

Result<std::vector<FailoverRequest>, model::Problems> alerts_to_failovers(
    std::string_view body, const AlertmanagerOptions& options) {
  Reader r(Reader::UnknownKeys::accept);
  const auto doc = r.object_document(body);
  if (!doc) return std::move(r.problems);
  if (const auto version = r.opt_string(*doc, "", "version", false); version && *version != "4") {
    r.add("/version",
          "unsupported Alertmanager webhook version " + in_quotes(*version) + " (expected '4')");
  }
  std::vector<Alert> alerts;
  const auto items = doc->find("alerts");
  if (items == doc->end()) {
    r.add("", "missing required field 'alerts'");
  } else if (!items->is_array()) {
    r.add("/alerts", std::string("expected an array, found ") + model::json_type_name(*items));
  } else {
    for (std::size_t i = 0; i < items->size(); ++i) {
      auto alert = read_alert(r, (*items)[i], pointer_append("/alerts", i), options.app_label);
      if (alert) alerts.push_back(std::move(*alert));
    }
  }
  if (!r.problems.empty()) return std::move(r.problems);

  std::vector<FailoverRequest> requests;
  for (const Alert& alert : alerts) {
    if (alert.status != "firing" || alert.app.empty()) continue;
    const bool seen = std::any_of(requests.begin(), requests.end(),
                                  [&](const FailoverRequest& q) { return q.app == alert.app; });
    if (seen) continue;
    FailoverRequest request;
    request.app = alert.app;
    request.type = options.type;
    request.idempotency_key = "alertmanager:" + alert.identity + ":" + alert.starts_at;
    request.reason = alert.reason;
    requests.push_back(std::move(request));
  }
  return requests;
}

}  // namespace dr::webhook
