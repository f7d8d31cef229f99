// drpair: the operator CLI. Parses arguments and runs the chosen command (agents/cli/*.cpp).
#include <exception>
#include <iostream>

#include "command.hpp"
#include "map_commands.hpp"
#include "rest_commands.hpp"
#include "site_commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"drpair: application-level disaster recovery for libvirt + Ceph RBD", "drpair"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "drpair 0.1.0");
  dr::cli::Action action;
  dr::cli::add_map_commands(app, action);
  dr::cli::add_site_commands(app, action);
  dr::cli::add_rest_commands(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, version or the usage error
    return code == 0 ? dr::cli::kExitOk : dr::cli::kExitUsage;
  }
  try {
    return action ? action() : dr::cli::kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "drpair: internal error: " << e.what() << '\n';
    return 3;
  }
}
