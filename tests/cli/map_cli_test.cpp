// `drpair map ...` as an operator runs it: the real binary, its exit codes, its streams.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/process.hpp"

using dr::testing::run_process;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kDescriptions = std::string(DR_FIXTURES_DIR) + "/descriptions/";
const std::string kGolden = std::string(DR_FIXTURES_DIR) + "/golden/";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A scratch folder per test case, removed after.
struct Scratch {
  fs::path dir;
  Scratch() : dir(fs::temp_directory_path() / ("drpair-cli-" + std::to_string(::getpid()))) {
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  }
  std::string write_json(const std::string& name, const json& doc) const {
    return write(name, doc.dump(2));
  }
};

dr::testing::ProcessResult drpair(std::vector<std::string> args, const std::string& input = {}) {
  args.insert(args.begin(), DRPAIR_BIN);
  return run_process(args, input);
}

json app1() { return json::parse(slurp(kDescriptions + "app1.first.json")); }

}  // namespace

TEST_CASE("map generate prints APP1's golden second description", "[unit][cli]") {
  const auto r = drpair({"map", "generate", "--first", kDescriptions + "app1.first.json"});
  CHECK(r.err.empty());
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == slurp(kGolden + "app1.second.json"));
}

TEST_CASE("map generate with a policy prints the golden policy mapping", "[unit][cli]") {
  const auto r = drpair({"map", "generate", "--first", kDescriptions + "app1.first.json",
                         "--policy", kDescriptions + "app1.policy.json"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == slurp(kGolden + "app1.second.policy.json"));
}

TEST_CASE("map generate reads stdin and writes -o atomically", "[unit][cli]") {
  Scratch scratch;
  const std::string out = (scratch.dir / "second.json").string();
  const auto r = drpair({"map", "generate", "--first", "-", "-o", out},
                        slurp(kDescriptions + "app1.first.json"));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.empty());
  CHECK(slurp(out) == slurp(kGolden + "app1.second.json"));
  CHECK_FALSE(fs::exists(out + ".tmp"));
}

TEST_CASE("map generate exits 1 naming the NIC whose address fits no network", "[unit][cli]") {
  Scratch scratch;
  auto doc = app1();
  doc["vms"][1]["nics"][1]["ip"] = "172.16.0.9";
  const auto r = drpair({"map", "generate", "--first", scratch.write_json("first.json", doc)});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK_THAT(r.err, Catch::StartsWith("/vms/1/nics/1/ip: "));
}

TEST_CASE("map generate exits 2 for unreadable, malformed or invalid input", "[unit][cli]") {
  Scratch scratch;
  SECTION("missing file") {
    const auto r = drpair({"map", "generate", "--first", "/nonexistent/first.json"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("cannot read '/nonexistent/first.json'"));
  }
  SECTION("malformed JSON gives line and column") {
    const auto r = drpair({"map", "generate", "--first", scratch.write("f.json", "{\n\"a\": }")});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("line 2, column 6"));
  }
  SECTION("a schema problem names its pointer") {
    auto doc = app1();
    doc["vms"][0]["nics"][0]["mac"] = "zz";
    const auto path = scratch.write_json("f.json", doc);
    const auto r = drpair({"map", "generate", "--first", path});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(path + ": /vms/0/nics/0/mac: not a unicast MAC"));
  }
  SECTION("a policy with a typo") {
    const auto r = drpair({"map", "generate", "--first", kDescriptions + "app1.first.json",
                           "--policy",
                           scratch.write_json("p.json", json{{"apiVersion", "drpair/v1"},
                                                        {"kind", "MappingPolicy"},
                                                        {"defaultSwich", "x"}})});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("/defaultSwich: unknown key"));
  }
  SECTION("usage errors") {
    CHECK(drpair({"map", "generate"}).exit_code == 2);
    CHECK(drpair({"map"}).exit_code == 2);
    CHECK(drpair({}).exit_code == 2);
    CHECK(drpair({"map", "generate", "--first", "x", "--bogus"}).exit_code == 2);
  }
}

TEST_CASE("map generate is deterministic", "[unit][cli]") {
  const std::vector<std::string> args = {"map", "generate", "--first",
                                         kDescriptions + "app1.first.json", "--policy",
                                         kDescriptions + "app1.policy.json"};
  const auto a = drpair(args);
  const auto b = drpair(args);
  REQUIRE(a.exit_code == 0);
  CHECK(a.out == b.out);
}

TEST_CASE("map validate accepts the golden mapping and reports corruption", "[unit][cli]") {
  Scratch scratch;
  const std::string first = kDescriptions + "app1.first.json";
  SECTION("valid: exit 0, nothing printed") {
    const auto r = drpair({"map", "validate", "--first", first, "--second",
                           kGolden + "app1.second.policy.json"});
    CHECK(r.out.empty());
    CHECK(r.exit_code == 0);
  }
  SECTION("a VM left out and a NIC on an unknown network") {
    auto second = json::parse(slurp(kGolden + "app1.second.json"));
    second["vms"].erase(3);
    second["vms"][0]["nics"][0]["network"] = "nowhere";
    const auto path = scratch.write_json("second.json", second);
    const auto r = drpair({"map", "validate", "--first", first, "--second", path});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains("/vms/0/nics/0/network: "));
    CHECK_THAT(r.out, Catch::Contains("app1-db1"));
    const auto j = drpair({"map", "validate", "--first", first, "--second", path, "--json"});
    CHECK(j.exit_code == 1);
    const auto report = json::parse(j.out);
    CHECK(report["valid"] == false);
    CHECK(report["problems"].size() >= 2);
    CHECK(report["problems"][0].contains("pointer"));
  }
  SECTION("a second description that does not read: exit 2") {
    const auto r = drpair({"map", "validate", "--first", first, "--second",
                           scratch.write("s.json", "[]")});
    CHECK(r.exit_code == 2);
  }
}

TEST_CASE("map diff shows drift and exits 1 only when something changed", "[unit][cli]") {
  Scratch scratch;
  const std::string before = kDescriptions + "app1.first.json";
  CHECK(drpair({"map", "diff", before, before}).exit_code == 0);
  auto doc = app1();
  doc["vms"][0]["spec"]["memoryMiB"] = 4096;
  doc["vms"][3]["disks"].erase(1);
  const auto r = drpair({"map", "diff", before, scratch.write_json("after.json", doc)});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("~ /vms/0 "));
  CHECK_THAT(r.out, Catch::Contains("2048 -> 4096"));
  CHECK_THAT(r.out, Catch::Contains("- /vms/3/disks/1 "));
  SECTION("different kinds cannot be compared") {
    const auto k = drpair({"map", "diff", before, kGolden + "app1.second.json"});
    CHECK(k.exit_code == 2);
  }
}
