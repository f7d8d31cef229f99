#pragma once
// Inputs shared by the mapping tests: the fixture documents, read once per call, and small
// helpers to look for one problem in a report.

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "mapping/mapping.hpp"
#include "model/json_io.hpp"

namespace dr::mapping::testing {

inline std::string fixture_path(const std::string& name) {
  return std::string(DR_FIXTURES_DIR) + "/" + name;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

template <class T>
T read_fixture(const std::string& name, model::Parsed<T> (*parse)(std::string_view)) {
  auto parsed = parse(slurp(fixture_path("descriptions/" + name)));
  if (!parsed) FAIL("fixture " << name << " does not read: " << format(parsed.error().front()));
  return *parsed;
}

inline model::FirstDescription app1() {
  return read_fixture("app1.first.json", model::parse_first_description);
}

inline model::MappingPolicy app1_policy() {
  return read_fixture("app1.policy.json", model::parse_mapping_policy);
}

inline model::Inventory site_b() {
  return read_fixture("site-b.inventory.json", model::parse_inventory);
}

inline std::string dump(const model::Problems& problems) {
  std::string out;
  for (const auto& p : problems) out += model::format(p) + "\n";
  return out;
}

// True if `problems` has one at exactly `pointer` whose message contains `fragment`.
inline bool has(const model::Problems& problems, const std::string& pointer,
                const std::string& fragment = "") {
  for (const auto& p : problems) {
    if (p.pointer == pointer && p.message.find(fragment) != std::string::npos) return true;
  }
  return false;
}

// The second description generated from APP1 (with its policy when `with_policy`); the test
// fails if generation does.
inline model::SecondDescription app1_second(bool with_policy) {
  auto second = generate(app1(), with_policy ? app1_policy() : model::MappingPolicy{});
  if (!second) FAIL("APP1 does not generate:\n" << dump(second.error()));
  return *second;
}

// The problems of generating, or none if it succeeded.
inline model::Problems generate_problems(const model::FirstDescription& first,
                                         const model::MappingPolicy& policy = {},
                                         const model::Inventory* inventory = nullptr) {
  auto second = generate(first, policy, inventory);
  return second ? model::Problems{} : second.error();
}

}  // namespace dr::mapping::testing
