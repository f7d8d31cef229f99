#pragma once
// main() of both agents: the process's life around a Service (service/service.hpp). The real
// adapters are opened here and only here (SQLite, libvirt, librbd, the HTTPS peer clients and
// server), so an agent's library and its tests link none of them.
//
// Exit codes of the agent executables: 0 after a clean stop, 2 for a bad config (every problem
// printed with the key at fault), 1 when something the config names cannot be reached or used at
// start (the state file, libvirt, Ceph, the TLS files, the listen address).

#include <functional>
#include <memory>

#include "config/agent_config.hpp"
#include "service/service.hpp"

namespace dr::service {

// Parses `--config FILE`, loads it (expecting `role`), opens the Runtime, makes the Service and
// its router (make_router), starts the HTTPS server, resumes unfinished jobs, runs the service's
// loops, and stops cleanly on SIGTERM/SIGINT.
int run_agent(int argc, char** argv, config::AgentRole role,
              const std::function<std::unique_ptr<Service>(Runtime&)>& make_service);

}  // namespace dr::service
