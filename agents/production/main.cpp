// drpair-production-agent --config FILE: the production site's agent (production_agent.hpp).
#include "production_agent.hpp"
#include "service/run_agent.hpp"

int main(int argc, char** argv) {
  return dr::service::run_agent(argc, argv, dr::config::AgentRole::production,
                                dr::production::make_production_agent);
}
