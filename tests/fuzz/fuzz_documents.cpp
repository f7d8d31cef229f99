// libFuzzer target over the drpair/v1 readers, the writers and the mapping engine.
// Besides "no crash, no sanitizer report", it checks three properties on every input that reads:
//   - writing a document and reading it back gives the same value (canonical round trip);
//   - a generated second description validates against its first without problems;
//   - validate() of any readable second description against APP1 terminates and reports
//     pointers that start with '/' or are empty.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "mapping/mapping.hpp"
#include "model/json_io.hpp"

namespace {

using namespace dr::model;

const FirstDescription& app1() {
  static const FirstDescription doc = [] {
    std::ifstream in(DR_APP1_FIRST);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = parse_first_description(text.str());
    if (!parsed) std::abort();
    return *parsed;
  }();
  return doc;
}

template <class T>
void check_round_trip(const T& doc, Parsed<T> (*parse)(std::string_view)) {
  auto again = parse(to_text(to_json(doc)));
  if (!again || !(*again == doc)) std::abort();
}

void check_pointers(const Problems& problems) {
  for (const auto& p : problems) {
    if (!p.pointer.empty() && p.pointer.front() != '/') std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto first = parse_first_description(text)) {
    check_round_trip(*first, parse_first_description);
    auto second = dr::mapping::generate(*first, MappingPolicy{});
    if (second) {
      check_round_trip(*second, parse_second_description);
      if (!dr::mapping::validate(*first, *second).empty()) std::abort();
    } else {
      check_pointers(second.error());
    }
    (void)dr::mapping::diff(app1(), *first);
  } else {
    check_pointers(first.error());
  }
  if (auto second = parse_second_description(text)) {
    check_round_trip(*second, parse_second_description);
    check_pointers(dr::mapping::validate(app1(), *second));
  }
  if (auto policy = parse_mapping_policy(text)) {
    check_round_trip(*policy, parse_mapping_policy);
    auto second = dr::mapping::generate(app1(), *policy);
    if (second && !dr::mapping::validate(app1(), *second).empty()) std::abort();
  }
  if (auto inventory = parse_inventory(text)) {
    check_round_trip(*inventory, parse_inventory);
    auto second = dr::mapping::generate(app1(), MappingPolicy{}, &*inventory);
    if (!second) check_pointers(second.error());
  }
  return 0;
}
