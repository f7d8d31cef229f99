// How the mapping engine scales with the size of an application, against a floor: parsing the
// first description's JSON text with nlohmann::json and nothing else. The target (README,
// "The mapping rules") is generate + validate of 10,000 VMs within 3x that floor.
//
// Each first description has kNetworks networks (a /16 each), and per VM two disks and two NICs:
// one naming its network, one known only by its address (placed by subnet lookup). The policy
// maps every network (switch, VLAN, a translated subnet) and the pool.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "mapping/mapping.hpp"
#include "model/json_io.hpp"

namespace {

using nlohmann::json;

constexpr int kNetworks = 6;

std::string mac(int vm, int nic) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "52:54:%02x:%02x:%02x:%02x", nic, (vm >> 16) & 0xff,
                (vm >> 8) & 0xff, vm & 0xff);
  return buf;
}

std::string address(int network, int host) {
  return "10." + std::to_string(network) + "." + std::to_string((host >> 8) & 0xff) + "." +
         std::to_string(host & 0xff);
}

std::string first_text(int vms) {
  json doc{{"apiVersion", "drpair/v1"},
           {"kind", "FirstDescription"},
           {"app", {{"id", "big"}, {"name", "BIG"}, {"site", "site-a"}, {"generation", 1}}},
           {"networks", json::array()},
           {"vms", json::array()}};
  for (int n = 0; n < kNetworks; ++n) {
    doc["networks"].push_back({{"id", "net" + std::to_string(n)},
                               {"name", "net" + std::to_string(n)},
                               {"switch", "vswitch0"},
                               {"portgroup", "pg" + std::to_string(n)},
                               {"vlan", 100 + n},
                               {"subnets", json::array({{{"cidr", address(n, 0) + "/16"},
                                                         {"gateway", address(n, 1)}}})}});
  }
  for (int v = 0; v < vms; ++v) {
    const std::string name = "vm" + std::to_string(v);
    const int a = v % kNetworks, b = (v + 1) % kNetworks, host = 2 + v;
    doc["vms"].push_back(
        {{"id", "00000000-0000-4000-8000-" + std::to_string(100000000000 + v)},
         {"name", name},
         {"spec", {{"vcpus", 2}, {"memoryMiB", 2048}}},
         {"bootOrder", 1 + v % 3},
         {"disks",
          json::array(
              {{{"target", "vda"}, {"pool", "rbd"}, {"image", name + "-root"}, {"sizeGiB", 10}},
               {{"target", "vdb"}, {"pool", "rbd"}, {"image", name + "-data"}, {"sizeGiB", 50}}})},
         {"nics", json::array({{{"mac", mac(v, 0)},
                                {"network", "net" + std::to_string(a)},
                                {"ip", address(a, host)}},
                               {{"mac", mac(v, 1)}, {"ip", address(b, host)}}})}});
  }
  return doc.dump();
}

dr::model::MappingPolicy big_policy() {
  dr::model::MappingPolicy p;
  p.site = "site-b";
  p.default_switch = "dr-vswitch0";
  p.ip = dr::model::IpPolicy::translate;
  p.pools.push_back({"rbd", "rbd-dr"});
  for (int n = 0; n < kNetworks; ++n) {
    p.networks.push_back({"net" + std::to_string(n),
                          std::nullopt,
                          1100 + n,
                          std::nullopt,
                          {{address(n, 0) + "/16", address(100 + n, 0) + "/16", std::nullopt}}});
  }
  return p;
}

// The inputs of one size, built once per size and reused by every benchmark of that size.
struct Inputs {
  std::string text;
  dr::model::FirstDescription first;
  dr::model::MappingPolicy policy;
  dr::model::SecondDescription second;

  static const Inputs& of(int vms) {
    static std::map<int, Inputs> cache;
    auto [it, inserted] = cache.try_emplace(vms);
    if (inserted) {
      it->second.text = first_text(vms);
      it->second.first = *dr::model::parse_first_description(it->second.text);
      it->second.policy = big_policy();
      auto second = dr::mapping::generate(it->second.first, it->second.policy);
      if (!second) {
        std::fprintf(stderr, "%s\n", dr::model::format(second.error().front()).c_str());
        std::abort();
      }
      it->second.second = *second;
    }
    return it->second;
  }
};

void bare_parse(benchmark::State& state) {
  const auto& in = Inputs::of(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(json::parse(in.text));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.text.size()));
}

void generate(benchmark::State& state) {
  const auto& in = Inputs::of(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(dr::mapping::generate(in.first, in.policy));
}

void validate(benchmark::State& state) {
  const auto& in = Inputs::of(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    const auto problems = dr::mapping::validate(in.first, in.second);
    if (!problems.empty()) state.SkipWithError("the generated description does not validate");
    benchmark::DoNotOptimize(problems);
  }
}

void generate_validate(benchmark::State& state) {
  const auto& in = Inputs::of(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto second = dr::mapping::generate(in.first, in.policy);
    benchmark::DoNotOptimize(dr::mapping::validate(in.first, *second));
  }
}

void parse_read_generate_validate(benchmark::State& state) {
  const auto& in = Inputs::of(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    const auto doc = json::parse(in.text);
    const auto first = dr::model::read_first_description(doc);
    auto second = dr::mapping::generate(*first, in.policy);
    benchmark::DoNotOptimize(dr::mapping::validate(*first, *second));
  }
}

#define DR_SIZES ->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)
BENCHMARK(bare_parse) DR_SIZES;
BENCHMARK(generate) DR_SIZES;
BENCHMARK(validate) DR_SIZES;
BENCHMARK(generate_validate) DR_SIZES;
BENCHMARK(parse_read_generate_validate) DR_SIZES;

}  // namespace

BENCHMARK_MAIN();
