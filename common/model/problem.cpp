#include "model/problem.hpp"

namespace dr::model {

std::string format(const Problem& problem) {
  return (problem.pointer.empty() ? std::string("(document)") : problem.pointer) + ": " +
         problem.message;
}

std::string pointer_append(std::string pointer, std::string_view token) {
  pointer += '/';
  for (const char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
  return pointer;
}

std::string pointer_append(std::string pointer, std::size_t index) {
  return pointer_append(std::move(pointer), std::to_string(index));
}

}  // namespace dr::model
