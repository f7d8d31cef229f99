#include "rest_commands.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "agent_client.hpp"
#include "job_progress.hpp"

namespace dr::cli {
namespace {

using nlohmann::json;
using transport::Method;

struct RestArgs {
  AgentConnection connection;
  bool as_json = false;
  std::string app;     // APP positional
  std::string mode;    // protect --mode
  std::string type;    // failover --type
  std::string reason;  // failover --reason
  std::string idempotency_key;
  bool force = false;
  bool cleanup = false;  // drill --cleanup
  bool wait = false;    // --wait (protect, unprotect, failover)
  std::string job;      // jobs ID
  std::string app_of;   // jobs --app
  bool follow = false;  // jobs ID --follow
  int limit = 50;       // audit --limit
};

// ---- output helpers ---------------------------------------------------------------------------

// A field as table text: strings as they are, numbers and booleans as JSON, absent/null as "-".
std::string field(const json& doc, const char* key) {
  if (!doc.is_object() || !doc.contains(key) || doc[key].is_null()) return "-";
  const json& v = doc[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

const json& member(const json& doc, const char* key) {
  static const json kNull;
  return doc.is_object() && doc.contains(key) ? doc[key] : kNull;
}

const json& array_of(const json& doc, const char* key) {
  static const json kEmpty = json::array();
  const json& v = member(doc, key);
  return v.is_array() ? v : kEmpty;
}

// Columns separated by two spaces, each as wide as its widest cell; the last one not padded.
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);  // an empty last cell leaves no trailing blanks
    out << line << '\n';
  };
  print(header);
  for (const auto& row : rows) print(row);
}

std::string seconds_text(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", value);
  return buf;
}

std::string error_text(const json& doc) {
  const json& e = member(doc, "error");
  if (!e.is_object()) return {};
  return field(e, "code") + ": " + field(e, "message");
}

// The reply's Job id; nullopt (after reporting it) when the reply has none.
std::optional<std::int64_t> job_id(const AgentReply& reply, const AgentClient& client) {
  const json& id = member(member(reply.json, "job"), "id");
  if (!id.is_number_integer()) {
    report(
        {"internal", "the agent at " + client.url().text + " answered without a job id", {}, true},
        std::cerr);
    return std::nullopt;
  }
  return id.get<std::int64_t>();
}

// ---- connection -------------------------------------------------------------------------------

std::unique_ptr<AgentClient> open_client(const RestArgs& args, AgentRole role) {
  auto client = AgentClient::open(args.connection, role);
  if (!client) {
    std::cerr << "drpair: " << client.error().message << '\n';
    return nullptr;
  }
  return std::move(*client);
}

std::string app_path(const RestArgs& args, const char* tail = "") {
  return "/v1/apps/" + percent_encode(args.app) + tail;
}

// Follows job `id` to its end; the exit code says how it ended. With --json the progress goes to
// stderr and the finished Job, as the agent sent it, to stdout.
int follow(AgentClient& client, std::int64_t id, bool as_json) {
  FollowOptions options;
  const int fd = as_json ? STDERR_FILENO : STDOUT_FILENO;
  options.tty = isatty(fd) == 1;
  options.columns = options.tty ? terminal_columns(fd) : 0;
  std::ostream& progress = as_json ? std::cerr : std::cout;
  std::string body;
  const int code = follow_job(client, id, options, progress, std::cerr, &body);
  if (as_json && !body.empty()) std::cout << body << '\n';
  return code;
}

// What protect, unprotect and failover do with the 202 {"job": Job, ...} they get back.
int job_started(AgentClient& client, const RestArgs& args, const AgentReply& reply) {
  const auto id = job_id(reply, client);
  if (!id) return kExitNo;
  const json& job = member(reply.json, "job");
  const bool reused =
      member(reply.json, "created").is_boolean() && !reply.json["created"].get<bool>();
  if (!args.wait) {
    if (args.as_json) {
      std::cout << reply.body << '\n';
      return kExitOk;
    }
    std::cout << "job " << *id << ": " << field(job, "type") << " of " << field(job, "app") << ", "
              << field(job, "state")
              << (reused ? " (an existing job: same idempotency key, or already running)" : "")
              << '\n'
              << "follow it with: drpair jobs " << *id << " --follow --url " << client.url().text
              << '\n';
    return kExitOk;
  }
  if (reused) {
    (args.as_json ? std::cerr : std::cout)
        << "job " << *id << " was already running (same idempotency key, or a job of the "
        << "same type for the app); following it\n";
  }
  return follow(client, *id, args.as_json);
}

// A list command: GET `path` from `client`, then the body as it is (--json) or a table of one
// `row` per item of the answer's array `key`.
int list(AgentClient& client, const RestArgs& args, const std::string& path, const char* key,
         const std::vector<std::string>& headers,
         const std::function<std::vector<std::string>(const json&)>& row) {
  auto reply = client.get(path);
  if (!reply) return report(reply.error(), std::cerr);
  if (args.as_json) {
    std::cout << reply->body << '\n';
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const json& item : array_of(reply->json, key)) rows.push_back(row(item));
  print_table(std::cout, headers, rows);
  return kExitOk;
}

// ---- commands ---------------------------------------------------------------------------------

int run_apps(const RestArgs& args) {
  auto client = open_client(args, AgentRole::dr);
  if (!client) return kExitUsage;
  return list(*client, args, "/v1/apps", "apps", {"ID", "STATE", "GENERATION", "PEER", "VMS"},
              [](const json& app) -> std::vector<std::string> {
                return {field(app, "id"), field(app, "state"), field(app, "generation"),
                        field(app, "peerSite"), field(app, "vms")};
              });
}

int run_status(const RestArgs& args) {
  auto client = open_client(args, AgentRole::dr);
  if (!client) return kExitUsage;
  auto reply = client->get(app_path(args));
  if (!reply) return report(reply.error(), std::cerr);
  if (args.as_json) {
    std::cout << reply->body << '\n';
    return kExitOk;
  }
  const json& app = reply->json;
  std::ostream& out = std::cout;
  out << "app         " << field(app, "id");
  if (member(app, "name").is_string()) out << " (" << field(app, "name") << ')';
  out << '\n';
  if (member(app, "role").is_string()) out << "role        " << field(app, "role") << '\n';
  out << "state       " << field(app, "state") << '\n'
      << "generation  " << field(app, "generation") << '\n';
  if (const json& peer = member(app, "peer"); peer.is_object()) {
    const json& reachable = member(peer, "reachable");
    out << "peer        " << field(peer, "site") << ": "
        << (reachable.is_boolean() ? (reachable.get<bool>() ? "reachable" : "UNREACHABLE")
                                   : "reachability unknown")
        << ", last contact " << field(peer, "lastContactAt") << '\n';
  } else if (member(app, "peerSite").is_string()) {
    out << "peer        " << field(app, "peerSite") << '\n';
  }
  out << "updated     " << field(app, "updatedAt") << '\n';
  if (const json& check = member(app, "drCheck"); check.is_object()) {  // production agent
    const json& confirmed = member(check, "confirmed");
    const json& there = member(check, "drState");
    out << "dr check    "
        << (confirmed.is_boolean() && confirmed.get<bool>() ? "confirmed" : "NOT CONFIRMED");
    if (there.is_string()) out << " (" << there.get<std::string>() << " there)";
    if (const json& at = member(check, "checkedAt"); at.is_string()) {
      out << ", checked " << at.get<std::string>();
    }
    if (const json& detail = member(check, "detail"); detail.is_string() &&
                                                      !detail.get<std::string>().empty()) {
      out << ": " << detail.get<std::string>();
    }
    out << '\n';
  }
  if (const std::string e = error_text({{"error", member(app, "lastError")}}); !e.empty()) {
    out << "last error  " << e << '\n';
  }
  if (const json& drill = member(app, "drill"); drill.is_object()) {  // DR agent
    out << "drill       in place: job " << field(drill, "job") << " (" << field(drill, "state")
        << ") on " << field(drill, "network") << '\n';
    for (const json& vm : array_of(drill, "domains")) {
      out << "            " << field(vm, "name") << "  " << field(vm, "state") << '\n';
    }
  }

  std::vector<std::vector<std::string>> images;
  for (const json& image : array_of(app, "images")) {
    const json& lag = member(image, "lagSeconds");
    images.push_back({field(image, "source"), field(image, "target"), field(image, "mode"),
                      field(image, "status"), lag.is_number() ? lag.dump() + " s" : "-",
                      field(image, "lastSyncAt"), field(image, "lastSnapshotAt")});
  }
  out << '\n';
  if (images.empty()) {
    out << "no images\n";
  } else {
    print_table(out, {"IMAGE", "TARGET", "MODE", "STATUS", "LAG", "LAST SYNC", "LAST SNAPSHOT"},
                images);
  }

  std::vector<std::vector<std::string>> jobs;
  for (const json& job : array_of(app, "jobs")) {
    jobs.push_back({field(job, "id"), field(job, "type"), field(job, "state"),
                    field(job, "currentStep"), field(job, "updatedAt")});
  }
  out << '\n';
  if (jobs.empty()) {
    out << "no recent jobs\n";
  } else {
    print_table(out, {"JOB", "TYPE", "STATE", "STEP", "UPDATED"}, jobs);
  }
  return kExitOk;
}

int run_protect(const RestArgs& args) {
  auto client = open_client(args, AgentRole::production);
  if (!client) return kExitUsage;
  auto reply = client->call(Method::post, app_path(args, "/protection"), json{{"mode", args.mode}});
  if (!reply) return report(reply.error(), std::cerr);
  return job_started(*client, args, *reply);
}

int run_unprotect(const RestArgs& args) {
  auto client = open_client(args, AgentRole::production);
  if (!client) return kExitUsage;
  auto reply = client->call(Method::delete_, app_path(args, "/protection"));
  if (!reply) return report(reply.error(), std::cerr);
  return job_started(*client, args, *reply);
}

int run_snapshot(const RestArgs& args) {
  auto client = open_client(args, AgentRole::production);
  if (!client) return kExitUsage;
  auto reply = client->call(Method::post, app_path(args, "/snapshots"));
  if (!reply) return report(reply.error(), std::cerr);
  if (args.as_json) {
    std::cout << reply->body << '\n';
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const json& snap : array_of(reply->json, "snapshots")) {
    rows.push_back({field(snap, "image"), field(snap, "snapId"), field(snap, "takenAt")});
  }
  print_table(std::cout, {"IMAGE", "SNAP", "TAKEN"}, rows);
  return kExitOk;
}

int run_failover(const RestArgs& args) {
  auto client = open_client(args, AgentRole::dr);
  if (!client) return kExitUsage;
  json body{{"type", args.type}, {"force", args.force}};
  if (!args.reason.empty()) body["reason"] = args.reason;
  if (!args.idempotency_key.empty()) body["idempotencyKey"] = args.idempotency_key;
  auto reply = client->call(Method::post, app_path(args, "/failover"), body);
  if (!reply) return report(reply.error(), std::cerr);
  return job_started(*client, args, *reply);
}

// Reprotect and failback: the DR agent's jobs of coming home (an optional reason for the record).
// `tail`: "/reprotect" or "/failback".
int run_lifecycle(const RestArgs& args, const char* tail) {
  auto client = open_client(args, AgentRole::dr);
  if (!client) return kExitUsage;
  std::optional<json> body;
  if (!args.reason.empty()) body = json{{"reason", args.reason}};
  auto reply = client->call(Method::post, app_path(args, tail), body);
  if (!reply) return report(reply.error(), std::cerr);
  return job_started(*client, args, *reply);
}
int run_reprotect(const RestArgs& args) { return run_lifecycle(args, "/reprotect"); }
int run_failback(const RestArgs& args) { return run_lifecycle(args, "/failback"); }

// A drill's report (workflow/drill.hpp), from its job's report step, in a few lines.
void print_drill_report(AgentClient& client, std::int64_t id) {
  auto reply = client.get("/v1/jobs/" + std::to_string(id));
  if (!reply) return;
  for (const json& step : array_of(reply->json, "steps")) {
    if (field(step, "name") != "report") continue;
    const json& r = member(step, "detail");
    const json& point = member(r, "recoveryPoint");
    const json& phases = member(r, "phases");
    const auto secs = [](const json& ms) {
      if (!ms.is_number()) return std::string("-");
      char text[32];
      std::snprintf(text, sizeof text, "%.1f s", ms.get<double>() / 1000.0);
      return std::string(text);
    };
    std::cout << "recovery point   " << field(point, "at") << " (RPO " << field(point, "rpoSeconds")
              << " s)\n"
              << "all VMs running  " << secs(member(r, "toAllRunningMs")) << " after the request"
              << " (copies " << secs(member(phases, "copyMs")) << ", restore "
              << secs(member(phases, "restoreMs")) << ")\n"
              << "drill network    " << field(r, "network") << '\n';
    for (const json& vm : array_of(member(r, "restore"), "vms")) {
      std::cout << "  " << field(vm, "name") << "  " << field(vm, "state") << '\n';
    }
    std::cout << "clean it up with: drpair drill " << field(r, "app") << " --cleanup --wait\n";
  }
}

int run_drill(const RestArgs& args) {
  auto client = open_client(args, AgentRole::dr);
  if (!client) return kExitUsage;
  std::optional<json> body;
  if (!args.reason.empty()) body = json{{"reason", args.reason}};
  auto reply =
      client->call(Method::post, app_path(args, args.cleanup ? "/drill/cleanup" : "/drill"), body);
  if (!reply) return report(reply.error(), std::cerr);
  const int rc = job_started(*client, args, *reply);
  if (rc == kExitOk && args.wait && !args.cleanup && !args.as_json) {
    if (const auto id = job_id(*reply, *client)) print_drill_report(*client, *id);
  }
  return rc;
}

int show_job(AgentClient& client, std::int64_t id, bool as_json) {
  auto reply = client.get("/v1/jobs/" + std::to_string(id));
  if (!reply) return report(reply.error(), std::cerr);
  if (as_json) {
    std::cout << reply->body << '\n';
    return kExitOk;
  }
  const json& job = reply->json;
  std::ostream& out = std::cout;
  out << "job       " << field(job, "id") << ": " << field(job, "type") << " of "
      << field(job, "app") << '\n'
      << "state     " << field(job, "state") << '\n'
      << "step      " << field(job, "currentStep") << '\n'
      << "created   " << field(job, "createdAt") << '\n'
      << "updated   " << field(job, "updatedAt") << '\n';
  if (const std::string e = error_text(job); !e.empty()) out << "error     " << e << '\n';
  std::vector<std::vector<std::string>> rows;
  for (const json& step : array_of(job, "steps")) {
    const json& ms = member(step, "durationMs");
    rows.push_back(
        {field(step, "seq"), field(step, "name"), field(step, "state"), field(step, "attempts"),
         ms.is_number() ? seconds_text(ms.get<double>() / 1000.0) : "-", error_text(step)});
  }
  if (!rows.empty()) {
    out << '\n';
    print_table(out, {"SEQ", "STEP", "STATE", "ATTEMPTS", "DURATION", "ERROR"}, rows);
  }
  return kExitOk;
}

int run_jobs(const RestArgs& args) {
  std::int64_t id = 0;
  if (!args.job.empty()) {
    const auto [end, ec] = std::from_chars(args.job.data(), args.job.data() + args.job.size(), id);
    if (ec != std::errc{} || end != args.job.data() + args.job.size() || id <= 0) {
      std::cerr << "drpair: job id '" << args.job << "' is not a positive number\n";
      return kExitUsage;
    }
    if (!args.app_of.empty()) {
      std::cerr << "drpair: --app lists jobs; it does not go with a job id\n";
      return kExitUsage;
    }
  } else if (args.follow) {
    std::cerr << "drpair: --follow needs a job id (drpair jobs ID --follow)\n";
    return kExitUsage;
  }
  auto client = open_client(args, AgentRole::dr);
  if (!client) return kExitUsage;
  if (id != 0)
    return args.follow ? follow(*client, id, args.as_json) : show_job(*client, id, args.as_json);

  std::string path = "/v1/jobs";
  if (!args.app_of.empty()) path += "?app=" + percent_encode(args.app_of);
  return list(*client, args, path, "jobs", {"ID", "APP", "TYPE", "STATE", "STEP", "UPDATED"},
              [](const json& job) -> std::vector<std::string> {
                return {field(job, "id"),    field(job, "app"),         field(job, "type"),
                        field(job, "state"), field(job, "currentStep"), field(job, "updatedAt")};
              });
}

int run_audit(const RestArgs& args) {
  auto client = open_client(args, AgentRole::dr);
  if (!client) return kExitUsage;
  return list(*client, args, "/v1/audit?limit=" + std::to_string(args.limit), "entries",
              {"AT", "WHO", "REQUEST", "STATUS", "JOB", "MESSAGE"},
              [](const json& e) -> std::vector<std::string> {
                const json& caller = member(e, "caller");
                return {field(e, "at"), field(caller, "kind") + ":" + field(caller, "name"),
                        field(e, "method") + " " + field(e, "path"), field(e, "status"),
                        field(e, "job"), field(e, "message")};
              });
}

void add_connection_options(CLI::App* cmd, AgentConnection& c) {
  cmd->add_option("--url", c.url, "Agent URL, https://HOST:PORT (env DRPAIR_URL)");
  cmd->add_option("--cacert", c.cacert, "CA the agent's certificate must chain to (DRPAIR_CACERT)");
  cmd->add_option("--cert", c.cert, "Client certificate for mutual TLS (DRPAIR_CERT)");
  cmd->add_option("--key", c.key, "Client certificate's private key (DRPAIR_KEY)");
  cmd->add_option("--token", c.token, "Bearer token sent as Authorization (DRPAIR_TOKEN)");
}

}  // namespace

void add_rest_commands(CLI::App& root, Action& action) {
  auto add = [&](const char* name, const char* help, int (*run)(const RestArgs&)) {
    auto args = std::make_shared<RestArgs>();
    CLI::App* cmd = root.add_subcommand(name, help);
    add_connection_options(cmd, args->connection);
    cmd->callback([&action, args, run] { action = [args, run] { return run(*args); }; });
    return std::make_pair(cmd, args);
  };
  auto add_app = [](CLI::App* cmd, RestArgs& args) {
    cmd->add_option("APP", args.app, "App id")->required();
  };
  const char* kJson = "Print the agent's JSON answer as it is";
  const char* kWait = "Show the job's progress until it ends; exit 1 if it fails";

  auto [apps, a] =
      add("apps", "List the agent's apps (default: the DR agent, DRPAIR_DR_URL)", run_apps);
  apps->add_flag("--json", a->as_json, kJson);

  auto [status, s] =
      add("status", "An app's state, peer, per-image replication lag and recent jobs", run_status);
  add_app(status, *s);
  status->add_flag("--json", s->as_json, kJson);

  auto [protect, p] = add(
      "protect", "Protect an app from the production agent (DRPAIR_PRODUCTION_URL)", run_protect);
  add_app(protect, *p);
  protect
      ->add_option("--mode", p->mode,
                   "first: the DR agent derives the SecondDescription; "
                   "second: production sends its own")
      ->required()
      ->check(CLI::IsMember({"first", "second"}));
  protect->add_flag("--wait", p->wait, kWait);
  protect->add_flag("--json", p->as_json, kJson);

  auto [unprotect, u] =
      add("unprotect", "Stop protecting an app (production agent)", run_unprotect);
  add_app(unprotect, *u);
  unprotect->add_flag("--wait", u->wait, kWait);
  unprotect->add_flag("--json", u->as_json, kJson);

  auto [snapshot, sn] = add(
      "snapshot", "Take a mirror snapshot of every image of an app now (production)", run_snapshot);
  add_app(snapshot, *sn);
  snapshot->add_flag("--json", sn->as_json, kJson);

  auto [failover, f] = add("failover", "Fail an app over to the DR site (DR agent)", run_failover);
  add_app(failover, *f);
  failover->add_option("--type", f->type, "planned (production demotes first) or disaster")
      ->required()
      ->check(CLI::IsMember({"planned", "disaster"}));
  failover->add_flag("--force", f->force, "Go ahead despite failed preconditions");
  failover->add_option("--reason", f->reason, "Why, for the record");
  failover->add_option("--idempotency-key", f->idempotency_key,
                       "Retrying with the same key returns the same job instead of a new one");
  failover->add_flag("--wait", f->wait, kWait);
  failover->add_flag("--json", f->as_json, kJson);

  // The coming-home jobs: an app, an optional reason, waiting and JSON as for a failover.
  auto lifecycle = [&](const char* name, const char* help, int (*run)(const RestArgs&)) {
    auto [cmd, args] = add(name, help, run);
    add_app(cmd, *args);
    cmd->add_option("--reason", args->reason, "Why, for the record");
    cmd->add_flag("--wait", args->wait, kWait);
    cmd->add_flag("--json", args->as_json, kJson);
  };
  lifecycle("reprotect",
            "After a failover, with the production site back: protect the app from the DR site "
            "back to it (DR agent; a diverged copy there is resynced, its later writes discarded)",
            run_reprotect);
  lifecycle("failback",
            "Bring a reprotected app home with no data lost: a planned failover back to the "
            "production site (DR agent)",
            run_failback);

  auto [drill, d] = add("drill",
                        "Test an app's failover without touching production: its VMs from copies "
                        "of the replicas, on the DR site's isolated drill switch (DR agent)",
                        run_drill);
  add_app(drill, *d);
  drill->add_flag("--cleanup", d->cleanup,
                  "Remove the drill: its VMs, its copies, the drill switch it created");
  drill->add_option("--reason", d->reason, "Why, for the record");
  drill->add_flag("--wait", d->wait, kWait);
  drill->add_flag("--json", d->as_json, kJson);

  auto [jobs, j] =
      add("jobs", "List jobs (DR agent by default), or show or follow one job", run_jobs);
  jobs->add_option("ID", j->job, "Job id: show this job");
  jobs->add_option("--app", j->app_of, "List only this app's jobs");
  jobs->add_flag("--follow", j->follow,
                 "Show the job's progress until it ends; exit 1 if it fails");
  jobs->add_flag("--json", j->as_json, kJson);

  auto [audit, au] = add("audit",
                         "Who asked for what: requests that changed something or were refused, "
                         "newest first (DR agent by default)",
                         run_audit);
  audit->add_option("--limit", au->limit, "How many records (1-1000)")
      ->check(CLI::Range(1, 1000));
  audit->add_flag("--json", au->as_json, kJson);
}

}  // namespace dr::cli
