#pragma once
// How `drpair` subcommand groups plug into the CLI. Each group registers its subcommands on the
// root app and, in the chosen subcommand's callback, stores the action to run in `action`; main()
// runs it after parsing and exits with what it returns.
//
// Exit codes (fixed: scripts and outside checks rely on them):
//   0  success;
//   1  the input is well-formed but the answer is "no": cannot be mapped, not valid, the restore
//      failed, descriptions differ;
//   2  usage errors, unreadable files, malformed documents.

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "model/problem.hpp"

namespace dr::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitNo = 1;
inline constexpr int kExitUsage = 2;

using Action = std::function<int()>;

// Reads a whole file; "-" reads standard input. The error names the file.
Result<std::string> read_input(const std::string& path);

// Writes `text` to `path` atomically (a temporary file renamed over it); "-" writes to stdout.
Status write_output(const std::string& path, std::string_view text);

// Reads `path` and parses it with `parse`; on failure prints "PATH: POINTER: message" lines to
// `err` and returns nullopt (the caller exits 2).
template <class T>
std::optional<T> load_document(const std::string& path,
                               Result<T, model::Problems> (*parse)(std::string_view),
                               std::ostream& err);

void print_problems(const model::Problems& problems, std::ostream& out,
                    const std::string& prefix = {});

}  // namespace dr::cli
