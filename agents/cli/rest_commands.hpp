#pragma once
// `drpair apps|status|protect|unprotect|snapshot|failover|reprotect|failback|drill|jobs|audit`: the
// agents' operator API (schemas/openapi.yaml) from the command line, over HTTPS with mutual TLS.
//
//   drpair apps [--json]                                  GET  /v1/apps
//   drpair status APP [--json]                            GET  /v1/apps/{app}
//   drpair protect APP --mode first|second [--wait]       POST /v1/apps/{app}/protection
//   drpair unprotect APP [--wait]                         DELETE /v1/apps/{app}/protection
//   drpair snapshot APP [--json]                          POST /v1/apps/{app}/snapshots
//   drpair failover APP --type planned|disaster [--force] [--reason TEXT]
//                       [--idempotency-key KEY] [--wait]  POST /v1/apps/{app}/failover
//   drpair reprotect|failback APP [--reason TEXT] [--wait] POST /v1/apps/{app}/reprotect|failback
//   drpair drill APP [--reason TEXT] [--wait]             POST /v1/apps/{app}/drill
//   drpair drill APP --cleanup [--wait]                   POST /v1/apps/{app}/drill/cleanup
//   drpair jobs [--app APP] [--json]                      GET  /v1/jobs?app=APP
//   drpair jobs ID [--follow] [--json]                    GET  /v1/jobs/{id}
//
// Every command takes --url, --cacert, --cert, --key and --token, defaulting from the
// environment (agent_client.hpp); protect, unprotect and snapshot talk to the production agent
// by default, the others to the DR agent. --wait and --follow show the job live (job_progress.hpp).
//
// Exit codes (command.hpp): 0 done (with --wait: the job succeeded); 1 the agent said no, could
// not be reached, or the job failed or was cancelled; 2 usage errors (no URL, unreadable TLS
// files, bad arguments).

#include "command.hpp"

namespace dr::cli {

void add_rest_commands(CLI::App& root, Action& action);

}  // namespace dr::cli
