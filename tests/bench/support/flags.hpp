#pragma once
// The command line of a benchmark: "--name value" pairs, each bound to a variable, or to a
// function for a flag that may be given more than once. An unknown flag, a flag without a value
// or a value that is not a number where one is needed prints the usage and exits with 2.

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <variant>

namespace dr::bench {

struct Flag {
  const char* name;  // "--seconds"
  std::variant<int*, double*, std::string*, std::function<void(const std::string&)>> target;
};

inline void read_flags(int argc, char** argv, std::initializer_list<Flag> flags) {
  const auto usage = [&] {
    std::string text = std::string("usage: ") + argv[0];
    for (const auto& f : flags) text += std::string(" [") + f.name + " VALUE]";
    std::fprintf(stderr, "%s\n", text.c_str());
    std::exit(2);
  };
  if (argc % 2 == 0) usage();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i], value = argv[i + 1];
    const Flag* flag = nullptr;
    for (const auto& f : flags) flag = name == f.name ? &f : flag;
    if (flag == nullptr) usage();
    try {
      std::visit(
          [&](const auto& target) {
            using T = std::decay_t<decltype(target)>;
            if constexpr (std::is_same_v<T, int*>) *target = std::stoi(value);
            else if constexpr (std::is_same_v<T, double*>) *target = std::stod(value);
            else if constexpr (std::is_same_v<T, std::string*>) *target = value;
            else target(value);
          },
          flag->target);
    } catch (const std::exception&) {
      usage();
    }
  }
}

}  // namespace dr::bench
