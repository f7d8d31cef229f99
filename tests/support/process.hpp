#pragma once
// Runs a program to completion and captures its exit code, stdout and stderr: for tests of the
// CLI and of the agents as real processes.

#include <string>
#include <vector>

namespace dr::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal number when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with `argv`, with `input` on its standard input.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = {});

}  // namespace dr::testing
