// How the mapping engine scales with the size of an application, against a floor: parsing the
// first description's JSON text with nlohmann::json and nothing else. The target (README,
// "The mapping rules") is generate + validate of 10,000 VMs within 3x that floor.
//
// The first descriptions are synthetic_app.hpp's. The policy maps every network (switch, VLAN, a
// translated subnet) and the pool.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "mapping/mapping.hpp"
#include "synthetic_app.hpp"
#include "model/json_io.hpp"

namespace {

using nlohmann::json;

using dr::bench::address;
using dr::bench::kNetworks;

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
      it->second.text = dr::bench::first_description_text(vms);
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
