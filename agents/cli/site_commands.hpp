#pragma once
// `drpair site capture|restore|teardown|inventory`: the libvirt side of one site, run by an
// operator or an outside check (README, "Capture and restore on libvirt").

#include "command.hpp"

namespace dr::cli {

void add_site_commands(CLI::App& root, Action& action);

}  // namespace dr::cli
