#include "mapping/document_order.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <string_view>

namespace dr::mapping {
namespace {

// Member names in an order that agrees with every drpair/v1 document as its schema
// (schemas/*.schema.json) and docs/contracts.md, "The drpair/v1 documents", list them
// (second description: app, networks, vms, replication; a VM: id, source, name, spec, bootOrder,
// disks, nics; a policy: site, defaultSwitch, networks, pools, ip, spec, replication). Names not
// listed sort after these, by spelling. "policy" comes first: generate() reports the problems of
// its policy before the problems they cause.
// clang-format off
constexpr std::string_view kMemberOrder[] = {
    "policy", "apiVersion", "kind", "app", "id", "mac", "source", "target", "name", "sourceSite",
    "site", "generation", "sourceGeneration", "capturedAt", "defaultSwitch", "switch",
    "portgroup", "vlan", "subnets", "cidr", "gateway", "networks", "network", "pools", "ip",
    "spec", "vcpus", "memoryMiB", "bootOrder", "disks", "pool", "image", "sizeGiB", "nics", "vms",
    "replication", "mode", "intervalMinutes"};
// clang-format on

struct Token {
  bool is_index = false;
  std::size_t index = 0;  // the array index, or the member's rank in kMemberOrder
  std::string_view text;

  static Token of(std::string_view text) {
    Token t;
    t.text = text;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), t.index);
    if (!text.empty() && ec == std::errc{} && end == text.data() + text.size()) {
      t.is_index = true;
      return t;
    }
    const auto* it = std::find(std::begin(kMemberOrder), std::end(kMemberOrder), text);
    t.index = static_cast<std::size_t>(it - std::begin(kMemberOrder));
    return t;
  }

  bool operator<(const Token& other) const {
    if (is_index != other.is_index) return is_index;  // never both at one level; any order works
    if (index != other.index) return index < other.index;
    return !is_index && text < other.text;
  }
};

// The next reference token of `pointer` (which starts with '/'), consuming it.
std::string_view next_token(std::string_view& pointer) {
  pointer.remove_prefix(1);
  const std::size_t slash = pointer.find('/');
  const std::string_view token = pointer.substr(0, slash);
  pointer.remove_prefix(slash == std::string_view::npos ? pointer.size() : slash);
  return token;
}

bool before(std::string_view a, std::string_view b) {
  while (!a.empty() && !b.empty()) {
    const Token ta = Token::of(next_token(a));
    const Token tb = Token::of(next_token(b));
    if (ta < tb) return true;
    if (tb < ta) return false;
  }
  return a.empty() && !b.empty();
}

}  // namespace

void sort_in_document_order(model::Problems& problems) {
  std::stable_sort(problems.begin(), problems.end(),
                   [](const model::Problem& a, const model::Problem& b) {
                     return before(a.pointer, b.pointer);
                   });
}

}  // namespace dr::mapping
