#pragma once
// `drpair map generate|validate|diff`: the offline mapping tools (README, "The CLI").

#include "command.hpp"

namespace dr::cli {

void add_map_commands(CLI::App& root, Action& action);

}  // namespace dr::cli
