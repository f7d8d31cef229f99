// The agents' config file: strict reading, every problem with its JSON Pointer, paths resolved
// against the config's folder, the files it names read; and the example configs in
// deploy/examples load once their paths point at real files.
#include "config/agent_config.hpp"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

using dr::config::AgentConfig;
using dr::config::AgentRole;
using dr::config::load_agent_config;
using dr::config::parse_agent_config;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kHashA = "fba3aa72d7325e0d595f97d367286e53792f7b23fc2218ab223515e2094d9412";
constexpr const char* kHashB = "C517D3A89816268111AE166518FC302DE2366343929229C4B0E4C904248E575B";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// A private folder, removed with everything in it at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "drpair-config-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

const char* kSiteB = R"({"apiVersion": "drpair/v1", "kind": "SiteConfig", "site": "site-b",
  "ceph": {"monitors": [{"host": "10.1.0.1"}], "user": "libvirt"}, "domainType": "test"})";

const char* kPolicy = R"({"apiVersion": "drpair/v1", "kind": "MappingPolicy", "site": "site-b",
  "defaultSwitch": "dr-vswitch0"})";

// A folder holding every file a complete DR config names (relative paths), and that config.
struct Fixture {
  TempDir dir;
  Fixture() {
    for (const char* pem : {"pki/site-b/agent.crt", "pki/site-b/agent.key", "pki/site-a/ca.crt",
                            "pki/operator/ca.crt"}) {
      write(dir.path / pem, "-----BEGIN CERTIFICATE-----\n(test)\n-----END CERTIFICATE-----\n");
    }
    write(dir.path / "site-b.json", kSiteB);
    write(dir.path / "policy.json", kPolicy);
    write(dir.path / "webhook.secret", "s3cret\n");
  }
  std::string base() const { return dir.path.string(); }
  std::string at(const std::string& relative) const { return (dir.path / relative).string(); }
};

json full_config() {
  json c = json::parse(R"({
    "apiVersion": "drpair/v1", "kind": "AgentConfig", "role": "dr",
    "listen": {"address": "0.0.0.0", "port": 8444, "maxConnections": 64},
    "tls": {"cert": "pki/site-b/agent.crt", "key": "pki/site-b/agent.key",
            "peerCa": "pki/site-a/ca.crt", "operatorCa": "pki/operator/ca.crt"},
    "operators": {"names": ["ops", "oncall"], "viewers": ["dashboard"], "anyOperator": true,
                  "bearerTokens": [{"name": "grafana", "sha256": "HASH-A", "role": "viewer"}]},
    "peer": {"site": "site-a", "url": "https://site-a.example.net:8443", "ca": "pki/site-a/ca.crt",
             "timeoutSeconds": 12},
    "stateFile": "state/dr.db",
    "libvirt": {"uri": "test:///default"},
    "siteConfig": "site-b.json",
    "ceph": {"conf": "ceph/ceph.conf", "clientId": "drpair"},
    "mappingPolicy": "policy.json",
    "protection": {"captureIntervalSeconds": 0, "snapshotIntervalSeconds": 120,
                   "replicationTimeoutSeconds": 900, "parallelism": 3},
    "failover": {"fenceTimeoutSeconds": 5, "demoteTimeoutSeconds": 60, "promoteTimeoutSeconds": 90,
                 "shutdownTimeoutSeconds": 0, "parallelism": 16},
    "webhooks": {"secretFile": "webhook.secret", "maxAgeSeconds": 120, "allowForce": true,
                 "alertmanager": {"tokenSha256": "HASH-B", "appLabel": "app", "type": "planned"}}
  })");
  c["operators"]["bearerTokens"][0]["sha256"] = kHashA;
  c["webhooks"]["alertmanager"]["tokenSha256"] = kHashB;  // upper case: read as lower case
  return c;
}

// The smallest valid production config.
json minimal_config() {
  return json::parse(R"({
    "apiVersion": "drpair/v1", "kind": "AgentConfig", "role": "production",
    "listen": {"port": 8443},
    "tls": {"cert": "pki/site-b/agent.crt", "key": "pki/site-b/agent.key",
            "peerCa": "pki/site-a/ca.crt"},
    "peer": {"site": "site-a", "url": "https://127.0.0.1:8444", "ca": "pki/site-a/ca.crt"},
    "stateFile": ":memory:",
    "libvirt": {"uri": "qemu:///system"},
    "siteConfig": "site-b.json",
    "ceph": {"conf": "/etc/ceph/ceph.conf"}
  })");
}

std::string dump(const dr::model::Problems& problems) {
  std::string out;
  for (const auto& p : problems) out += "  " + dr::model::format(p) + "\n";
  return out;
}

bool has_problem(const dr::model::Problems& problems, const std::string& pointer,
                 const std::string& part) {
  for (const auto& p : problems) {
    if (p.pointer == pointer && p.message.find(part) != std::string::npos) return true;
  }
  return false;
}

// The problems of `config` read in the fixture folder (none: an empty list).
dr::model::Problems problems_of(const Fixture& f, const json& config) {
  const auto r = parse_agent_config(config.dump(), f.base());
  if (r) return {};
  return r.error();
}

// Expects exactly one problem, at `pointer`, whose message contains `part`.
void expect_one(const Fixture& f, const json& config, const std::string& pointer,
                const std::string& part) {
  const auto problems = problems_of(f, config);
  INFO("problems:\n" << dump(problems));
  CHECK(problems.size() == 1);
  CHECK(has_problem(problems, pointer, part));
}

}  // namespace

TEST_CASE("a complete config reads into every field", "[config]") {
  Fixture f;
  const auto r = parse_agent_config(full_config().dump(), f.base());
  INFO((r ? std::string() : dump(r.error())));
  REQUIRE(r);
  const AgentConfig& c = *r;
  CHECK(c.path.empty());
  CHECK(c.role == AgentRole::dr);
  CHECK(std::string(to_string(c.role)) == "dr");
  CHECK(c.listen_address == "0.0.0.0");
  CHECK(c.listen_port == 8444);
  CHECK(c.max_connections == 64);
  CHECK(c.tls.cert_file == f.at("pki/site-b/agent.crt"));
  CHECK(c.tls.key_file == f.at("pki/site-b/agent.key"));
  CHECK(c.tls.peer_ca_file == f.at("pki/site-a/ca.crt"));
  CHECK(c.tls.operator_ca_file == f.at("pki/operator/ca.crt"));
  CHECK(c.auth.peer_site == "site-a");
  CHECK(c.auth.operator_names == std::vector<std::string>{"ops", "oncall"});
  CHECK(c.auth.any_operator);
  REQUIRE(c.auth.bearer_tokens.size() == 2);
  CHECK(c.auth.bearer_tokens[0].name == "grafana");
  CHECK(c.auth.bearer_tokens[0].sha256_hex == kHashA);
  CHECK(c.auth.bearer_tokens[0].kind == dr::transport::IdentityKind::viewer);
  CHECK(c.auth.viewer_names == std::vector<std::string>{"dashboard"});
  CHECK(c.auth.bearer_tokens[1].name == "alertmanager");
  // The hook's token calls the hook and nothing else.
  CHECK(c.auth.bearer_tokens[1].kind == dr::transport::IdentityKind::alertmanager_hook);
  CHECK(c.auth.bearer_tokens[1].sha256_hex ==
        "c517d3a89816268111ae166518fc302de2366343929229c4b0e4c904248e575b");  // lower-cased
  CHECK(c.peer.site == "site-a");
  CHECK(c.peer.url == "https://site-a.example.net:8443");
  CHECK(c.peer.host == "site-a.example.net");
  CHECK(c.peer.port == 8443);
  CHECK(c.peer.ca_file == f.at("pki/site-a/ca.crt"));
  CHECK(c.peer.timeout == std::chrono::seconds(12));
  CHECK(c.state_file == f.at("state/dr.db"));
  CHECK(c.libvirt_uri == "test:///default");
  CHECK(c.site.site == "site-b");
  CHECK(c.site_name() == "site-b");
  CHECK(c.site.domain_type == "test");
  CHECK(c.ceph_conf == f.at("ceph/ceph.conf"));
  CHECK(c.ceph_client_id == "drpair");
  REQUIRE(c.mapping_policy);
  CHECK(c.mapping_policy->default_switch == "dr-vswitch0");
  CHECK(c.protection.capture_interval == std::chrono::seconds(0));
  CHECK(c.protection.snapshot_interval == std::chrono::seconds(120));
  CHECK(c.protection.replication_timeout == std::chrono::seconds(900));
  CHECK(c.failover.fence_timeout == std::chrono::seconds(5));
  CHECK(c.failover.demote_timeout == std::chrono::seconds(60));
  CHECK(c.failover.promote_timeout == std::chrono::seconds(90));
  CHECK(c.failover.shutdown_timeout == std::chrono::seconds(0));
  CHECK(c.protection.parallelism == 3);
  CHECK(c.failover.parallelism == 16);
  REQUIRE(c.webhooks);
  CHECK(c.webhooks->secret == "s3cret");  // the file's trailing newline is not part of it
  CHECK(c.webhooks->max_age == std::chrono::seconds(120));
  CHECK(c.webhooks->allow_force);
  REQUIRE(c.webhooks->alertmanager);
  CHECK(c.webhooks->alertmanager->token_sha256 ==
        "c517d3a89816268111ae166518fc302de2366343929229c4b0e4c904248e575b");
  CHECK(c.webhooks->alertmanager->app_label == "app");
  CHECK(c.webhooks->alertmanager->type == "planned");
}

TEST_CASE("a minimal config takes the documented defaults", "[config]") {
  Fixture f;
  const auto r = parse_agent_config(minimal_config().dump(), f.base());
  INFO((r ? std::string() : dump(r.error())));
  REQUIRE(r);
  const AgentConfig& c = *r;
  const AgentConfig d;
  CHECK(c.role == AgentRole::production);
  CHECK(c.listen_address == "127.0.0.1");
  CHECK(c.listen_port == 8443);
  CHECK(c.max_connections == 256);
  CHECK(c.tls.operator_ca_file.empty());
  CHECK(c.auth.operator_names.empty());
  CHECK_FALSE(c.auth.any_operator);
  CHECK(c.auth.bearer_tokens.empty());
  CHECK(c.auth.peer_site == "site-a");
  CHECK(c.peer.host == "127.0.0.1");
  CHECK(c.peer.port == 8444);
  CHECK(c.peer.timeout == std::chrono::seconds(30));
  CHECK(c.state_file == ":memory:");
  CHECK(c.ceph_conf == "/etc/ceph/ceph.conf");
  CHECK(c.ceph_client_id == "admin");
  CHECK_FALSE(c.mapping_policy);
  CHECK(c.protection.capture_interval == d.protection.capture_interval);
  CHECK(c.protection.capture_interval == std::chrono::seconds(60));
  CHECK(c.protection.snapshot_interval == std::chrono::seconds(0));
  CHECK(c.protection.replication_timeout == std::chrono::seconds(600));
  CHECK(c.failover.fence_timeout == std::chrono::seconds(10));
  CHECK(c.failover.demote_timeout == std::chrono::seconds(300));
  CHECK(c.failover.promote_timeout == std::chrono::seconds(300));
  CHECK(c.failover.shutdown_timeout == std::chrono::seconds(120));
  CHECK(c.protection.parallelism == 8);
  CHECK(c.failover.parallelism == 8);
  CHECK_FALSE(c.webhooks);
}

TEST_CASE("relative paths resolve against the config's folder, absolute ones stay", "[config]") {
  Fixture f;
  json c = full_config();
  c["tls"]["cert"] = "./pki/../pki/site-b/agent.crt";
  c["tls"]["key"] = f.at("pki/site-b/agent.key");
  c["stateFile"] = "/var/lib/drpair/dr.db";
  const auto r = parse_agent_config(c.dump(), f.base());
  INFO((r ? std::string() : dump(r.error())));
  REQUIRE(r);
  CHECK(r->tls.cert_file == f.at("pki/site-b/agent.crt"));
  CHECK(r->tls.key_file == f.at("pki/site-b/agent.key"));
  CHECK(r->state_file == "/var/lib/drpair/dr.db");

  SECTION("load_agent_config uses the folder of the file and records its absolute path") {
    write(f.dir.path / "agent.json", full_config().dump(2));
    const auto loaded = load_agent_config(f.at("agent.json"));
    INFO((loaded ? std::string() : dump(loaded.error())));
    REQUIRE(loaded);
    CHECK(loaded->path == f.at("agent.json"));
    CHECK(loaded->site.site == "site-b");
    CHECK(loaded->state_file == f.at("state/dr.db"));
  }
  SECTION("a relative config path is made absolute") {
    write(f.dir.path / "agent.json", full_config().dump(2));
    const fs::path before = fs::current_path();
    fs::current_path(f.dir.path / "pki");
    const auto loaded = load_agent_config("../agent.json");
    fs::current_path(before);
    INFO((loaded ? std::string() : dump(loaded.error())));
    REQUIRE(loaded);
    CHECK(loaded->path == f.at("agent.json"));
    CHECK(loaded->tls.cert_file == f.at("pki/site-b/agent.crt"));
  }
  SECTION("the same relative names in another folder are different files") {
    TempDir other;
    const auto r2 = parse_agent_config(full_config().dump(), other.path.string());
    REQUIRE_FALSE(r2);
    CHECK(has_problem(r2.error(), "/tls/cert", (other.path / "pki/site-b/agent.crt").string()));
  }
}

TEST_CASE("each missing required key is a problem at its object", "[config]") {
  Fixture f;
  struct Case {
    std::vector<std::string> path;  // the key to remove, from the top
    std::string pointer;            // where the problem is reported
    std::string key;
  };
  const std::vector<Case> cases = {
      {{"apiVersion"}, "", "apiVersion"},
      {{"kind"}, "", "kind"},
      {{"role"}, "", "role"},
      {{"listen"}, "", "listen"},
      {{"listen", "port"}, "/listen", "port"},
      {{"tls"}, "", "tls"},
      {{"tls", "cert"}, "/tls", "cert"},
      {{"tls", "key"}, "/tls", "key"},
      {{"tls", "peerCa"}, "/tls", "peerCa"},
      {{"peer"}, "", "peer"},
      {{"peer", "site"}, "/peer", "site"},
      {{"peer", "url"}, "/peer", "url"},
      {{"peer", "ca"}, "/peer", "ca"},
      {{"stateFile"}, "", "stateFile"},
      {{"libvirt"}, "", "libvirt"},
      {{"libvirt", "uri"}, "/libvirt", "uri"},
      {{"siteConfig"}, "", "siteConfig"},
      {{"ceph"}, "", "ceph"},
      {{"ceph", "conf"}, "/ceph", "conf"},
      {{"operators", "bearerTokens", "0", "sha256"}, "/operators/bearerTokens/0", "sha256"},
      {{"operators", "bearerTokens", "0", "name"}, "/operators/bearerTokens/0", "name"},
      {{"webhooks", "alertmanager", "tokenSha256"}, "/webhooks/alertmanager", "tokenSha256"},
  };
  for (const auto& c : cases) {
    json config = full_config();
    json* parent = &config;
    for (std::size_t i = 0; i + 1 < c.path.size(); ++i) {
      parent = parent->is_array() ? &(*parent)[std::stoul(c.path[i])] : &(*parent)[c.path[i]];
    }
    parent->erase(c.path.back());
    INFO("without " << c.pointer << "/" << c.key);
    const auto problems = problems_of(f, config);
    INFO("problems:\n" << dump(problems));
    CHECK(has_problem(problems, c.pointer, "missing required field '" + c.key + "'"));
    CHECK(problems.size() == 1);  // nothing else
  }
}

TEST_CASE("unknown keys are rejected at every level", "[config]") {
  Fixture f;
  for (const std::string pointer :
       {"/colour", "/listen/colour", "/tls/colour", "/operators/colour",
        "/operators/bearerTokens/0/colour", "/peer/colour", "/libvirt/colour", "/ceph/colour",
        "/protection/colour", "/failover/colour", "/webhooks/colour",
        "/webhooks/alertmanager/colour"}) {
    json config = full_config();
    config[json::json_pointer(pointer)] = "blue";
    INFO(pointer);
    expect_one(f, config, pointer, "unknown key 'colour'");
  }
}

TEST_CASE("wrong types and out-of-range values are problems at their key", "[config]") {
  Fixture f;
  struct Case {
    std::string pointer;
    json value;
    std::string part;
  };
  const std::vector<Case> cases = {
      {"/apiVersion", "drpair/v2", "expected 'drpair/v1'"},
      {"/kind", "SiteConfig", "expected 'AgentConfig'"},
      {"/role", "primary", "expected 'production' or 'dr'"},
      {"/listen", 8443, "expected an object"},
      {"/listen/port", 65536, "between 0 and 65535"},
      {"/listen/port", -1, "between 0 and 65535"},
      {"/listen/port", "8443", "expected an integer"},
      {"/listen/port", 8443.5, "expected an integer"},
      {"/listen/port", json(std::numeric_limits<std::uint64_t>::max()), "between 0 and 65535"},
      {"/listen/address", "", "must not be empty"},
      {"/listen/address", "not a host!", "not an IP address or host name"},
      {"/tls/cert", 1, "expected a string, found an integer"},
      {"/operators/names", "ops", "expected an array"},
      {"/operators/names/1", "", "non-empty string"},
      {"/operators/anyOperator", "yes", "expected a boolean, found a string"},
      {"/operators/bearerTokens", json::object(), "expected an array"},
      {"/operators/bearerTokens/0", "grafana", "expected an object"},
      {"/peer/timeoutSeconds", 0, "between 1 and 3600"},
      {"/listen/maxConnections", 0, "between 1 and 65536"},
      {"/operators/viewers/0", "ops", "in /operators/names too"},
      {"/operators/bearerTokens/0/role", "admin", "must be 'operator' or 'viewer'"},
      {"/webhooks/allowForce", "yes", "expected a boolean"},
      {"/stateFile", "", "must not be empty"},
      {"/libvirt/uri", "qemu", "not a libvirt URI"},
      {"/ceph/clientId", "client.admin", "without 'client.'"},
      {"/protection/captureIntervalSeconds", -5, "between 0 and 86400"},
      {"/protection/snapshotIntervalSeconds", 86401, "between 0 and 86400"},
      {"/protection/replicationTimeoutSeconds", 0, "between 1 and 604800"},
      {"/failover/fenceTimeoutSeconds", 0, "between 1 and 3600"},
      {"/failover/demoteTimeoutSeconds", 86401, "between 1 and 86400"},
      {"/failover/promoteTimeoutSeconds", true, "expected an integer"},
      {"/failover/shutdownTimeoutSeconds", 3601, "between 0 and 3600"},
      {"/failover/parallelism", 0, "between 1 and 64"},
      {"/protection/parallelism", 65, "between 1 and 64"},
      {"/webhooks/maxAgeSeconds", 0, "between 1 and 86400"},
      {"/webhooks/alertmanager/type", "drill", "expected 'disaster' or 'planned'"},
      {"/webhooks/alertmanager/appLabel", "", "must not be empty"},
  };
  for (const auto& c : cases) {
    json config = full_config();
    config[json::json_pointer(c.pointer)] = c.value;
    INFO(c.pointer << " = " << c.value.dump());
    expect_one(f, config, c.pointer, c.part);
  }
}

TEST_CASE("every problem is reported at once", "[config]") {
  Fixture f;
  json c = full_config();
  c["role"] = "primary";
  c["listen"]["port"] = 70000;
  c["tls"]["key"] = "missing.key";
  c["peer"]["url"] = "http://site-a:8443";
  c["operators"]["bearerTokens"][0]["sha256"] = "abc";
  c["extra"] = 1;
  const auto problems = problems_of(f, c);
  INFO("problems:\n" << dump(problems));
  CHECK(problems.size() == 6);
  CHECK(has_problem(problems, "/role", "production"));
  CHECK(has_problem(problems, "/listen/port", "between"));
  CHECK(has_problem(problems, "/tls/key", "cannot read"));
  CHECK(has_problem(problems, "/peer/url", "https"));
  CHECK(has_problem(problems, "/operators/bearerTokens/0/sha256", "64 hex"));
  CHECK(has_problem(problems, "/extra", "unknown key"));
}

TEST_CASE("a config that is not JSON or not an object is one problem at the document", "[config]") {
  Fixture f;
  for (const char* text : {"{", "", "[1, 2]", "\"config\""}) {
    INFO(text);
    const auto r = parse_agent_config(text, f.base());
    REQUIRE_FALSE(r);
    REQUIRE(r.error().size() == 1);
    CHECK(r.error()[0].pointer.empty());
  }
  CHECK(parse_agent_config("{", f.base()).error()[0].message.find("line 1") != std::string::npos);
  const auto missing = load_agent_config(f.at("nope.json"));
  REQUIRE_FALSE(missing);
  REQUIRE(missing.error().size() == 1);
  CHECK(has_problem(missing.error(), "", "cannot read config '" + f.at("nope.json") + "'"));
  CHECK(has_problem(missing.error(), "", "No such file or directory"));
}

TEST_CASE("the peer url is https://HOST:PORT", "[config]") {
  Fixture f;
  struct Good {
    std::string url, host;
    std::uint16_t port;
  };
  for (const auto& g : std::vector<Good>{
           {"https://site-a:8443", "site-a", 8443},
           {"https://drpair.site-a.example.net:1", "drpair.site-a.example.net", 1},
           {"https://10.0.0.1:65535", "10.0.0.1", 65535},
           {"https://[::1]:8444", "::1", 8444},
           {"https://[fd00:1::20]:443", "fd00:1::20", 443},
       }) {
    json c = full_config();
    c["peer"]["url"] = g.url;
    const auto r = parse_agent_config(c.dump(), f.base());
    INFO(g.url << (r ? std::string() : "\n" + dump(r.error())));
    REQUIRE(r);
    CHECK(r->peer.url == g.url);
    CHECK(r->peer.host == g.host);
    CHECK(r->peer.port == g.port);
  }
  struct Bad {
    std::string url, part;
  };
  for (const auto& b : std::vector<Bad>{
           {"http://site-a:8443", "not http://"},
           {"site-a:8443", "expected https://HOST:PORT"},
           {"ftp://site-a:21", "expected https://HOST:PORT"},
           {"https://site-a", "missing port"},
           {"https://site-a:", "missing port"},
           {"https://[::1]", "missing port"},
           {"https://site-a:8443/", "no path"},
           {"https://site-a:8443/api", "no path"},
           {"https://site-a:8443?x=1", "no path"},
           {"https://user@site-a:8443", "no user"},
           {"https://:8443", "missing host"},
           {"https://::1:8443", "in brackets"},
           {"https://[site-a]:8443", "not an IPv6 address"},
           {"https://[::1:8443", "unterminated"},
           {"https://site-a:0", "between 1 and 65535"},
           {"https://site-a:65536", "between 1 and 65535"},
           {"https://site-a:84x3", "not a port number"},
           {"https://site-a:-1", "not a port number"},
           {"https://site_a:8443", "not a host name"},
           {"https://-site-a:8443", "not a host name"},
           {"https://site-a.:8443", "not a host name"},
           {"https://10.0.0.300:8443", "not a host name"},
           {"https://1.2.3:8443", "not a host name"},
       }) {
    json c = full_config();
    c["peer"]["url"] = b.url;
    INFO(b.url);
    expect_one(f, c, "/peer/url", b.part);
  }
}

TEST_CASE("files the config names must be readable", "[config]") {
  Fixture f;
  for (const std::string pointer :
       {"/tls/cert", "/tls/key", "/tls/peerCa", "/tls/operatorCa", "/peer/ca", "/siteConfig",
        "/mappingPolicy", "/webhooks/secretFile"}) {
    SECTION(pointer + " missing") {
      json c = full_config();
      c[json::json_pointer(pointer)] = "absent/file";
      const auto problems = problems_of(f, c);
      INFO("problems:\n" << dump(problems));
      CHECK(problems.size() == 1);
      CHECK(has_problem(problems, pointer,
                        "cannot read '" + f.at("absent/file") + "': No such file or directory"));
    }
    SECTION(pointer + " a folder") {
      json c = full_config();
      c[json::json_pointer(pointer)] = "pki";
      const auto problems = problems_of(f, c);
      INFO("problems:\n" << dump(problems));
      CHECK(problems.size() == 1);
      CHECK(has_problem(problems, pointer, "cannot read '" + f.at("pki") + "': Is a directory"));
    }
  }
  SECTION("permission denied (not as root, who reads everything)") {
    if (::geteuid() == 0) return;
    ::chmod(f.at("pki/site-b/agent.key").c_str(), 0);
    const auto problems = problems_of(f, full_config());
    CHECK(has_problem(problems, "/tls/key", "Permission denied"));
  }
  SECTION("the ceph conf and the state file are not opened by the reader") {
    json c = full_config();
    c["ceph"]["conf"] = "/nonexistent/ceph.conf";
    c["stateFile"] = "/nonexistent/dr.db";
    CHECK(problems_of(f, c).empty());
  }
}

TEST_CASE("site config problems are reported under /siteConfig, naming the file", "[config]") {
  Fixture f;
  write(f.dir.path / "bad-site.json", R"({"apiVersion": "drpair/v1", "kind": "SiteConfig",
    "domainType": "xen", "ceph": {"user": "client.libvirt"}, "colour": "blue"})");
  json c = full_config();
  c["siteConfig"] = "bad-site.json";
  const auto problems = problems_of(f, c);
  INFO("problems:\n" << dump(problems));
  const std::string in = "in '" + f.at("bad-site.json") + "': ";
  CHECK(problems.size() == 4);
  CHECK(has_problem(problems, "/siteConfig", in + "missing required field 'site'"));
  CHECK(has_problem(problems, "/siteConfig/domainType", in + "expected 'kvm'"));
  CHECK(has_problem(problems, "/siteConfig/ceph/user", in));
  CHECK(has_problem(problems, "/siteConfig/colour", in + "unknown key"));

  SECTION("not JSON") {
    write(f.dir.path / "bad-site.json", "{");
    const auto p2 = problems_of(f, c);
    CHECK(p2.size() == 1);
    CHECK(has_problem(p2, "/siteConfig", in));
  }
}

TEST_CASE("mapping policy problems are reported under /mappingPolicy, naming the file",
          "[config]") {
  Fixture f;
  write(f.dir.path / "bad-policy.json", R"({"apiVersion": "drpair/v1", "kind": "MappingPolicy",
    "ip": "shuffle", "colour": "blue"})");
  json c = full_config();
  c["mappingPolicy"] = "bad-policy.json";
  const auto problems = problems_of(f, c);
  INFO("problems:\n" << dump(problems));
  const std::string in = "in '" + f.at("bad-policy.json") + "': ";
  CHECK(problems.size() == 2);
  CHECK(has_problem(problems, "/mappingPolicy/ip", in));
  CHECK(has_problem(problems, "/mappingPolicy/colour", in + "unknown key"));
}

TEST_CASE("checks across keys", "[config]") {
  Fixture f;
  SECTION("the policy must be for the DR site") {
    json c = full_config();  // role dr at site-b: the policy is for site-b
    write(f.dir.path / "policy.json",
          R"({"apiVersion": "drpair/v1", "kind": "MappingPolicy", "site": "site-c"})");
    expect_one(f, c, "/mappingPolicy", "'site-c'");
    json p = minimal_config();  // role production, peer site-a: the policy must be for site-a
    p["mappingPolicy"] = "policy.json";
    expect_one(f, p, "/mappingPolicy", "'site-a'");
    write(f.dir.path / "policy.json",
          R"({"apiVersion": "drpair/v1", "kind": "MappingPolicy", "site": "site-a"})");
    CHECK(problems_of(f, p).empty());
    write(f.dir.path / "policy.json", R"({"apiVersion": "drpair/v1", "kind": "MappingPolicy"})");
    CHECK(problems_of(f, c).empty());  // a policy without a site applies anywhere
  }
  SECTION("the peer must not have this site's name") {
    json c = full_config();
    c["peer"]["site"] = "site-b";
    expect_one(f, c, "/peer/site", "this site's own name 'site-b'");
  }
  SECTION("operator and viewer names need the operator CA") {
    json c = full_config();
    c["tls"].erase("operatorCa");
    expect_one(f, c, "/operators", "/tls/operatorCa");
    c["operators"].erase("names");
    expect_one(f, c, "/operators", "/tls/operatorCa");  // anyOperator still set
    c["operators"]["anyOperator"] = false;
    expect_one(f, c, "/operators", "/tls/operatorCa");  // viewers still set
    c["operators"].erase("viewers");
    CHECK(problems_of(f, c).empty());  // bearer tokens alone are fine
  }
  SECTION("bearer token names are unique, and 'alertmanager' is taken when configured") {
    json c = full_config();
    c["operators"]["bearerTokens"].push_back({{"name", "grafana"}, {"sha256", kHashB}});
    expect_one(f, c, "/operators/bearerTokens/1/name", "used twice");
    c = full_config();
    c["operators"]["bearerTokens"][0]["name"] = "alertmanager";
    expect_one(f, c, "/webhooks/alertmanager", "taken");
  }
}

TEST_CASE("bearer token hashes are 64 hex digits", "[config]") {
  Fixture f;
  for (const std::string& bad : {std::string(63, 'a'), std::string(65, 'a'),
                                 std::string(63, 'a') + "g", std::string("sha256:") + kHashA}) {
    INFO(bad);
    json c = full_config();
    c["operators"]["bearerTokens"][0]["sha256"] = bad;
    expect_one(f, c, "/operators/bearerTokens/0/sha256", "64 hex digits");
    c = full_config();
    c["webhooks"]["alertmanager"]["tokenSha256"] = bad;
    expect_one(f, c, "/webhooks/alertmanager/tokenSha256", "64 hex digits");
  }
}

TEST_CASE("webhooks: DR only, exactly one secret, never empty", "[config]") {
  Fixture f;
  SECTION("a production config with webhooks") {
    json c = full_config();
    c["role"] = "production";
    c["mappingPolicy"] = nullptr;
    c.erase("mappingPolicy");
    expect_one(f, c, "/webhooks", "DR agent only");
  }
  SECTION("both secret and secretFile") {
    json c = full_config();
    c["webhooks"]["secret"] = "inline";
    expect_one(f, c, "/webhooks", "not both");
  }
  SECTION("neither") {
    json c = full_config();
    c["webhooks"].erase("secretFile");
    expect_one(f, c, "/webhooks", "missing required field 'secret' or 'secretFile'");
  }
  SECTION("an inline secret") {
    json c = full_config();
    c["webhooks"].erase("secretFile");
    c["webhooks"]["secret"] = "inline-secret";
    const auto r = parse_agent_config(c.dump(), f.base());
    REQUIRE(r);
    CHECK(r->webhooks->secret == "inline-secret");
  }
  SECTION("an empty inline secret") {
    json c = full_config();
    c["webhooks"].erase("secretFile");
    c["webhooks"]["secret"] = "";
    expect_one(f, c, "/webhooks/secret", "must not be empty");
  }
  SECTION("an empty secret file, or one holding only a newline") {
    for (const char* text : {"", "\n", "\r\n"}) {
      write(f.dir.path / "webhook.secret", text);
      expect_one(f, full_config(), "/webhooks/secretFile",
                 "the secret file '" + f.at("webhook.secret") + "' is empty");
    }
  }
  SECTION("only one trailing newline is trimmed") {
    write(f.dir.path / "webhook.secret", "line1\nline2\n\n");
    const auto r = parse_agent_config(full_config().dump(), f.base());
    REQUIRE(r);
    CHECK(r->webhooks->secret == "line1\nline2\n");
    write(f.dir.path / "webhook.secret", "no-newline");
    CHECK(parse_agent_config(full_config().dump(), f.base())->webhooks->secret == "no-newline");
  }
  SECTION("alertmanager defaults; no alertmanager, no extra token") {
    json c = full_config();
    c["webhooks"]["alertmanager"].erase("appLabel");
    c["webhooks"]["alertmanager"].erase("type");
    auto r = parse_agent_config(c.dump(), f.base());
    REQUIRE(r);
    CHECK(r->webhooks->alertmanager->app_label == "drpair_app");
    CHECK(r->webhooks->alertmanager->type == "disaster");
    c["webhooks"].erase("alertmanager");
    r = parse_agent_config(c.dump(), f.base());
    REQUIRE(r);
    CHECK_FALSE(r->webhooks->alertmanager);
    CHECK(r->webhooks->max_age == std::chrono::seconds(120));
    CHECK(r->auth.bearer_tokens.size() == 1);
  }
}

// ---- the examples in deploy/examples ----------------------------------------------------------

namespace {

const fs::path kExamples = fs::path(DR_SOURCE_DIR) / "deploy" / "examples";

// Every string in `v` that starts with one of `from` gets `to` + the prefix instead.
void rebase(json& v, const std::vector<std::string>& from, const std::string& to) {
  if (v.is_object() || v.is_array()) {
    for (auto& item : v) rebase(item, from, to);
  } else if (v.is_string()) {
    for (const auto& prefix : from) {
      if (v.get_ref<const std::string&>().rfind(prefix, 0) == 0) {
        v = to + v.get<std::string>();
        return;
      }
    }
  }
}

// Installs an example config under `root` as if `root` were "/": its files under
// root/etc/drpair (the site configs and the policy copied from deploy/examples, throwaway PEM
// files and a webhook secret), its paths rewritten to point there. Returns the config's path.
std::string install_example(const fs::path& root, const std::string& name) {
  json config = json::parse(slurp(kExamples / name));
  rebase(config, {"/etc/drpair/", "/var/lib/drpair/"}, root.string());
  const fs::path etc = root / "etc" / "drpair";
  for (const char* file : {"site-a.json", "site-b.json", "policy.json"}) {
    write(etc / file, slurp(kExamples / file));
  }
  for (const char* pem :
       {"pki/site-a/agent.crt", "pki/site-a/agent.key", "pki/site-a/ca.crt", "pki/site-b/agent.crt",
        "pki/site-b/agent.key", "pki/site-b/ca.crt", "pki/operator/ca.crt"}) {
    write(etc / pem, "(test)\n");
  }
  write(etc / "webhook.secret", "example-webhook-secret\n");
  write(etc / name, config.dump(2));
  return (etc / name).string();
}

}  // namespace

TEST_CASE("the example production config loads once its files exist", "[config][examples]") {
  TempDir root;
  const auto r = load_agent_config(install_example(root.path, "production-agent.json"));
  INFO((r ? std::string() : dump(r.error())));
  REQUIRE(r);
  CHECK(r->role == AgentRole::production);
  CHECK(r->site_name() == "site-a");
  CHECK(r->peer.site == "site-b");
  CHECK(r->peer.host == "site-b");
  CHECK(r->peer.port == 8444);
  CHECK(r->listen_port == 8443);
  CHECK(r->state_file == root.path.string() + "/var/lib/drpair/production.db");
  CHECK(r->ceph_conf == "/etc/ceph/ceph.conf");
  CHECK(r->mapping_policy);
  CHECK_FALSE(r->webhooks);
}

TEST_CASE("the example DR config loads once its files exist", "[config][examples]") {
  TempDir root;
  const auto r = load_agent_config(install_example(root.path, "dr-agent.json"));
  INFO((r ? std::string() : dump(r.error())));
  REQUIRE(r);
  CHECK(r->role == AgentRole::dr);
  CHECK(r->site_name() == "site-b");
  CHECK(r->peer.site == "site-a");
  CHECK(r->peer.port == 8443);
  CHECK(r->listen_port == 8444);
  REQUIRE(r->webhooks);
  CHECK(r->webhooks->secret == "example-webhook-secret");
  REQUIRE(r->webhooks->alertmanager);
  CHECK(r->auth.bearer_tokens.size() == 2);
}

TEST_CASE("the example configs as shipped only lack the files under /etc/drpair",
          "[config][examples]") {
  if (fs::exists("/etc/drpair")) return;  // a machine where drpair is installed: nothing to say
  struct Example {
    std::string name;
    std::vector<std::string> pointers;
  };
  for (const auto& e : std::vector<Example>{
           {"production-agent.json",
            {"/tls/cert", "/tls/key", "/tls/peerCa", "/tls/operatorCa", "/peer/ca", "/siteConfig",
             "/mappingPolicy"}},
           {"dr-agent.json",
            {"/tls/cert", "/tls/key", "/tls/peerCa", "/tls/operatorCa", "/peer/ca", "/siteConfig",
             "/mappingPolicy", "/webhooks/secretFile"}},
       }) {
    INFO(e.name);
    const auto r = load_agent_config((kExamples / e.name).string());
    REQUIRE_FALSE(r);
    INFO("problems:\n" << dump(r.error()));
    CHECK(r.error().size() == e.pointers.size());
    for (const auto& p : e.pointers) CHECK(has_problem(r.error(), p, "cannot read '/etc/drpair/"));
  }
}
