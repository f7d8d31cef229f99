#pragma once
// StrictReader: the small toolkit behind the strict readers of the config files (virt::SiteConfig,
// config::AgentConfig). Each call checks one JSON value against what the file allows and, when it
// is wrong, records a Problem with the JSON Pointer of the value at fault and carries on, so the
// caller reports every problem at once. A wrong value reads as nullopt / nullptr / false: the
// caller keeps its default and goes on reading.
//
// Messages (stable; tests and operators match on them):
//   "expected an object"                      object() on a non-object
//   "unknown key 'K'"                         at PTR/K, for a key not in `known`
//   "missing required field 'K'"              at PTR (the object that lacks it)
//   "expected a non-empty string"             string()
//   "expected an integer"                     integer()
//   "must be between MIN and MAX"             integer() out of range
//   "expected true or false"                  boolean()
//   "expected an array"                       array()
//
// The wire-document readers (model/json_io.cpp) have their own richer reader, which also names
// the type found; this one serves the operator-written config files.
//
// Thread-safety: one reader per document, used by one thread.

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "model/problem.hpp"

namespace dr::model {

class StrictReader {
 public:
  using Keys = std::initializer_list<const char*>;

  Problems problems;

  void add(std::string pointer, std::string message);
  bool ok() const noexcept { return problems.empty(); }

  // False (and a problem at `ptr`) unless `v` is an object; every key not in `known` is a problem.
  bool object(const nlohmann::json& v, const std::string& ptr, Keys known);

  // obj[key] when present (nullptr otherwise; a problem if `required`). No type check.
  const nlohmann::json* member(const nlohmann::json& obj, const std::string& ptr, const char* key,
                               bool required);

  // A non-empty string.
  std::optional<std::string> string(const nlohmann::json& obj, const std::string& ptr,
                                    const char* key, bool required);

  // An integer in [min, max].
  std::optional<std::int64_t> integer(const nlohmann::json& obj, const std::string& ptr,
                                      const char* key, std::int64_t min, std::int64_t max,
                                      bool required);

  std::optional<bool> boolean(const nlohmann::json& obj, const std::string& ptr, const char* key,
                              bool required = false);

  // The array at obj[key] when present and an array.
  const nlohmann::json* array(const nlohmann::json& obj, const std::string& ptr, const char* key,
                              bool required = false);
};

}  // namespace dr::model
