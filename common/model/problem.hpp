#pragma once
// A problem found in a document: where (RFC 6901 JSON Pointer into the document) and what.
// Readers and the validator return every problem they find, not just the first.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace dr::model {

struct Problem {
  std::string pointer;  // "/vms/3/nics/0/ip"; "" for the whole document
  std::string message;  // "not an IPv4 address: '10.0.0.300'"
  bool operator==(const Problem&) const = default;
};

using Problems = std::vector<Problem>;

// A value read from a document, or every problem found in it.
template <class T>
using Parsed = Result<T, Problems>;

// "POINTER: message", the CLI's one-line form; the empty pointer (the whole document) prints as
// "(document)".
std::string format(const Problem& problem);

// Appends a JSON Pointer reference token, escaping '~' and '/' (RFC 6901).
std::string pointer_append(std::string pointer, std::string_view token);
std::string pointer_append(std::string pointer, std::size_t index);

}  // namespace dr::model
