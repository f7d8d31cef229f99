#include "model/strict_reader.hpp"

#include <limits>
#include <nlohmann/json.hpp>

namespace dr::model {

using json = nlohmann::json;

void StrictReader::add(std::string pointer, std::string message) {
  problems.push_back({std::move(pointer), std::move(message)});
}

bool StrictReader::object(const json& v, const std::string& ptr, Keys known) {
  if (!v.is_object()) {
    add(ptr, "expected an object");
    return false;
  }
  for (const auto& item : v.items()) {
    bool found = false;
    for (const char* k : known) found = found || item.key() == k;
    if (!found) add(pointer_append(ptr, item.key()), "unknown key '" + item.key() + "'");
  }
  return true;
}

const json* StrictReader::member(const json& obj, const std::string& ptr, const char* key,
                                 bool required) {
  const auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) add(ptr, std::string("missing required field '") + key + "'");
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> StrictReader::string(const json& obj, const std::string& ptr,
                                                const char* key, bool required) {
  const json* v = member(obj, ptr, key, required);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string() || v->get_ref<const std::string&>().empty()) {
    add(pointer_append(ptr, key), "expected a non-empty string");
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<std::int64_t> StrictReader::integer(const json& obj, const std::string& ptr,
                                                  const char* key, std::int64_t min,
                                                  std::int64_t max, bool required) {
  const json* v = member(obj, ptr, key, required);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number_integer()) {
    add(pointer_append(ptr, key), "expected an integer");
    return std::nullopt;
  }
  // An unsigned value above int64's range would wrap in get<int64_t>().
  const bool too_big = v->is_number_unsigned() &&
                       v->get<std::uint64_t>() >
                           static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  const auto n = too_big ? std::numeric_limits<std::int64_t>::max() : v->get<std::int64_t>();
  if (too_big || n < min || n > max) {
    add(pointer_append(ptr, key),
        "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> StrictReader::boolean(const json& obj, const std::string& ptr, const char* key,
                                          bool required) {
  const json* v = member(obj, ptr, key, required);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    add(pointer_append(ptr, key), "expected true or false");
    return std::nullopt;
  }
  return v->get<bool>();
}

const json* StrictReader::array(const json& obj, const std::string& ptr, const char* key,
                                bool required) {
  const json* v = member(obj, ptr, key, required);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) {
    add(pointer_append(ptr, key), "expected an array");
    return nullptr;
  }
  return v;
}

}  // namespace dr::model
