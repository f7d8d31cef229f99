#include "model/json_reader.hpp"

#include <cmath>

namespace dr::model {
namespace {

using json = nlohmann::json;

// The hostile shapes nlohmann does not refuse by itself, found by one pass over the bytes:
// nesting deeper than kMaxJsonDepth, and a NUL byte (its lexer takes NUL for the end of input).
// Brackets inside strings do not count; a string's escapes are skipped. Malformed text is left
// to the parser, which names line and column.
std::optional<std::string> hostile_shape(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\0') return "NUL byte at offset " + std::to_string(i);
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is, cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        return "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels at offset " +
               std::to_string(i);
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::nullopt;
}

}  // namespace

Parsed<json> parse_json(std::string_view text) {
  if (auto why = hostile_shape(text)) return Problems{{"", "malformed JSON: " + *why}};
  try {
    return Parsed<json>(boost::system::in_place_value, json::parse(text));
  } catch (const json::exception& e) {
    // parse_error says "parse error at line L, column C: ..."; out_of_range (a number too large
    // for a double, 1e400) names the number. Drop nlohmann's "[json.exception...] " prefix.
    std::string what = e.what();
    if (const auto pos = what.find("] "); pos != std::string::npos) what.erase(0, pos + 2);
    return Problems{{"", "malformed JSON: " + what}};
  }
}

const char* json_type_name(const json& value) {
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_null()) return "null";
  if (value.is_array()) return "an array";
  return "an object";
}

void JsonReader::add(std::string pointer, std::string message) {
  problems.push_back({std::move(pointer), std::move(message)});
}

std::optional<json> JsonReader::object_document(std::string_view text) {
  auto doc = parse_json(text);
  if (!doc) {
    const Problems found = doc.error();  // error() is a copy: take it once
    problems.insert(problems.end(), found.begin(), found.end());
    return std::nullopt;
  }
  if (!doc->is_object()) {
    add("", std::string("expected an object, found ") + json_type_name(*doc));
    return std::nullopt;
  }
  return std::move(*doc);
}

bool JsonReader::object(const json& value, const std::string& ptr, Keys known) {
  if (!value.is_object()) {
    add(ptr, std::string("expected an object, found ") + json_type_name(value));
    return false;
  }
  if (reject_unknown_keys_) {
    for (const auto& item : value.items()) {
      bool found = false;
      for (const char* key : known) found = found || item.key() == key;
      if (!found) add(pointer_append(ptr, item.key()), "unknown key '" + item.key() + "'");
    }
  }
  return true;
}

const json* JsonReader::member(const json& obj, const std::string& ptr, const char* key,
                               bool required) {
  const auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) add(ptr, std::string("missing required field '") + key + "'");
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> JsonReader::opt_string(const json& obj, const std::string& ptr,
                                                  const char* key, bool required,
                                                  bool allow_empty) {
  const json* value = member(obj, ptr, key, required);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    add(pointer_append(ptr, key), std::string("expected a string, found ") + json_type_name(*value));
    return std::nullopt;
  }
  auto text = value->get<std::string>();
  if (text.empty() && !allow_empty) {
    add(pointer_append(ptr, key), "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<std::int64_t> JsonReader::opt_integer(const json& obj, const std::string& ptr,
                                                    const char* key, std::int64_t min,
                                                    std::int64_t max, bool required) {
  const json* value = member(obj, ptr, key, required);
  if (value == nullptr) return std::nullopt;
  const std::string at = pointer_append(ptr, key);
  std::optional<std::int64_t> number;
  if (value->is_number_unsigned()) {
    const auto u = value->get<std::uint64_t>();
    // Saturate just above every field's maximum, so the range check below rejects it.
    number = u > static_cast<std::uint64_t>(kMaxBig) ? kMaxBig + 1 : static_cast<std::int64_t>(u);
  } else if (value->is_number_integer()) {
    number = value->get<std::int64_t>();
  } else if (value->is_number_float()) {
    // Integers as JSON Schema counts them: a number with no fractional part (2.0 is 2).
    const double d = value->get<double>();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 1e15) {
      number = static_cast<std::int64_t>(d);
    }
  }
  if (!number) {
    add(at, std::string("expected an integer, found ") + json_type_name(*value));
    return std::nullopt;
  }
  if (*number < min || *number > max) {
    add(at, "must be " +
                (max == kMaxBig || max == kMaxInt
                     ? "at least " + std::to_string(min)
                     : "between " + std::to_string(min) + " and " + std::to_string(max)) +
                ", found " + (*number > kMaxBig ? value->dump() : std::to_string(*number)));
    return std::nullopt;
  }
  return number;
}

std::optional<bool> JsonReader::opt_boolean(const json& obj, const std::string& ptr,
                                            const char* key, bool required) {
  const json* value = member(obj, ptr, key, required);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) {
    add(pointer_append(ptr, key),
        std::string("expected a boolean, found ") + json_type_name(*value));
    return std::nullopt;
  }
  return value->get<bool>();
}

const json* JsonReader::array_member(const json& obj, const std::string& ptr, const char* key,
                                     bool required) {
  const json* value = member(obj, ptr, key, required);
  if (value == nullptr) return nullptr;
  if (!value->is_array()) {
    add(pointer_append(ptr, key), std::string("expected an array, found ") + json_type_name(*value));
    return nullptr;
  }
  return value;
}

}  // namespace dr::model
