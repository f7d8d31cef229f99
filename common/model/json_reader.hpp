#pragma once
// The one strict JSON reader of the project: every JSON text drpair receives (the drpair/v1
// documents, the agents' config files, webhook payloads, REST request and peer answer bodies)
// is parsed by parse_json() and read with a JsonReader.
//
// parse_json() is safe on hostile bytes: it refuses, with one problem at the pointer "", a text
// nested deeper than kMaxJsonDepth (checked by a scan before nlohmann builds anything, so no
// recursion a body can drive deep), a NUL byte (nlohmann's lexer would stop there and accept
// whatever came before), malformed JSON and trailing bytes after the document (with line and
// column), and numbers too large for a double (1e400). It never throws.
//
// A JsonReader checks one parsed value against what its reader allows. Each call checks one
// member; when it is wrong it records a Problem with the JSON Pointer of the value at fault and
// reading goes on, so the caller reports every problem at once. A wrong value reads as nullopt
// (or the type's empty value for the required-field shorthands): the caller keeps its default.
//
// Messages (stable; tests and operators match on them):
//   "expected an object, found an array"     object(); every type is named by json_type_name()
//   "unknown key 'K'"                        at PTR/K, when unknown keys are rejected
//   "missing required field 'K'"             at PTR (the object that lacks it)
//   "expected a string, found null"          opt_string()/string()
//   "must not be empty"                      an empty string where one is not allowed
//   "expected an integer, found a string"    opt_integer()/integer(); 2.0 counts as 2
//   "must be between MIN and MAX, found N"   (or "at least MIN" when MAX is unbounded)
//   "expected a boolean, found a string"     opt_boolean()
//   "expected an array, found an object"     array()/array_member()
//   "must be 'a' or 'b', found 'c'"          enumeration()
//
// Thread-safety: parse_json() is a pure function; one JsonReader per document, used by one
// thread.

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "model/problem.hpp"

namespace dr::model {

// drpair's documents nest about 8 levels; REST bodies fewer. 64 leaves room for extensions.
inline constexpr int kMaxJsonDepth = 64;

// Text as JSON, within the limits above; a refusal is one problem at "" ("malformed JSON: ...").
Parsed<nlohmann::json> parse_json(std::string_view text);

// What a JSON value is, for messages: "an integer", "a number", "a string", "a boolean", "null",
// "an array", "an object".
const char* json_type_name(const nlohmann::json& value);

class JsonReader {
 public:
  using Keys = std::initializer_list<const char*>;
  enum class UnknownKeys { accept, reject };

  // The largest value integer() accepts when a field has no natural maximum.
  static constexpr std::int64_t kMaxBig = std::numeric_limits<std::int64_t>::max() / 2;
  static constexpr std::int64_t kMaxInt = std::numeric_limits<std::int32_t>::max();

  explicit JsonReader(UnknownKeys unknown_keys = UnknownKeys::reject)
      : reject_unknown_keys_(unknown_keys == UnknownKeys::reject) {}

  Problems problems;

  void add(std::string pointer, std::string message);
  bool ok() const noexcept { return problems.empty(); }

  // parse_json(text) when it is an object; nullopt (and its problems) otherwise.
  std::optional<nlohmann::json> object_document(std::string_view text);

  // False (and a problem at `ptr`) unless `value` is an object; every key not in `known` is a
  // problem when unknown keys are rejected.
  bool object(const nlohmann::json& value, const std::string& ptr, Keys known);

  // obj[key] when present (nullptr otherwise; a problem if `required`). No type check.
  const nlohmann::json* member(const nlohmann::json& obj, const std::string& ptr, const char* key,
                               bool required);

  std::optional<std::string> opt_string(const nlohmann::json& obj, const std::string& ptr,
                                        const char* key, bool required = false,
                                        bool allow_empty = false);
  // A required non-empty string; "" when wrong.
  std::string string(const nlohmann::json& obj, const std::string& ptr, const char* key) {
    return opt_string(obj, ptr, key, true).value_or("");
  }

  // An integer in [min, max]; integers written as floats count when below 1e15.
  std::optional<std::int64_t> opt_integer(const nlohmann::json& obj, const std::string& ptr,
                                          const char* key, std::int64_t min, std::int64_t max,
                                          bool required = false);
  std::int64_t integer(const nlohmann::json& obj, const std::string& ptr, const char* key,
                       std::int64_t min, std::int64_t max) {
    return opt_integer(obj, ptr, key, min, max, true).value_or(0);
  }

  std::optional<bool> opt_boolean(const nlohmann::json& obj, const std::string& ptr,
                                  const char* key, bool required = false);

  // The array at obj[key] when present and an array.
  const nlohmann::json* array_member(const nlohmann::json& obj, const std::string& ptr,
                                     const char* key, bool required = false);

  // Reads the array `key` of `obj` item by item with `read_item(item, item_pointer)`.
  template <class F>
  auto array(const nlohmann::json& obj, const std::string& ptr, const char* key, bool required,
             F read_item) -> std::vector<decltype(read_item(obj, ptr))> {
    std::vector<decltype(read_item(obj, ptr))> out;
    const nlohmann::json* value = array_member(obj, ptr, key, required);
    if (value == nullptr) return out;
    const std::string at = pointer_append(ptr, key);
    out.reserve(value->size());
    for (std::size_t i = 0; i < value->size(); ++i) {
      out.push_back(read_item((*value)[i], pointer_append(at, i)));
    }
    return out;
  }

  // One of `values` by name; `fallback` when absent or wrong.
  template <class Enum>
  Enum enumeration(const nlohmann::json& obj, const std::string& ptr, const char* key,
                   std::initializer_list<std::pair<const char*, Enum>> values, Enum fallback,
                   bool required = false) {
    auto text = opt_string(obj, ptr, key, required);
    if (!text) return fallback;
    std::string allowed;
    for (const auto& [name, value] : values) {
      if (*text == name) return value;
      allowed += (allowed.empty() ? "'" : " or '") + std::string(name) + "'";
    }
    add(pointer_append(ptr, key), "must be " + allowed + ", found '" + *text + "'");
    return fallback;
  }

 private:
  bool reject_unknown_keys_;
};

}  // namespace dr::model
