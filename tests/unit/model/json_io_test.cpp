#include "model/json_io.hpp"

#include <fstream>
#include <limits>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using dr::model::Problem;
using dr::model::Problems;
using json = nlohmann::json;

namespace {

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(DR_FIXTURES_DIR) + "/descriptions/" + name);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json app1() { return json::parse(read_fixture("app1.first.json")); }

// The problems of reading `doc` as a first description (empty if it reads).
Problems first_problems(const json& doc) {
  auto r = dr::model::read_first_description(doc);
  return r ? Problems{} : r.error();
}

bool has(const Problems& problems, const std::string& pointer, const std::string& fragment) {
  for (const auto& p : problems) {
    if (p.pointer == pointer && p.message.find(fragment) != std::string::npos) return true;
  }
  return false;
}

std::string dump(const Problems& problems) {
  std::string out;
  for (const auto& p : problems) out += dr::model::format(p) + "\n";
  return out;
}

}  // namespace

TEST_CASE("APP1 reads, and writing it back reads to the same value", "[unit][model]") {
  auto first = dr::model::parse_first_description(read_fixture("app1.first.json"));
  REQUIRE(first);
  CHECK(first->app.id == "app1");
  CHECK(first->vms.size() == 4);
  CHECK(first->vms[0].nics[1].ip == "192.168.20.11");
  CHECK_FALSE(first->vms[0].nics[1].network);
  CHECK(first->networks[0].switch_name == "vswitch0");
  const std::string text = dr::model::to_text(dr::model::to_json(*first));
  auto again = dr::model::parse_first_description(text);
  REQUIRE(again);
  CHECK(*again == *first);
  CHECK(dr::model::to_text(dr::model::to_json(*again)) == text);
}

TEST_CASE("malformed JSON is one problem giving line and column", "[unit][model]") {
  auto r = dr::model::parse_first_description("{\n  \"apiVersion\": \"drpair/v1\",\n  oops\n}");
  REQUIRE_FALSE(r);
  REQUIRE(r.error().size() == 1);
  CHECK(r.error()[0].pointer.empty());
  CHECK_THAT(r.error()[0].message, Catch::Contains("line 3, column 3"));
  CHECK(dr::model::format(r.error()[0]).rfind("(document): malformed JSON", 0) == 0);
}

TEST_CASE("wrong apiVersion and kind are rejected", "[unit][model]") {
  auto doc = app1();
  doc["apiVersion"] = "drpair/v2";
  doc["kind"] = "SecondDescription";
  const auto problems = first_problems(doc);
  INFO(dump(problems));
  CHECK(has(problems, "/apiVersion", "unsupported apiVersion 'drpair/v2'"));
  CHECK(has(problems, "/kind", "expected kind 'FirstDescription'"));
}

TEST_CASE("a document that is not an object is rejected at the root", "[unit][model]") {
  const auto problems = first_problems(json::array());
  CHECK(has(problems, "", "expected an object, found an array"));
}

TEST_CASE("every problem is reported at once, each at its pointer", "[unit][model]") {
  auto doc = app1();
  doc["vms"][3]["nics"][0]["ip"] = "10.0.0.300";
  doc["vms"][1]["nics"][0]["mac"] = "01:00:5e:00:00:01";
  doc["vms"][0]["spec"].erase("vcpus");
  doc["vms"][2]["spec"]["memoryMiB"] = "4096";
  doc["networks"][1]["subnets"][0]["cidr"] = "192.168.20.5/24";
  doc["networks"][2]["vlan"] = 4095;
  doc["vms"][0]["disks"][0]["sizeGiB"] = -1;
  doc["app"]["capturedAt"] = "yesterday";
  const auto problems = first_problems(doc);
  INFO(dump(problems));
  CHECK(problems.size() == 8);
  CHECK(has(problems, "/vms/3/nics/0/ip", "not an IPv4 address: '10.0.0.300'"));
  CHECK(has(problems, "/vms/1/nics/0/mac", "not a unicast MAC address"));
  CHECK(has(problems, "/vms/0/spec", "missing required field 'vcpus'"));
  CHECK(has(problems, "/vms/2/spec/memoryMiB", "expected an integer, found a string"));
  CHECK(has(problems, "/networks/1/subnets/0/cidr", "did you mean 192.168.20.0/24"));
  CHECK(has(problems, "/networks/2/vlan", "between 1 and 4094, found 4095"));
  CHECK(has(problems, "/vms/0/disks/0/sizeGiB", "at least 0, found -1"));
  CHECK(has(problems, "/app/capturedAt", "not an RFC 3339 time"));
}

TEST_CASE("missing required fields are named at their parent", "[unit][model]") {
  auto doc = app1();
  doc.erase("networks");
  doc["app"].erase("generation");
  doc["vms"][0].erase("disks");
  doc["vms"][1]["disks"][0].erase("image");
  const auto problems = first_problems(doc);
  INFO(dump(problems));
  CHECK(has(problems, "", "missing required field 'networks'"));
  CHECK(has(problems, "/app", "missing required field 'generation'"));
  CHECK(has(problems, "/vms/0", "missing required field 'disks'"));
  CHECK(has(problems, "/vms/1/disks/0", "missing required field 'image'"));
}

TEST_CASE("a NIC needs a network or an address", "[unit][model]") {
  auto doc = app1();
  doc["vms"][0]["nics"][1].erase("ip");
  CHECK(has(first_problems(doc), "/vms/0/nics/1", "needs its 'network', its 'ip', or both"));
}

TEST_CASE("a disk's bus: virtio is the default, left out when written; an unknown bus is a problem",
          "[unit][model]") {
  auto doc = app1();
  doc["vms"][0]["disks"][0]["bus"] = "sata";
  doc["vms"][1]["disks"][0]["bus"] = "virtio";
  auto read = dr::model::read_first_description(doc);
  REQUIRE(read);
  CHECK(read->vms[0].disks[0].bus == "sata");
  CHECK_FALSE(read->vms[1].disks[0].bus);
  const auto written = dr::model::to_json(*read);
  CHECK(written["vms"][0]["disks"][0]["bus"] == "sata");
  CHECK_FALSE(written["vms"][1]["disks"][0].contains("bus"));
  doc["vms"][0]["disks"][0]["bus"] = "fdc";
  CHECK(has(first_problems(doc), "/vms/0/disks/0/bus",
            "not a disk bus drpair carries (virtio, scsi, sata, ide, usb, xen, sd): 'fdc'"));
}

TEST_CASE("a NIC's model: virtio is the default, left out when written; a bad name is a problem",
          "[unit][model]") {
  auto doc = app1();
  doc["vms"][0]["nics"][0]["model"] = "e1000e";
  doc["vms"][0]["nics"][1]["model"] = "virtio";
  auto read = dr::model::read_first_description(doc);
  REQUIRE(read);
  CHECK(read->vms[0].nics[0].model == "e1000e");
  CHECK_FALSE(read->vms[0].nics[1].model);
  const auto written = dr::model::to_json(*read);
  CHECK(written["vms"][0]["nics"][0]["model"] == "e1000e");
  CHECK_FALSE(written["vms"][0]["nics"][1].contains("model"));
  doc["vms"][0]["nics"][0]["model"] = "e1000 with spaces";
  CHECK(has(first_problems(doc), "/vms/0/nics/0/model",
            "not a NIC model name (letters, digits, '_', '.', '-'; e.g. virtio, e1000e): "
            "'e1000 with spaces'"));
}

TEST_CASE("empty strings and an app without VMs are rejected", "[unit][model]") {
  auto doc = app1();
  doc["app"]["id"] = "";
  doc["vms"] = json::array();
  const auto problems = first_problems(doc);
  CHECK(has(problems, "/app/id", "must not be empty"));
  CHECK(has(problems, "/vms", "at least one VM"));
}

TEST_CASE("integers may be written as whole floats, as JSON Schema allows", "[unit][model]") {
  auto doc = app1();
  doc["vms"][0]["spec"]["vcpus"] = 2.0;
  CHECK(first_problems(doc).empty());
  doc["vms"][0]["spec"]["vcpus"] = 2.5;
  CHECK(has(first_problems(doc), "/vms/0/spec/vcpus", "expected an integer, found a number"));
}

TEST_CASE("unknown fields are kept out of wire documents but tolerated", "[unit][model]") {
  auto doc = app1();
  doc["vms"][0]["futureField"] = {{"x", 1}};
  CHECK(first_problems(doc).empty());
}

TEST_CASE("pointer tokens are escaped as RFC 6901 says", "[unit][model]") {
  auto doc = app1();
  doc["vms"][0]["nics"][0]["mac"] = 5;
  CHECK(has(first_problems(doc), "/vms/0/nics/0/mac", "expected a string, found an integer"));
  CHECK(dr::model::pointer_append("/a", "b/c~d") == "/a/b~1c~0d");
}

TEST_CASE("the mapping policy rejects unknown keys at every level", "[unit][model]") {
  auto policy = json::parse(read_fixture("app1.policy.json"));
  REQUIRE(dr::model::read_mapping_policy(policy));
  policy["defaultSwich"] = "x";
  policy["networks"][0]["vlna"] = 5;
  policy["spec"]["cpuPercent"] = 5;
  policy["ip"] = "rewrite";
  auto r = dr::model::read_mapping_policy(policy);
  REQUIRE_FALSE(r);
  INFO(dump(r.error()));
  CHECK(has(r.error(), "/defaultSwich", "unknown key 'defaultSwich'"));
  CHECK(has(r.error(), "/networks/0/vlna", "unknown key 'vlna'"));
  CHECK(has(r.error(), "/spec/cpuPercent", "unknown key"));
  CHECK(has(r.error(), "/ip", "must be 'keep' or 'translate', found 'rewrite'"));
}

TEST_CASE("a mapping policy may not rename a pool: RBD mirroring keeps pool names",
          "[unit][model]") {
  auto policy = json::parse(read_fixture("app1.policy.json"));
  policy["pools"] = {{{"source", "rbd"}, {"target", "rbd"}}};
  REQUIRE(dr::model::read_mapping_policy(policy));  // naming the same pool is harmless
  policy["pools"].push_back({{"source", "ssd"}, {"target", "ssd-dr"}});
  auto r = dr::model::read_mapping_policy(policy);
  REQUIRE_FALSE(r);
  CHECK(has(r.error(), "/pools/1/target",
            "RBD mirroring keeps pool names: images of pool 'ssd' replicate to pool 'ssd' at the "
            "DR site, never to 'ssd-dr'; remove this rule"));
}

TEST_CASE("a policy of only its header reads with every default", "[unit][model]") {
  auto r = dr::model::parse_mapping_policy(R"({"apiVersion":"drpair/v1","kind":"MappingPolicy"})");
  REQUIRE(r);
  CHECK(r->ip == dr::model::IpPolicy::keep);
  CHECK(r->spec.memory_percent == 100);
  CHECK(r->replication.interval_minutes == 1);
  CHECK(r->replication.mode == dr::model::ReplicationMode::snapshot);
}

TEST_CASE("second descriptions require a network on every NIC and a full pair", "[unit][model]") {
  const json doc = {
      {"apiVersion", "drpair/v1"},
      {"kind", "SecondDescription"},
      {"app", {{"id", "a"}, {"name", "A"}, {"sourceSite", "s"}, {"site", "t"},
               {"sourceGeneration", 1}}},
      {"networks", json::array()},
      {"vms", {{{"id", "v"}, {"source", "v"}, {"name", "vm"},
                {"spec", {{"vcpus", 1}, {"memoryMiB", 64}}},
                {"disks", json::array()},
                {"nics", {{{"mac", "52:54:00:00:00:01"}, {"ip", "10.0.0.1"}}}}}}},
      {"replication", {{{"source", {{"pool", "rbd"}, {"image", "x"}}},
                        {"target", {{"pool", "rbd"}}},
                        {"mode", "mirror"},
                        {"intervalMinutes", 0}}}}};
  auto r = dr::model::read_second_description(doc);
  REQUIRE_FALSE(r);
  INFO(dump(r.error()));
  CHECK(has(r.error(), "/vms/0/nics/0", "missing required field 'network'"));
  CHECK(has(r.error(), "/replication/0/target", "missing required field 'image'"));
  CHECK(has(r.error(), "/replication/0/mode", "must be 'snapshot' or 'journal'"));
  CHECK(has(r.error(), "/replication/0/intervalMinutes", "between 1 and 10080"));
}

TEST_CASE("an inventory reads and round-trips", "[unit][model]") {
  const json doc = {
      {"apiVersion", "drpair/v1"}, {"kind", "Inventory"}, {"site", "site-b"},
      {"switches", {{{"name", "dr-vswitch0"},
                     {"portgroups", {{{"name", "pg1"}, {"vlan", 5}}}}}}},
      {"domains", {{{"name", "other"}, {"id", "u1"}, {"app", "app9"}}}},
      {"pools", {{{"name", "rbd"}, {"freeGiB", 100}}}},
      {"hosts", {{{"name", "h1"}, {"cpus", 8}, {"memoryMiB", 16384}, {"freeMemoryMiB", 8000}}}}};
  auto inv = dr::model::read_inventory(doc);
  REQUIRE(inv);
  CHECK(inv->switches[0].portgroups[0].vlan == 5);
  CHECK(inv->cpu_allocation_ratio == 4.0);
  auto again = dr::model::read_inventory(dr::model::to_json(*inv));
  REQUIRE(again);
  CHECK(*again == *inv);
  auto bad = doc;
  bad["cpuAllocationRatio"] = 0;
  bad["hosts"][0]["cpus"] = 0;
  auto r = dr::model::read_inventory(bad);
  REQUIRE_FALSE(r);
  CHECK(has(r.error(), "/cpuAllocationRatio", "greater than 0"));
  CHECK(has(r.error(), "/hosts/0/cpus", "at least 1"));
}

TEST_CASE("document_kind tells drpair documents apart", "[unit][model]") {
  CHECK(dr::model::document_kind(app1()) == "FirstDescription");
  CHECK(dr::model::document_kind(json{{"kind", "FirstDescription"}}).empty());
  CHECK(dr::model::document_kind(json::array()).empty());
}

TEST_CASE("integers beyond every field's range are rejected, not clamped", "[unit][model]") {
  auto doc = app1();
  doc["vms"][0]["spec"]["memoryMiB"] = std::numeric_limits<std::uint64_t>::max();
  doc["app"]["generation"] = std::numeric_limits<std::int64_t>::max();
  const auto problems = first_problems(doc);
  INFO(dump(problems));
  CHECK(has(problems, "/vms/0/spec/memoryMiB", "at least 1"));
  CHECK(has(problems, "/app/generation", "at least 0"));
}

TEST_CASE("a number too large for a double is a problem, not an exception", "[unit][model]") {
  auto r = dr::model::parse_first_description(R"({"apiVersion": "drpair/v1", "vms": 1e400})");
  REQUIRE_FALSE(r);
  REQUIRE(r.error().size() == 1);
  CHECK(r.error()[0].pointer.empty());
  CHECK_THAT(r.error()[0].message, Catch::Contains("1e400"));
}
