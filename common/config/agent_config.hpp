#pragma once
// AgentConfig: the one file each agent starts from (`drpair-production-agent --config FILE`,
// `drpair-dr-agent --config FILE`; schemas/agent_config.v1.schema.json; README "Configuration").
//
//   {
//     "apiVersion": "drpair/v1", "kind": "AgentConfig",
//     "role": "production",                          // or "dr"
//     "listen": {"address": "127.0.0.1", "port": 8443},
//     "tls": {"cert": "site-a/agent.crt", "key": "site-a/agent.key",
//             "peerCa": "site-b/ca.crt", "operatorCa": "operators/ca.crt"},
//     "operators": {"names": ["ops"], "anyOperator": false,
//                   "bearerTokens": [{"name": "grafana", "sha256": "<64 hex>"}]},
//     "peer": {"site": "site-b", "url": "https://127.0.0.1:8444", "ca": "site-b/ca.crt",
//              "timeoutSeconds": 30},
//     "stateFile": "/var/lib/drpair/production.db",
//     "libvirt": {"uri": "qemu:///system"},
//     "siteConfig": "site-a.json",        // virt::SiteConfig (its "site" names this site)
//     "ceph": {"conf": "/etc/ceph/ceph.conf", "clientId": "admin"},
//     "mappingPolicy": "policy.json",     // optional MappingPolicy for the DR site (see below)
//     "protection": {"captureIntervalSeconds": 60, "snapshotIntervalSeconds": 0,
//                    "replicationTimeoutSeconds": 600},
//     "failover": {"fenceTimeoutSeconds": 10, "demoteTimeoutSeconds": 300,
//                  "promoteTimeoutSeconds": 300, "shutdownTimeoutSeconds": 120},
//     "webhooks": {"secretFile": "webhook.secret",   // or "secret": "..." (exactly one; DR only)
//                  "maxAgeSeconds": 300,
//                  "alertmanager": {"tokenSha256": "<64 hex>", "appLabel": "drpair_app",
//                                   "type": "disaster"}}
//   }
//
// Required: apiVersion, kind, role, listen.port, tls.cert/key/peerCa, peer.site/url/ca,
// stateFile, libvirt.uri, siteConfig, ceph.conf; everything else has the defaults below.
//
// Relative paths are resolved against the config file's folder (lexically normalised, so every
// path in AgentConfig is absolute). Reading is strict, as for the wire documents: unknown keys,
// wrong types, out-of-range values, missing required keys, files that cannot be read (TLS files,
// peer.ca, siteConfig, mappingPolicy, the webhook secret file; the problem names the path and the
// OS error) are problems with a JSON Pointer to the key at fault, all reported at once; the agent
// prints them and exits 2 at start. The problems of the siteConfig and mappingPolicy files are
// reported under "/siteConfig" and "/mappingPolicy" (e.g. "/siteConfig/ceph/user"), their
// message naming the file. ceph.conf and stateFile are not opened here (librados and SQLite do).
//
// Also checked: peer.url is https://HOST:PORT (HOST a name, an IPv4 address or a bracketed IPv6
// address; no path; port 1..65535); token hashes are 64 hex digits (stored lower-case); webhooks
// only with role "dr", with exactly one of secret / secretFile (one trailing newline of the file
// is dropped; an empty secret is a problem); operators.names / anyOperator need tls.operatorCa;
// bearer token names are unique ("alertmanager" is taken when webhooks.alertmanager is set);
// peer.site differs from this site's name; the mapping policy's "site", when set, is the DR site
// (this site for role "dr", peer.site for role "production").
//
// Schema: schemas/agent_config.v1.schema.json; examples: deploy/examples/*-agent.json.
//
// Thread-safety: plain values.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "model/problem.hpp"
#include "transport/tls_config.hpp"
#include "virt/site_config.hpp"

namespace dr::config {

enum class AgentRole { production, dr };
const char* to_string(AgentRole role) noexcept;  // "production", "dr"

struct PeerConfig {
  std::string site;  // the peer site's name: its certificate must name it
  std::string url;   // "https://HOST:PORT" (no path), as written
  std::string host;  // parsed from url; an IPv6 address without its brackets ("::1")
  std::uint16_t port = 0;
  std::string ca_file;  // the peer's CA (absolute path)
  std::chrono::seconds timeout{30};
};

struct ProtectionConfig {
  std::chrono::seconds capture_interval{60};   // re-capture for drift; 0 = never
  std::chrono::seconds snapshot_interval{0};   // 0 = each pair's intervalMinutes
  std::chrono::seconds replication_timeout{600};  // protect: until every pair synced once
  int parallelism = 8;  // a protect job's threads for per-image work (mirroring, snapshots)
};

struct FailoverConfig {
  std::chrono::seconds fence_timeout{10};    // how long the peer may take to answer the fence
  std::chrono::seconds demote_timeout{300};  // planned: the peer stopping the app
  std::chrono::seconds promote_timeout{300};  // waits for snapshots / promotes
  // Production: how long the app's guests get to shut down (ACPI) when the DR agent asks for a
  // planned failover, before they are powered off; 0 = power off at once. Keep it well under the
  // DR agent's demoteTimeoutSeconds, which bounds the whole request.
  std::chrono::seconds shutdown_timeout{120};
  // A failover job's (and a demotion's) threads for per-image work: promotes, waits, demotes.
  int parallelism = 8;
};

struct AlertmanagerConfig {
  std::string token_sha256;                // lower-case hex; the bearer token's hash
  std::string app_label = "drpair_app";    // the alert label naming the app
  std::string type = "disaster";           // "disaster" or "planned"
};

// The Alertmanager hook's bearer token, named "alertmanager": it may call that hook and nothing
// else (its kind is alertmanager_hook).
transport::BearerToken alertmanager_token(const AlertmanagerConfig& am);

struct WebhookConfig {
  std::string secret;  // the HMAC key (read from secretFile when given); never logged
  std::chrono::seconds max_age{300};
  // Whether the signed webhook may ask for force (overriding the fence); off, such a request is
  // 403: whoever holds the secret can fail over, but not past the fence.
  bool allow_force = false;
  std::optional<AlertmanagerConfig> alertmanager;
};

struct AgentConfig {
  std::string path;  // the config file itself (absolute)
  AgentRole role = AgentRole::production;
  std::string listen_address = "127.0.0.1";
  std::uint16_t listen_port = 8443;  // 0: any free port (tests)
  // Connections served at once; past it a connection gets one 429 (transport/http_server.hpp).
  std::size_t max_connections = 256;
  // How long the audit trail keeps a record (service/audit.hpp).
  std::chrono::days audit_retention{90};
  transport::ServerTlsFiles tls;  // cert/key/peer CA/operator CA, absolute paths
  transport::AuthPolicy auth;     // peer_site from peer.site; operators; bearer tokens (+ the
                                  // alertmanager token, named "alertmanager", when configured)
  PeerConfig peer;
  std::string state_file;  // absolute; ":memory:" allowed for tests
  std::string libvirt_uri;
  virt::SiteConfig site;  // the parsed siteConfig file; site.site is this site's name
  std::string ceph_conf;  // absolute
  std::string ceph_client_id = "admin";
  std::optional<model::MappingPolicy> mapping_policy;
  ProtectionConfig protection;
  FailoverConfig failover;
  std::optional<WebhookConfig> webhooks;  // DR agent only (a production config with it: problem)

  const std::string& site_name() const { return site.site; }
};

// Reads and checks the config at `path` (made absolute; AgentConfig::path) and every file it
// names, resolving relative paths against the config's folder. An unreadable config is one
// problem at the pointer "".
Result<AgentConfig, model::Problems> load_agent_config(const std::string& path);

// The same over text already read; `base_dir` resolves relative paths (tests). The files the
// text names are still read. AgentConfig::path is left empty.
Result<AgentConfig, model::Problems> parse_agent_config(std::string_view text,
                                                        const std::string& base_dir);

}  // namespace dr::config
