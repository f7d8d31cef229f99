#include "config/agent_config.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <system_error>

#include "model/json_io.hpp"
#include "model/json_reader.hpp"

namespace dr::config {
namespace {

using json = nlohmann::json;
using model::pointer_append;
namespace fs = std::filesystem;

constexpr std::int64_t kDay = 24 * 60 * 60;
constexpr std::int64_t kMaxParallelism = 64;
constexpr std::size_t kMaxFileBytes = 16 * 1024 * 1024;  // no config or PEM file is this big

std::string os_error(int err) { return std::error_code(err, std::generic_category()).message(); }

// The whole file, or nullopt and the OS's reason in `error` (a folder reads as EISDIR).
std::optional<std::string> read_whole_file(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = os_error(errno);
    return std::nullopt;
  }
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = os_error(errno);
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxFileBytes) {
      error = "larger than " + std::to_string(kMaxFileBytes / (1024 * 1024)) + " MiB";
      ::close(fd);
      return std::nullopt;
    }
  }
  ::close(fd);
  return text;
}

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return ::inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& s) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

// RFC 1123 host name: dot-separated labels of letters, digits and '-', 1..63 characters each,
// not starting or ending with '-'; at most 253 characters; not all digits (that would be a
// malformed IPv4 address).
bool is_host_name(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  bool numeric = true;
  std::size_t label = 0;
  char prev = '.';
  for (const char c : s) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else {
      const bool alnum = std::isalnum(static_cast<unsigned char>(c)) != 0;
      if (!alnum && c != '-') return false;
      if (c == '-' && label == 0) return false;
      if (++label > 63) return false;
      numeric = numeric && std::isdigit(static_cast<unsigned char>(c)) != 0;
    }
    prev = c;
  }
  return label != 0 && prev != '-' && !numeric;
}

// A listen address: an IPv4 or IPv6 address (bare, "::") or a host name.
bool is_listen_address(const std::string& s) { return is_ipv4(s) || is_ipv6(s) || is_host_name(s); }

// "https://HOST:PORT": HOST a name, an IPv4 address or a bracketed IPv6 address (stored without
// the brackets). Returns why not, or "" when it parses.
std::string parse_peer_url(const std::string& url, std::string& host, std::uint16_t& port) {
  const std::string expected = "expected https://HOST:PORT, got '" + url + "'";
  static const std::string kScheme = "https://";
  if (url.rfind("http://", 0) == 0) {
    return "the peer API is mutual TLS: use https://, not http:// ('" + url + "')";
  }
  if (url.rfind(kScheme, 0) != 0) return expected;
  const std::string rest = url.substr(kScheme.size());
  if (rest.find_first_of("/?#") != std::string::npos) {
    return "no path, query or fragment allowed: " + expected;
  }
  if (rest.find('@') != std::string::npos) return "no user name allowed: " + expected;
  std::string port_text;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos) return "unterminated '[': " + expected;
    host = rest.substr(1, close - 1);
    if (!is_ipv6(host)) return "not an IPv6 address in brackets: '" + host + "'";
    if (close + 1 >= rest.size() || rest[close + 1] != ':') return "missing port: " + expected;
    port_text = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos) return "missing port: " + expected;
    host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return "an IPv6 address must be in brackets (https://[::1]:8444): '" + url + "'";
    }
    if (host.empty()) return "missing host: " + expected;
    if (!is_ipv4(host) && !is_host_name(host)) {
      return "not a host name or IP address: '" + host + "'";
    }
  }
  if (port_text.empty()) return "missing port: " + expected;
  if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) {
    return "not a port number: '" + port_text + "'";
  }
  const int n = std::stoi(port_text);
  if (n < 1 || n > 65535) return "port must be between 1 and 65535, got " + port_text;
  port = static_cast<std::uint16_t>(n);
  return "";
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class ConfigReader : public model::JsonReader {
 public:
  explicit ConfigReader(fs::path base_dir) : base_dir_(std::move(base_dir)) {}

  bool no_operator_ca = false;  // /tls is an object without "operatorCa"

  std::string resolve(const std::string& p) const {
    const fs::path path(p);
    return (path.is_absolute() ? path : base_dir_ / path).lexically_normal().string();
  }

  // A path (resolved against the config's folder).
  std::optional<std::string> path(const json& obj, const std::string& ptr, const char* key,
                                  bool required) {
    const auto p = opt_string(obj, ptr, key, required);
    if (!p) return std::nullopt;
    return resolve(*p);
  }

  // A path to a file that must be readable; its text in `contents` when asked for.
  std::optional<std::string> file(const json& obj, const std::string& ptr, const char* key,
                                  bool required, std::string* contents = nullptr) {
    auto p = path(obj, ptr, key, required);
    if (!p) return std::nullopt;
    std::string error;
    auto text = read_whole_file(*p, error);
    if (!text) {
      add(pointer_append(ptr, key), "cannot read '" + *p + "': " + error);
      return std::nullopt;
    }
    if (contents != nullptr) *contents = std::move(*text);
    return p;
  }

  std::chrono::seconds seconds(const json& obj, const std::string& ptr, const char* key,
                               std::int64_t min, std::int64_t max, std::chrono::seconds dflt) {
    const auto v = opt_integer(obj, ptr, key, min, max, false);
    return v ? std::chrono::seconds(*v) : dflt;
  }

  // A token's SHA-256 (required): 64 hex digits, returned in lower case.
  std::optional<std::string> sha256(const json& obj, const std::string& ptr, const char* key) {
    const auto hash = opt_string(obj, ptr, key, true);
    if (!hash) return std::nullopt;
    if (!is_sha256_hex(*hash)) {
      add(pointer_append(ptr, key),
          "expected the token's SHA-256 as 64 hex digits (`printf %s TOKEN | sha256sum`), got " +
              (hash->size() == 64 ? std::string("a non-hex character")
                                  : std::to_string(hash->size()) + " characters"));
      return std::nullopt;
    }
    return lower(*hash);
  }

  // The problems of a document the config names, under the key that names it.
  void nested(const std::string& ptr, const std::string& file_path, const model::Problems& found) {
    for (const auto& p : found) add(ptr + p.pointer, "in '" + file_path + "': " + p.message);
  }

  void listen(const json& doc, AgentConfig& out) {
    const json* v = member(doc, "", "listen", true);
    if (v == nullptr || !object(*v, "/listen", {"address", "port", "maxConnections"})) return;
    if (auto address = opt_string(*v, "/listen", "address", false)) {
      if (!is_listen_address(*address)) {
        add("/listen/address", "not an IP address or host name: '" + *address + "'");
      }
      out.listen_address = std::move(*address);
    }
    // 0: any free port (tests read the bound port back from the server).
    if (const auto port = opt_integer(*v, "/listen", "port", 0, 65535, true)) {
      out.listen_port = static_cast<std::uint16_t>(*port);
    }
    if (const auto cap = opt_integer(*v, "/listen", "maxConnections", 1, 65536, false)) {
      out.max_connections = static_cast<std::size_t>(*cap);
    }
  }

  void tls(const json& doc, AgentConfig& out) {
    const json* v = member(doc, "", "tls", true);
    if (v == nullptr || !object(*v, "/tls", {"cert", "key", "peerCa", "operatorCa"})) return;
    out.tls.cert_file = file(*v, "/tls", "cert", true).value_or("");
    out.tls.key_file = file(*v, "/tls", "key", true).value_or("");
    out.tls.peer_ca_file = file(*v, "/tls", "peerCa", true).value_or("");
    out.tls.operator_ca_file = file(*v, "/tls", "operatorCa", false).value_or("");
    no_operator_ca = !v->contains("operatorCa");
  }

  void operators(const json& doc, AgentConfig& out) {
    const auto it = doc.find("operators");
    if (it == doc.end()) return;
    const std::string ptr = "/operators";
    if (!object(*it, ptr, {"names", "viewers", "anyOperator", "bearerTokens"})) return;
    for (auto [key, into] : {std::pair{"names", &out.auth.operator_names},
                             std::pair{"viewers", &out.auth.viewer_names}}) {
      const json* names = array_member(*it, ptr, key);
      if (names == nullptr) continue;
      const std::string at = pointer_append(ptr, key);
      for (std::size_t i = 0; i < names->size(); ++i) {
        const json& n = (*names)[i];
        if (!n.is_string() || n.get_ref<const std::string&>().empty()) {
          add(pointer_append(at, i), "expected a non-empty string");
          continue;
        }
        into->push_back(n.get<std::string>());
      }
    }
    // One role per certificate name: a name in both lists would be a viewer that can change things.
    for (std::size_t i = 0; i < out.auth.viewer_names.size(); ++i) {
      const auto& name = out.auth.viewer_names[i];
      if (std::find(out.auth.operator_names.begin(), out.auth.operator_names.end(), name) !=
          out.auth.operator_names.end()) {
        add(pointer_append(pointer_append(ptr, "viewers"), i),
            "'" + name + "' is in /operators/names too: give each certificate name one role");
      }
    }
    out.auth.any_operator = opt_boolean(*it, ptr, "anyOperator").value_or(false);
    if (const json* tokens = array_member(*it, ptr, "bearerTokens")) {
      const std::string at = pointer_append(ptr, "bearerTokens");
      for (std::size_t i = 0; i < tokens->size(); ++i) {
        const std::string tp = pointer_append(at, i);
        const json& t = (*tokens)[i];
        if (!object(t, tp, {"name", "sha256", "role"})) continue;
        transport::BearerToken token;
        token.name = opt_string(t, tp, "name", true).value_or("");
        token.sha256_hex = sha256(t, tp, "sha256").value_or("");
        token.kind = enumeration(t, tp, "role",
                                 {{"operator", transport::IdentityKind::site_operator},
                                  {"viewer", transport::IdentityKind::viewer}},
                                 transport::IdentityKind::site_operator, false);
        for (const auto& other : out.auth.bearer_tokens) {
          if (!token.name.empty() && other.name == token.name) {
            add(pointer_append(tp, "name"), "token name '" + token.name + "' used twice");
          }
        }
        out.auth.bearer_tokens.push_back(std::move(token));
      }
    }
  }

  void peer(const json& doc, AgentConfig& out) {
    const json* v = member(doc, "", "peer", true);
    const std::string ptr = "/peer";
    if (v == nullptr || !object(*v, ptr, {"site", "url", "ca", "timeoutSeconds"})) return;
    out.peer.site = opt_string(*v, ptr, "site", true).value_or("");
    if (auto url = opt_string(*v, ptr, "url", true)) {
      const std::string why = parse_peer_url(*url, out.peer.host, out.peer.port);
      if (!why.empty()) {
        add("/peer/url", why);
        out.peer.host.clear();
        out.peer.port = 0;
      }
      out.peer.url = std::move(*url);
    }
    out.peer.ca_file = file(*v, ptr, "ca", true).value_or("");
    out.peer.timeout = seconds(*v, ptr, "timeoutSeconds", 1, 3600, out.peer.timeout);
    out.auth.peer_site = out.peer.site;
  }

  void libvirt(const json& doc, AgentConfig& out) {
    const json* v = member(doc, "", "libvirt", true);
    if (v == nullptr || !object(*v, "/libvirt", {"uri"})) return;
    if (auto uri = opt_string(*v, "/libvirt", "uri", true)) {
      static const std::regex uri_re("^[A-Za-z][A-Za-z0-9+.-]*://.*$");
      if (!std::regex_match(*uri, uri_re)) {
        add("/libvirt/uri", "not a libvirt URI (e.g. qemu:///system): '" + *uri + "'");
      }
      out.libvirt_uri = std::move(*uri);
    }
  }

  void ceph(const json& doc, AgentConfig& out) {
    const json* v = member(doc, "", "ceph", true);
    if (v == nullptr || !object(*v, "/ceph", {"conf", "clientId"})) return;
    // Not opened here: librados reads it (with the keyring it names) when the agent connects.
    out.ceph_conf = path(*v, "/ceph", "conf", true).value_or("");
    if (auto id = opt_string(*v, "/ceph", "clientId", false)) {
      if (id->rfind("client.", 0) == 0) {
        add("/ceph/clientId", "the cephx id without 'client.' (librados adds it)");
      }
      out.ceph_client_id = std::move(*id);
    }
  }

  void site_config(const json& doc, AgentConfig& out) {
    std::string text;
    const auto file_path = file(doc, "", "siteConfig", true, &text);
    if (!file_path) return;
    auto site = virt::parse_site_config(text);
    if (!site) {
      nested("/siteConfig", *file_path, site.error());
      return;
    }
    out.site = std::move(*site);
  }

  void mapping_policy(const json& doc, AgentConfig& out) {
    std::string text;
    const auto file_path = file(doc, "", "mappingPolicy", false, &text);
    if (!file_path) return;
    auto policy = model::parse_mapping_policy(text);
    if (!policy) {
      nested("/mappingPolicy", *file_path, policy.error());
      return;
    }
    out.mapping_policy = std::move(*policy);
  }

  void protection(const json& doc, AgentConfig& out) {
    const auto it = doc.find("protection");
    const std::string ptr = "/protection";
    if (it == doc.end() || !object(*it, ptr,
                                   {"captureIntervalSeconds", "snapshotIntervalSeconds",
                                    "replicationTimeoutSeconds", "parallelism"})) {
      return;
    }
    auto& p = out.protection;
    p.capture_interval = seconds(*it, ptr, "captureIntervalSeconds", 0, kDay, p.capture_interval);
    p.snapshot_interval =
        seconds(*it, ptr, "snapshotIntervalSeconds", 0, kDay, p.snapshot_interval);
    p.replication_timeout =
        seconds(*it, ptr, "replicationTimeoutSeconds", 1, 7 * kDay, p.replication_timeout);
    p.parallelism = static_cast<int>(
        opt_integer(*it, ptr, "parallelism", 1, kMaxParallelism).value_or(p.parallelism));
  }

  void audit(const json& doc, AgentConfig& out) {
    const auto it = doc.find("audit");
    if (it == doc.end() || !object(*it, "/audit", {"retentionDays"})) return;
    if (const auto days = opt_integer(*it, "/audit", "retentionDays", 1, 3650, false)) {
      out.audit_retention = std::chrono::days(*days);
    }
  }

  void failover(const json& doc, AgentConfig& out) {
    const auto it = doc.find("failover");
    const std::string ptr = "/failover";
    if (it == doc.end() ||
        !object(*it, ptr,
                {"fenceTimeoutSeconds", "demoteTimeoutSeconds", "promoteTimeoutSeconds",
                 "shutdownTimeoutSeconds", "parallelism"})) {
      return;
    }
    auto& f = out.failover;
    f.fence_timeout = seconds(*it, ptr, "fenceTimeoutSeconds", 1, 3600, f.fence_timeout);
    f.demote_timeout = seconds(*it, ptr, "demoteTimeoutSeconds", 1, kDay, f.demote_timeout);
    f.promote_timeout = seconds(*it, ptr, "promoteTimeoutSeconds", 1, kDay, f.promote_timeout);
    f.shutdown_timeout = seconds(*it, ptr, "shutdownTimeoutSeconds", 0, 3600, f.shutdown_timeout);
    f.parallelism = static_cast<int>(
        opt_integer(*it, ptr, "parallelism", 1, kMaxParallelism).value_or(f.parallelism));
  }

  void webhooks(const json& doc, const std::optional<AgentRole>& role, AgentConfig& out) {
    const auto it = doc.find("webhooks");
    if (it == doc.end()) return;
    const std::string ptr = "/webhooks";
    if (role == AgentRole::production) {
      add(ptr, "webhooks are served by the DR agent only (role 'dr'), not by role 'production'");
    }
    if (!object(*it, ptr, {"secret", "secretFile", "maxAgeSeconds", "allowForce", "alertmanager"})) {
      return;
    }
    WebhookConfig w;
    const bool inline_secret = it->contains("secret");
    const bool secret_file = it->contains("secretFile");
    if (inline_secret == secret_file) {
      add(ptr, inline_secret ? "give 'secret' or 'secretFile', not both"
                             : "missing required field 'secret' or 'secretFile'");
    }
    if (auto s = opt_string(*it, ptr, "secret", false)) w.secret = std::move(*s);
    std::string text;
    if (const auto secret_path = file(*it, ptr, "secretFile", false, &text)) {
      // `echo SECRET > file` ends it with a newline, which is not part of the key.
      if (!text.empty() && text.back() == '\n') text.pop_back();
      if (!text.empty() && text.back() == '\r') text.pop_back();
      if (text.empty()) {
        add("/webhooks/secretFile", "the secret file '" + *secret_path + "' is empty");
      }
      if (!inline_secret) w.secret = std::move(text);
    }
    w.max_age = seconds(*it, ptr, "maxAgeSeconds", 1, kDay, w.max_age);
    w.allow_force = opt_boolean(*it, ptr, "allowForce").value_or(false);
    if (const auto am = it->find("alertmanager"); am != it->end()) {
      const std::string ap = "/webhooks/alertmanager";
      if (object(*am, ap, {"tokenSha256", "appLabel", "type"})) {
        AlertmanagerConfig a;
        a.token_sha256 = sha256(*am, ap, "tokenSha256").value_or("");
        if (auto label = opt_string(*am, ap, "appLabel", false)) a.app_label = std::move(*label);
        if (auto type = opt_string(*am, ap, "type", false)) {
          if (*type != "disaster" && *type != "planned") {
            add(ap + "/type", "expected 'disaster' or 'planned'");
          }
          a.type = std::move(*type);
        }
        for (const auto& t : out.auth.bearer_tokens) {
          if (t.name == "alertmanager") {
            add(ap, "the bearer token name 'alertmanager' is taken by /operators/bearerTokens");
          }
        }
        out.auth.bearer_tokens.push_back(alertmanager_token(a));
        w.alertmanager = std::move(a);
      }
    }
    if (role == AgentRole::dr) out.webhooks = std::move(w);
  }

 private:
  fs::path base_dir_;
};

}  // namespace

transport::BearerToken alertmanager_token(const AlertmanagerConfig& am) {
  return {"alertmanager", am.token_sha256, transport::IdentityKind::alertmanager_hook};
}

const char* to_string(AgentRole role) noexcept {
  switch (role) {
    case AgentRole::production:
      return "production";
    case AgentRole::dr:
      return "dr";
  }
  return "production";
}

Result<AgentConfig, model::Problems> parse_agent_config(std::string_view text,
                                                        const std::string& base_dir) {
  auto parsed = model::parse_json(text);
  if (!parsed) return parsed.error();
  const json& doc = *parsed;
  std::error_code ec;
  fs::path base = fs::absolute(base_dir.empty() ? fs::path(".") : fs::path(base_dir), ec);
  if (ec) base = base_dir;
  ConfigReader r(base.lexically_normal());
  AgentConfig out;
  if (!r.object(doc, "",
                {"apiVersion", "kind", "role", "listen", "tls", "operators", "peer", "stateFile",
                 "libvirt", "siteConfig", "ceph", "mappingPolicy", "protection", "failover",
                 "webhooks", "audit"})) {
    return std::move(r.problems);
  }
  const auto api = r.opt_string(doc, "", "apiVersion", true);
  if (api && *api != model::kApiVersion) r.add("/apiVersion", "expected 'drpair/v1'");
  const auto kind = r.opt_string(doc, "", "kind", true);
  if (kind && *kind != "AgentConfig") r.add("/kind", "expected 'AgentConfig'");

  std::optional<AgentRole> role;
  if (const auto name = r.opt_string(doc, "", "role", true)) {
    if (*name == "production") {
      role = AgentRole::production;
    } else if (*name == "dr") {
      role = AgentRole::dr;
    } else {
      r.add("/role", "expected 'production' or 'dr'");
    }
  }
  out.role = role.value_or(AgentRole::production);

  r.listen(doc, out);
  r.tls(doc, out);
  r.operators(doc, out);
  r.peer(doc, out);
  if (auto state = r.opt_string(doc, "", "stateFile", true)) {
    out.state_file = *state == ":memory:" ? *state : r.resolve(*state);
  }
  r.libvirt(doc, out);
  r.site_config(doc, out);
  r.ceph(doc, out);
  r.mapping_policy(doc, out);
  r.protection(doc, out);
  r.failover(doc, out);
  r.webhooks(doc, role, out);
  r.audit(doc, out);

  // Checks across keys.
  if (r.no_operator_ca && (!out.auth.operator_names.empty() || !out.auth.viewer_names.empty() ||
                           out.auth.any_operator)) {
    r.add("/operators", "operator and viewer certificates need /tls/operatorCa (the operators' CA)");
  }
  if (!out.site.site.empty() && out.site.site == out.peer.site) {
    r.add("/peer/site",
          "the peer site has this site's own name '" + out.site.site + "' (from /siteConfig)");
  }
  if (out.mapping_policy && out.mapping_policy->site && role) {
    // The policy holds the DR site's rules: this site for a DR agent, the peer for production.
    const std::string& dr_site = *role == AgentRole::dr ? out.site.site : out.peer.site;
    if (!dr_site.empty() && *out.mapping_policy->site != dr_site) {
      r.add("/mappingPolicy", "the policy is for site '" + *out.mapping_policy->site +
                                  "', but the DR site of this " + to_string(*role) + " agent is '" +
                                  dr_site + "'");
    }
  }
  if (!r.ok()) return std::move(r.problems);
  return out;
}

Result<AgentConfig, model::Problems> load_agent_config(const std::string& path) {
  std::error_code ec;
  fs::path abs = fs::absolute(fs::path(path), ec);
  if (ec) abs = path;
  abs = abs.lexically_normal();
  std::string error;
  const auto text = read_whole_file(abs.string(), error);
  if (!text) return model::Problems{{"", "cannot read config '" + abs.string() + "': " + error}};
  auto config = parse_agent_config(*text, abs.parent_path().string());
  if (config) config->path = abs.string();
  return config;
}

}  // namespace dr::config
