// drpair-dr-agent --config FILE: the DR site's agent (dr_agent.hpp).
#include "dr_agent.hpp"
#include "service/run_agent.hpp"

int main(int argc, char** argv) {
  return dr::service::run_agent(argc, argv, dr::config::AgentRole::dr, dr::drsite::make_dr_agent);
}
