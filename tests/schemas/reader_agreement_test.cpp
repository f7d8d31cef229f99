// The C++ readers and the JSON Schemas must give the same verdict on every document. This test
// reads each schemas/examples/{valid,invalid}/<document>.<case>.json with the reader the file
// name's prefix selects; check_examples.py runs the same files through the schemas. Rules a
// schema cannot express (host bits in a CIDR, integers written 1e15 or larger as floats, ...) are
// tested in tests/unit/model, not here, because no example of them can satisfy both sides.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "model/json_io.hpp"

namespace {

namespace fs = std::filesystem;
using dr::model::Problems;

struct Verdict {
  enum { accepted, rejected, no_reader, threw } outcome;
  Problems problems;
  std::string exception;
};

template <class T>
Verdict verdict_of(const dr::model::Parsed<T>& parsed) {
  return parsed ? Verdict{Verdict::accepted, {}, {}}
                : Verdict{Verdict::rejected, parsed.error(), {}};
}

// The reader for a file named "<document>.<case>.json". Readers promise never to throw; one that
// does is reported for its file rather than ending the whole run.
Verdict read_example(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const std::string name = file.filename().string();
  const std::string_view prefix = std::string_view(name).substr(0, name.find('.'));
  try {
    if (prefix == "first_description") return verdict_of(dr::model::parse_first_description(text));
    if (prefix == "second_description")
      return verdict_of(dr::model::parse_second_description(text));
    if (prefix == "mapping_policy") return verdict_of(dr::model::parse_mapping_policy(text));
    if (prefix == "inventory") return verdict_of(dr::model::parse_inventory(text));
  } catch (const std::exception& e) {
    return Verdict{Verdict::threw, {}, e.what()};
  }
  return Verdict{Verdict::no_reader, {}, {}};
}

std::vector<fs::path> examples(const char* folder) {
  std::vector<fs::path> files;
  const fs::path dir = fs::path(DR_SOURCE_DIR) / "schemas" / "examples" / folder;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string describe(const Problems& problems) {
  std::ostringstream out;
  for (const auto& problem : problems) out << "\n  " << dr::model::format(problem);
  return out.str();
}

// How the reader's verdict on `file` differs from the schema's, or "" when they agree.
std::string disagreement(const fs::path& file, bool schema_accepts) {
  const Verdict verdict = read_example(file);
  switch (verdict.outcome) {
    case Verdict::accepted:
      return schema_accepts ? "" : "the schema rejects it, the reader accepts it";
    case Verdict::rejected:
      if (schema_accepts) {
        return "the schema accepts it, the reader rejects it:" + describe(verdict.problems);
      }
      return verdict.problems.empty() ? "the reader rejects it without naming a problem" : "";
    case Verdict::no_reader:
      return "no reader for this file name's prefix";
    case Verdict::threw:
      return "the reader threw: " + verdict.exception;
  }
  return "unknown verdict";
}

void check_folder(const char* folder, bool schema_accepts) {
  const auto files = examples(folder);
  REQUIRE_FALSE(files.empty());
  for (const auto& file : files) {
    if (const std::string why = disagreement(file, schema_accepts); !why.empty()) {
      FAIL_CHECK(folder << "/" << file.filename().string() << ": " << why);
    }
  }
}

}  // namespace

TEST_CASE("the readers accept every example in schemas/examples/valid", "[unit][schemas]") {
  check_folder("valid", true);
}

TEST_CASE("the readers reject every example in schemas/examples/invalid", "[unit][schemas]") {
  check_folder("invalid", false);
}

// ---- What the schemas cannot express ----------------------------------------------------------
// Each case below is a document that check_examples.py's validator accepts (so it cannot be a
// shared invalid example) and that the reader must still reject, at the right pointer.

namespace {

std::string small_example(const char* document) {
  std::ifstream in(fs::path(DR_SOURCE_DIR) / "schemas" / "examples" / "valid" /
                   (std::string(document) + ".small.json"));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `text` with its one occurrence of `from` replaced by `to`.
std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(text.find(from, at + 1) == std::string::npos);
  return text.replace(at, from.size(), to);
}

// The pointers of the problems, for comparison with the expected one.
template <class T>
std::vector<std::string> pointers(const dr::model::Parsed<T>& parsed) {
  std::vector<std::string> out;
  if (!parsed) {
    for (const auto& problem : parsed.error()) out.push_back(problem.pointer);
  }
  return out;
}

using Pointers = std::vector<std::string>;

}  // namespace

TEST_CASE("readers reject a subnet with host bits set, which the schemas' pattern allows",
          "[unit][schemas]") {
  const auto first = dr::model::parse_first_description(
      replaced(small_example("first_description"), "192.168.40.0/24", "192.168.40.5/24"));
  CHECK(pointers(first) == Pointers{"/networks/0/subnets/0/cidr"});

  const auto policy = dr::model::parse_mapping_policy(
      replaced(small_example("mapping_policy"), "10.10.40.0/24", "10.10.40.1/24"));
  CHECK(pointers(policy) == Pointers{"/networks/0/subnets/0/cidr"});
}

TEST_CASE("readers reject integers written as floats from 1e15 up, which the schemas allow",
          "[unit][schemas]") {
  // JSON Schema counts 1e15 as an integer; the reader takes floats only below 1e15, where a double
  // still holds every integer exactly.
  const auto parsed = dr::model::parse_first_description(
      replaced(small_example("first_description"), "\"memoryMiB\": 1024", "\"memoryMiB\": 1e15"));
  CHECK(pointers(parsed) == Pointers{"/vms/0/spec/memoryMiB"});
}

TEST_CASE(
    "readers reject a trailing newline that Python's regex dialect lets the schemas' "
    "patterns accept",
    "[unit][schemas]") {
  // In Python's re, "$" also matches before a final "\n"; JSON Schema's ECMA-262 "$" does not.
  const auto parsed = dr::model::parse_first_description(
      replaced(small_example("first_description"), "\"ip\": \"192.168.40.11\"",
               "\"ip\": \"192.168.40.11\\n\""));
  CHECK(pointers(parsed) == Pointers{"/vms/0/nics/0/ip"});
}

TEST_CASE(
    "readers reject a number too large for a double without throwing, where the schemas "
    "see infinity",
    "[unit][schemas]") {
  // Python's json reads 1e400 as inf, a number greater than 0; nlohmann::json throws out_of_range
  // (not parse_error) for it. Either way the document is not one drpair can use.
  const std::string text = replaced(small_example("inventory"), "\"cpuAllocationRatio\": 4.0",
                                    "\"cpuAllocationRatio\": 1e400");
  dr::model::Parsed<dr::model::Inventory> parsed = dr::model::Problems{};
  REQUIRE_NOTHROW(parsed = dr::model::parse_inventory(text));
  CHECK_FALSE(parsed.has_value());
}
